"""Is this file a records database, before anything opens it?

SQLite opening a file that is not a database fails only at the first statement, after the
connection (and our WAL pragmas) have touched it. A clinic's records file that got damaged, or a
`--db` pointing at the wrong file, must not be "repaired" or overwritten: the commands check here
first, read only, and tell the therapist in one line what is wrong and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

# Every SQLite 3 database file starts with these 16 bytes (https://www.sqlite.org/fileformat.html,
# "1.3. The Database Header", offset 0).
SQLITE_HEADER = b"SQLite format 3\x00"


class RecordsFileError(Exception):
    """The records file cannot be used as it is; the message names it and what to do."""


def records_file_problem(path: str | Path) -> str | None:
    """None when `path` is a SQLite database or does not exist yet (an empty file counts as a new
    database, as SQLite treats it); otherwise one line naming the file and what to do.
    Reads at most 16 bytes; never writes."""
    path = Path(path)
    if not path.exists():
        return None
    if path.is_dir():
        return f"{path} is a folder, not a records database; pass --db with a file path"
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"{path}: cannot read the records database ({exc.strerror}); check its permissions"
    if header == b"" and os.path.getsize(path) == 0:
        return None
    if header != SQLITE_HEADER:
        return (f"{path} is not a StepSync records database (no SQLite header); it was left as it is: "
                f"restore it from your backup, or pass --db with another file")
    return None


def check_records_file(path: str | Path) -> None:
    """Raise RecordsFileError (one line) when `path` exists and is not a SQLite database."""
    problem = records_file_problem(path)
    if problem is not None:
        raise RecordsFileError(problem)
