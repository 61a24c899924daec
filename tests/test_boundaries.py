"""The import boundaries of ARCHITECTURE.md's package table, enforced on the source."""

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# Which of the project's own packages each package may import (ARCHITECTURE.md).
OWN_IMPORTS: dict[str, frozenset[str]] = {
    "wire": frozenset({"wire"}),
    "agent": frozenset({"wire", "agent"}),
    "hub": frozenset({"wire", "hub"}),
    "simulators": frozenset({"wire", "simulators"}),
}
# The extras a box installs to run each package; its third-party imports must come from them.
EXTRAS_OF: dict[str, tuple[str, ...]] = {
    "wire": (),
    "agent": ("agent",),
    "hub": ("hub",),
    "simulators": ("sim", "demo"),
}
NEVER_ON_AN_AGENT_BOX = ("fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "hub")


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _declared(extras: tuple[str, ...]) -> set[str]:
    """Distribution names the base dependencies plus `extras` declare directly."""
    requirements = list(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        requirements += PYPROJECT["project"]["optional-dependencies"][extra]
    return {_normalise(Requirement(r).name) for r in requirements}


def _installed_by(extras: tuple[str, ...]) -> set[str]:
    """Distribution names that installing `extras` brings: the declared ones and their deps."""
    found: set[str] = set()
    todo = list(_declared(extras))
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for line in distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_normalise(requirement.name))
    return found


def _allowed_third_party(extras: tuple[str, ...]) -> set[str]:
    """Import names provided by the distributions that installing `extras` brings."""
    installed = _installed_by(extras)
    return {
        module
        for module, dists in packages_distributions().items()
        if any(_normalise(d) in installed for d in dists)
    }


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) for every absolute import in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


@pytest.mark.parametrize("package", sorted(OWN_IMPORTS))
def test_package_imports_only_what_its_row_allows(package: str) -> None:
    """Each package imports stdlib, its allowed project packages and its own extra only."""
    own_packages = set(OWN_IMPORTS)
    third_party = _allowed_third_party(EXTRAS_OF[package])
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            if module in sys.stdlib_module_names or module == "__future__":
                continue
            if module in own_packages:
                if module not in OWN_IMPORTS[package]:
                    offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            elif module not in third_party:
                offences.append(
                    f"{path.relative_to(ROOT)}:{line} imports {module}, "
                    f"which the extras {EXTRAS_OF[package]} do not install"
                )
    assert offences == []


def test_agent_extra_installs_neither_fastapi_nor_psycopg() -> None:
    """The `agent` extra never pulls FastAPI, Starlette, uvicorn or psycopg onto a box."""
    banned = {"fastapi", "starlette", "uvicorn", "psycopg", "psycopg-binary", "psycopg-pool"}
    assert _installed_by(("agent",)).isdisjoint(banned)


def test_importing_every_agent_module_loads_no_hub_dependency() -> None:
    """Importing all of `agent` (and `wire`) in a fresh interpreter loads no hub-side module."""
    probe = (
        "import importlib, pkgutil, sys\n"
        "import agent, wire\n"
        "for pkg in (agent, wire):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = {name.split(".")[0] for name in result.stdout.split()}
    assert loaded.isdisjoint(NEVER_ON_AN_AGENT_BOX)
    assert {"agent", "wire"} <= loaded


@pytest.mark.parametrize("package", ["agent", "hub", "simulators"])
def test_command_line_prints_help_and_version(package: str) -> None:
    """`python -m <package>` answers --help and --version with the distribution's version."""
    run = [sys.executable, "-m", package]
    helped = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True)
    assert "usage:" in helped.stdout
    versioned = subprocess.run([*run, "--version"], capture_output=True, text=True, check=True)
    assert PYPROJECT["project"]["version"] in versioned.stdout
