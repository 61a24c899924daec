"""Build the offline bundle: `scripts/bundle [--role agent] [--role hub] [--out DIR]`.

The bundle is a directory and its .tar.gz, carried to a box with no network:

    shouwang-VERSION-PLATFORM/
      install.py               the installer (deploy/install.py), run by the box's python3
      BUNDLE.json              version, roles, Python and platform it was built for
      requirements-ROLE.txt    every distribution of the role, pinned, with its sha256
      wheels/                  the project's wheel and every dependency's, binary only
      systemd/                 the unit templates (deploy/systemd/)
      config/                  the config skeletons (deploy/config/)

The project's wheel is built from a copy of the work tree (nothing is written into the
tree). Dependencies come from this machine's package index through `pip download`, as
wheels only (a box cannot compile), for the target platform: by default this machine's;
`--platform manylinux_2_28_aarch64 --python-version 3.12`, say, for another box. Their
versions are the ones installed in the environment running this script, where the
tests ran (a constraints file made from it), so the bundle carries what was tested.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("wire", "agent", "hub", "simulators")
TOP_FILES = ("pyproject.toml", "README.md")
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.+\.whl$")


def _say(text: str) -> None:
    sys.stderr.write(f"bundle: {text}\n")


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own pip
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"bundle: {' '.join(command[3:6])}… failed ({result.returncode})")


def project_version() -> str:
    """The version pyproject.toml declares."""
    import tomllib  # noqa: PLC0415 - only here

    with (REPO / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def build_wheel(wheels: Path) -> Path:
    """The project's wheel, built from a copy of the tree into `wheels`."""
    with tempfile.TemporaryDirectory(prefix="shouwang-src-") as tmp:
        source = Path(tmp)
        for name in TOP_FILES:
            shutil.copy2(REPO / name, source / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for package in PACKAGES:
            shutil.copytree(REPO / package, source / package, ignore=ignore)
        _pip("wheel", "--no-deps", "--wheel-dir", str(wheels), str(source))
    (wheel,) = wheels.glob("shouwang-*.whl")
    return wheel


def constraints(path: Path) -> Path:
    """Pins of every distribution installed here (what the tests ran with)."""
    lines = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "shouwang":
            lines.append(f"{name}=={dist.version}")
    path.write_text("\n".join(sorted(set(lines))) + "\n", encoding="utf-8")
    return path


def download(role: str, wheel: Path, wheels: Path, pins: Path, target: list[str]) -> list[Path]:
    """Download the role's dependencies into `wheels`; the files of the role."""
    with tempfile.TemporaryDirectory(prefix="shouwang-dl-") as tmp:
        _pip(
            "download",
            "--only-binary=:all:",
            "--dest",
            tmp,
            "--constraint",
            str(pins),
            *target,
            f"shouwang[{role}] @ {wheel.as_uri()}",
        )
        found = []
        for file in Path(tmp).iterdir():
            destination = wheels / file.name
            if not destination.exists():
                shutil.move(file, destination)
            found.append(destination)
    return sorted(found)


def requirements(role: str, files: list[Path], version: str) -> str:
    """`name==version --hash=sha256:…` for each file of the role (pip --require-hashes)."""
    lines = [f"# shouwang {version}, role {role}: every distribution, pinned and hashed"]
    for file in files:
        match = _WHEEL.match(file.name)
        if match is None:
            raise SystemExit(f"bundle: {file.name} is not a wheel")
        name = match["name"]
        if name == "shouwang":
            name = f"shouwang[{role}]"
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        lines.append(f"{name}=={match['version']} --hash=sha256:{digest}")
    return "\n".join(lines) + "\n"


def build(out: Path, roles: list[str], target: list[str], platform: str) -> Path:
    """Build the bundle directory and its .tar.gz under `out`; the archive's path."""
    version = project_version()
    root = out / f"shouwang-{version}-{platform}"
    shutil.rmtree(root, ignore_errors=True)
    wheels = root / "wheels"
    wheels.mkdir(parents=True)
    _say(f"building the project's wheel {version}")
    wheel = build_wheel(wheels)
    pins = constraints(out / "constraints.txt")
    for role in roles:
        _say(f"downloading the {role}'s dependencies ({platform})")
        files = download(role, wheel, wheels, pins, target)
        (root / f"requirements-{role}.txt").write_text(requirements(role, files, version))
    deploy = REPO / "deploy"
    shutil.copy2(deploy / "install.py", root / "install.py")
    shutil.copytree(deploy / "systemd", root / "systemd")
    shutil.copytree(deploy / "config", root / "config")
    manifest = {
        "version": version,
        "roles": roles,
        "platform": platform,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "built_with": sys.version.split()[0],
    }
    (root / "BUNDLE.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    archive = root.with_name(root.name + ".tar.gz")
    _say(f"writing {archive}")
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(root, arcname=root.name)
    return archive


def main(argv: list[str] | None = None) -> int:
    """Build the bundle the arguments describe; the exit code."""
    parser = argparse.ArgumentParser(prog="scripts/bundle", description=__doc__.split("\n")[0])
    parser.add_argument("--role", action="append", choices=("agent", "hub"), dest="roles")
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="where (dist/)")
    parser.add_argument("--platform", help="pip's --platform tag of the box (default: this one)")
    parser.add_argument("--python-version", help="the box's Python, e.g. 3.11 (default: this)")
    args = parser.parse_args(argv)
    roles = args.roles or ["agent", "hub"]
    target: list[str] = []
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    python = f"{sys.version_info.major}{sys.version_info.minor}"
    if args.platform:
        target += ["--platform", args.platform]
        platform = args.platform
    if args.python_version:
        target += ["--python-version", args.python_version]
        python = args.python_version.replace(".", "")
    args.out.mkdir(parents=True, exist_ok=True)
    archive = build(args.out.resolve(), roles, target, f"py{python}-{platform}")
    sys.stdout.write(f"{archive}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
