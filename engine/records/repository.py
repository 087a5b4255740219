"""Which engine a --db value names: an SQLite file (the embedded default) or the clinic server.

`open_repository` is how every command opens the records: reports, exports and progress call
the same repository methods on either engine (store.Store, pg_store.PgStore)."""

from __future__ import annotations

from pathlib import Path

from engine.records.store import Store


def is_server_url(target) -> bool:
    """Whether a --db value names a PostgreSQL server rather than an SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_repository(target: str | Path | None = None, **kwargs) -> Store:
    """The records repository for a --db value: an SQLite file path (default: the per-user file)
    or a clinic server URL (postgresql://...; see pg_store.PgStore for the login)."""
    if is_server_url(target):
        from engine.records.pg_store import PgStore

        return PgStore(target, **kwargs)
    return Store(target)
