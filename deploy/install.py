"""Install Shouwang's agent (or hub) from an offline bundle: `python3 install.py`.

Run by the box's own python3 (3.11 or newer) from the unpacked bundle, as root:

    python3 install.py --role agent --site room-07
    python3 install.py --role hub

It creates a virtual environment for this release and installs `shouwang[ROLE]` into it
from the bundle's wheels only (`pip --no-index`, every file checked against the hashes
of `requirements-ROLE.txt`), points `current` at it, creates the data directory and a
config skeleton (never overwriting an existing config), installs the systemd unit
and, unless `--no-system`, creates the service user and enables the service (restarting
it when it was running: that is an upgrade). Older releases stay for a rollback; the
two newest are kept.

`--root DIR` installs everything under DIR *and writes paths under DIR into the
files* (a venv cannot be moved, so a staging root would be a lie); `--no-system` creates
no user and runs no systemctl. Together they make an install a test can run.

Why Python and not sh: the box needs python3 >= 3.11 anyway, and one language for the
installer and the agent means one set of tests, no shell quoting of paths, and the same
error messages everywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

MIN_PYTHON = (3, 11)
KEEP_RELEASES = 2
PLACEHOLDER = "change-me"
HERE = Path(__file__).resolve().parent


def _say(text: str) -> None:
    sys.stdout.write(f"install: {text}\n")
    sys.stdout.flush()


class InstallError(Exception):
    """Something keeps the install from completing; the message says what."""


class Layout:
    """Where one role's files go under `root`."""

    def __init__(self, root: Path, role: str, version: str) -> None:
        self.root = root
        self.role = role
        self.user = f"shouwang-{role}"
        self.home = root / "opt" / "shouwang" / role
        self.release = self.home / version
        self.current = self.home / "current"
        self.etc = root / "etc" / "shouwang"
        self.config = self.etc / f"{role}.yaml"
        self.env_file = self.etc / f"{role}.env"
        self.data = root / "var" / "lib" / "shouwang" / role
        self.unit = root / "etc" / "systemd" / "system" / f"shouwang-{role}.service"

    def substitutions(self, site: str) -> dict[str, str]:
        """The `{name}` values the unit and config templates use."""
        return {
            "role": self.role,
            "user": self.user,
            "current": str(self.current),
            "config": str(self.config),
            "env_file": str(self.env_file),
            "data": str(self.data),
            "etc": str(self.etc),
            "site": site,
        }


def _render(template: Path, values: dict[str, str]) -> str:
    text = template.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def _pip_env() -> dict[str, str]:
    """The environment pip runs in: no config file, no PIP_* setting from outside (a
    find-links or index of this machine must not complete the bundle), no index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _run(command: list[str], *, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise InstallError(f"{' '.join(command)} failed ({result.returncode}):\n{output}")


def install_release(layout: Layout, bundle: Path) -> bool:
    """Create the release's venv from the bundle unless it is already there; whether new."""
    stamp = layout.release / ".shouwang-release"
    requirements = bundle / f"requirements-{layout.role}.txt"
    if not requirements.is_file():
        raise InstallError(f"this bundle has no {layout.role} role ({requirements.name} missing)")
    wanted = requirements.read_text(encoding="utf-8")
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        _say(f"{layout.release} already installed")
        return False
    # A release without its stamp is a failed attempt: made again from scratch. `current`
    # still names the previous release meanwhile, so a failed upgrade changes nothing.
    shutil.rmtree(layout.release, ignore_errors=True)
    layout.home.mkdir(parents=True, exist_ok=True)
    _say(f"creating the virtual environment {layout.release}")
    _run([sys.executable, "-m", "venv", str(layout.release)])
    python = str(layout.release / "bin" / "python")
    _say(f"installing shouwang[{layout.role}] from {bundle / 'wheels'} (no index)")
    pip = [python, "-m", "pip", "install", "--no-index", "--find-links", str(bundle / "wheels")]
    _run([*pip, "--require-hashes", "--only-binary=:all:", "-r", str(requirements)], env=_pip_env())
    _run([python, "-m", "pip", "check"], env=_pip_env())
    stamp.write_text(wanted, encoding="utf-8")
    return True


