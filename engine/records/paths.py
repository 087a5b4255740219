"""Where the records database lives by default: the user's data directory."""

from __future__ import annotations

import os
from pathlib import Path


def default_db_path() -> Path:
    """$XDG_DATA_HOME/stepsync/stepsync.db, else ~/.local/share/stepsync/stepsync.db."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "stepsync" / "stepsync.db"
