"""The embedded PostgreSQL (pgserver: PostgreSQL 16 + pgvector, no root, no apt), with its data
in a project-local folder so the library and the courses survive between runs."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from coursegen_local.template import PROJECT_ROOT

logging.getLogger("pgserver").setLevel(logging.WARNING)
# pgserver asks platformdirs for a runtime dir it does not need; its fallback warning is noise.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


def data_home() -> Path:
    return Path(os.environ.get("COURSEGEN_HOME", PROJECT_ROOT / ".coursegen"))


def embedded_database_url(data_dir: Path | None = None) -> str:
    """Start (or join) the embedded server and return its connection URL; it stops when the
    last process using it exits."""
    import pgserver

    folder = data_dir or data_home() / "pgdata"
    folder.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(folder, cleanup_mode="stop")
    return server.get_uri()
