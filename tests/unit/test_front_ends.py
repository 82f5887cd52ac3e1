"""Issue 9: the front ends only parse, call one use case and render. None of them
assembles a sign-in or a change from parts, and none sees the database's exceptions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import patronauth

FRONT_ENDS = ("web", "api", "sip2", "cli", "telephone")
ROOT = Path(patronauth.__file__).parent

# The parts of a command that only the use cases put together.
PARTS = {"authenticate", "verify_attempt", "open_session", "after_change", "change_own_secret"}
DATABASE = ("sqlalchemy", "psycopg", "sqlite3")


def test_the_channels_are_all_found() -> None:
    assert {"web", "api", "sip2", "cli"} <= set(FRONT_ENDS)


def _modules() -> list[Path]:
    return sorted(p for name in FRONT_ENDS for p in (ROOT / name).rglob("*.py"))


def _called(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_front_end_calls_whole_commands_only(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not _called(tree) & PARTS
    assert not PARTS & _imported(tree)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_front_end_knows_no_database_exception(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    imported = _imported(ast.parse(source))
    assert not [m for m in imported if m.split(".")[0] in DATABASE]
    assert "no such table" not in source