def switch_current(layout: Layout) -> None:
    """Point `current` at this release (atomically: a new link renamed over the old)."""
    link = layout.current.with_name("current.new")
    link.unlink(missing_ok=True)
    link.symlink_to(layout.release.name)
    link.replace(layout.current)
    releases = sorted(
        (
            p
            for p in layout.home.iterdir()
            if not p.is_symlink() and (p / ".shouwang-release").is_file()
        ),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in releases[KEEP_RELEASES:]:
        if old != layout.release:
            _say(f"removing the old release {old}")
            shutil.rmtree(old)


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        shutil.chown(path, user, user)


def write_files(layout: Layout, bundle: Path, site: str, service_user: str | None) -> None:
    """The data directory, the config skeleton (if none yet) and the unit."""
    values = layout.substitutions(site)
    layout.data.mkdir(parents=True, exist_ok=True)
    layout.data.chmod(0o750)
    _chown(layout.data, service_user)
    layout.etc.mkdir(parents=True, exist_ok=True)
    if layout.config.exists():
        _say(f"{layout.config} kept as it is")
    else:
        skeleton = _render(bundle / "config" / f"{layout.role}.yaml", values)
        descriptor = os.open(layout.config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(skeleton)
        _chown(layout.config, service_user)
        _say(f"{layout.config} written: replace every {PLACEHOLDER!r} in it")
    layout.unit.parent.mkdir(parents=True, exist_ok=True)
    unit = _render(bundle / "systemd" / f"shouwang-{layout.role}.service", values)
    layout.unit.write_text(unit, encoding="utf-8")
    layout.unit.chmod(0o644)
    _say(f"{layout.unit} written")


def create_user(layout: Layout) -> None:
    """The service's own system user and group, without a login shell."""
    try:
        subprocess.run(["id", "-u", layout.user], capture_output=True, check=True)  # noqa: S603, S607
    except subprocess.CalledProcessError:
        _say(f"creating the system user {layout.user}")
        _run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                str(layout.data),
                "--shell",
                "/usr/sbin/nologin",
                layout.user,
            ]
        )


def enable_service(layout: Layout, *, upgraded: bool) -> None:
    """Reload systemd, enable the service, and restart it if it was running."""
    name = layout.unit.name
    _run(["systemctl", "daemon-reload"])
    _run(["systemctl", "enable", name])
    active = subprocess.run(["systemctl", "is-active", "--quiet", name], check=False)  # noqa: S603, S607
    if active.returncode == 0 and upgraded:
        _say(f"restarting {name} on the new release")
        _run(["systemctl", "restart", name])


def main(argv: list[str] | None = None) -> int:
    """Install the role the arguments name; the exit code."""
    parser = argparse.ArgumentParser(prog="install.py", description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=("agent", "hub"), default="agent")
    parser.add_argument("--site", default=PLACEHOLDER, help="the agent's site id (skeleton)")
    parser.add_argument("--root", type=Path, default=Path("/"), help="install under DIR")
    parser.add_argument("--no-system", action="store_true", help="create no user, run no systemctl")
    args = parser.parse_args(argv)
    if sys.version_info < MIN_PYTHON:
        sys.stderr.write(f"install: Python 3.11 or newer is needed, this is {sys.version}\n")
        return 2
    manifest = json.loads((HERE / "BUNDLE.json").read_text(encoding="utf-8"))
    layout = Layout(args.root.resolve(), args.role, manifest["version"])
    try:
        if not args.no_system:
            create_user(layout)
        upgraded = install_release(layout, HERE)
        switch_current(layout)
        write_files(layout, HERE, args.site, None if args.no_system else layout.user)
        if not args.no_system:
            enable_service(layout, upgraded=upgraded)
    except (InstallError, OSError) as exc:
        sys.stderr.write(f"install: {exc}\n")
        return 1
    binary = layout.current / "bin" / f"shouwang-{args.role}"
    _say(f"shouwang {manifest['version']} ({args.role}) installed in {layout.release}")
    _say(f"next: edit {layout.config}, then {binary} check --config {layout.config}")
    if not args.no_system:
        _say(f"then: systemctl start {layout.unit.name}; journalctl -u {layout.unit.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
