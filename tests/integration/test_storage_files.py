"""The embedded database's files are the service's alone (0600), however permissive
the umask of whoever starts it first."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from patronauth.adapters.storage.engine import make_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "patronauth.db"
    before = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(path.parent.glob("patronauth.db*"))
        assert [f.name for f in files] == [
            "patronauth.db",
            "patronauth.db-shm",
            "patronauth.db-wal",
        ]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        engine.dispose()
    finally:
        os.umask(before)


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "patronauth.db"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert mode(path) == 0o640
