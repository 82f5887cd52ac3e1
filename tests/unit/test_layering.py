"""The package boundaries as allow-lists, read from the source (`make lint` runs this).

import-linter (pyproject.toml) checks the internal packages against each other; what it
cannot say is "the standard library only", and it names the front ends it knows. This
walks every import of every module instead:

- `domain` imports the standard library only;
- `services` the standard library and `domain`;
- every package that is not one of the inner ones below is a front end (cli, web, api,
  sip2 and any channel added later) and imports, of PatronAuth, only `services`,
  `domain`, `bootstrap` and `presentation` (third-party packages are its own business).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import patronauth

ROOT = "patronauth"
STDLIB = frozenset(sys.stdlib_module_names)

# Of PatronAuth, what each inner package may import besides itself.
INNER: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "services": frozenset({"domain"}),
    "presentation": frozenset({"domain", "services"}),
    "adapters": frozenset({"domain", "services", "presentation"}),
    "bootstrap": frozenset({"domain", "services", "presentation", "adapters"}),
}
# Inner packages that may import nothing but the standard library (and what INNER allows).
STDLIB_ONLY = frozenset({"domain", "services"})
FRONT_END_MAY_IMPORT = frozenset({"services", "domain", "bootstrap", "presentation"})
# The ASGI entry point mounts the HTTP front ends on one application.
MOUNTS: dict[str, frozenset[str]] = {
    "asgi": frozenset({"web", "api", "telephone", "signon", "console"})
}


def _module_name(package_dir: Path, path: Path) -> str:
    parts = [ROOT, *path.relative_to(package_dir).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module an import statement names (absolute), with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            if target == ROOT:
                # `from patronauth import web` imports the package `patronauth.web`;
                # `from patronauth import __version__` only the root's own attribute.
                found.extend(
                    (
                        node.lineno,
                        f"{ROOT}.{alias.name}" if not alias.name.startswith("_") else ROOT,
                    )
                    for alias in node.names
                )
            else:
                found.append((node.lineno, target))
    return found


def violations(package_dir: Path) -> list[str]:
    """The imports that break the allow-lists, as `module:line imports target (rule)`."""
    broken: list[str] = []
    for path in sorted(package_dir.rglob("*.py")):
        module = _module_name(package_dir, path)
        parts = module.split(".")
        area = parts[1] if len(parts) > 1 else ""
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in _imported(tree, module, path.name == "__init__.py"):
            top = target.split(".")[0]
            if top != ROOT:
                if area in STDLIB_ONLY and top not in STDLIB:
                    broken.append(f"{module}:{line} imports {target} (standard library only)")
                continue
            target_parts = target.split(".")
            if len(target_parts) < 2:
                continue
            wanted = target_parts[1]
            if area in ("", wanted):
                continue
            if area in INNER:
                allowed = INNER[area]
                rule = f"{area} may import only {', '.join(sorted(allowed)) or 'itself'}"
            else:
                allowed = FRONT_END_MAY_IMPORT | MOUNTS.get(area, frozenset())
                rule = f"a front end may import only {', '.join(sorted(allowed))}"
            if wanted not in allowed:
                broken.append(f"{module}:{line} imports {target} ({rule})")
    return broken


def _package_dir() -> Path:
    return Path(patronauth.__file__).parent


def test_every_module_keeps_to_its_allow_list() -> None:
    assert violations(_package_dir()) == []


def test_the_walk_sees_every_layer() -> None:
    areas = {p.name for p in _package_dir().iterdir() if (p / "__init__.py").exists()}
    assert {"domain", "services", "presentation", "adapters", "web", "api", "sip2"} <= areas


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / ROOT
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def test_a_service_importing_sqlalchemy_is_refused(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "services/__init__.py": "",
            "services/lookup.py": "from __future__ import annotations\n"
            "import dataclasses\nimport sqlalchemy\nfrom patronauth.domain import errors\n",
        },
    )
    assert violations(package) == [
        "patronauth.services.lookup:3 imports sqlalchemy (standard library only)"
    ]


def test_the_domain_may_not_import_the_services(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "domain/__init__.py": "",
            "domain/patrons.py": "def f():\n    from ..services import lookup\n",
        },
    )
    assert violations(package) == [
        "patronauth.domain.patrons:2 imports patronauth.services (domain may import only itself)"
    ]


def test_a_new_channel_is_a_front_end(tmp_path: Path) -> None:
    """A package nobody listed (a telephone line, say) gets the front ends' allow-list."""
    package = _tree(
        tmp_path,
        {
            "telephone/__init__.py": "",
            "telephone/line.py": "import twilio\n"
            "from patronauth.services import signin\n"
            "from patronauth.presentation import i18n\n"
            "from patronauth.adapters.hashing import Argon2Hasher\n"
            "from patronauth import web\n"
            "from . import menu\n",
        },
    )
    front = "a front end may import only bootstrap, domain, presentation, services"
    assert violations(package) == [
        f"patronauth.telephone.line:4 imports patronauth.adapters.hashing ({front})",
        f"patronauth.telephone.line:5 imports patronauth.web ({front})",
    ]


def test_asgi_mounts_web_api_telephone_sign_on_and_the_console_only(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "asgi.py": "from patronauth.web import create_web\n"
            "from patronauth.api import create_api\n"
            "from patronauth.telephone.app import create_telephone\n"
            "from patronauth.sip2 import server\n",
        },
    )
    assert violations(package) == [
        "patronauth.asgi:4 imports patronauth.sip2 (a front end may import only api, "
        "bootstrap, console, domain, presentation, services, signon, telephone, web)"
    ]
