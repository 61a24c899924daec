"""The bundle, built once per test session, and an agent installed from it offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"  # the discard port: nothing answers


def offline_env() -> dict[str, str]:
    """This environment with pip unable to reach any index."""
    return {**os.environ, "PIP_NO_INDEX": "1", "PIP_INDEX_URL": UNREACHABLE_INDEX}


@dataclass(frozen=True)
class Installed:
    """An agent installed under `root` with --no-system: its files and what it took."""

    root: Path
    bundle: Path
    output: str
    skeleton: str
    """The config skeleton as the installer wrote it (tests then overwrite the file)."""

    role: str = "agent"

    @property
    def config(self) -> Path:
        """The config file the installer wrote."""
        return self.root / "etc" / "shouwang" / f"{self.role}.yaml"

    @property
    def unit(self) -> Path:
        """The systemd unit the installer wrote."""
        return self.root / "etc" / "systemd" / "system" / f"shouwang-{self.role}.service"

    @property
    def data(self) -> Path:
        """The role's data directory."""
        return self.root / "var" / "lib" / "shouwang" / self.role

    @property
    def binary(self) -> Path:
        """The installed `shouwang-ROLE` of the current release."""
        return (
            self.root / "opt" / "shouwang" / self.role / "current" / "bin" / f"shouwang-{self.role}"
        )


def run_installer(bundle: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python3 install.py --root ROOT --no-system ARGS` from the unpacked bundle, offline."""
    return subprocess.run(
        [sys.executable, str(bundle / "install.py"), "--root", str(root), "--no-system", *args],
        capture_output=True,
        text=True,
        env=offline_env(),
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle (agent and hub) built by scripts/bundle's code once a session, unpacked."""
    out = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    built = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "bundle.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    archive = Path(built.stdout.strip())
    unpacked = tmp_path_factory.mktemp("carried")
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (folder,) = unpacked.iterdir()
    manifest = json.loads((folder / "BUNDLE.json").read_text(encoding="utf-8"))
    sys.stderr.write(
        f"\nbundle {manifest['version']} built in {time.monotonic() - started:.1f} s\n"
    )
    return folder


def install(bundle: Path, root: Path, role: str, *args: str) -> Installed:
    """Install `role` from `bundle` under `root`, offline; fail with pip's output if not."""
    started = time.monotonic()
    result = run_installer(bundle, root, "--role", role, *args)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    sys.stderr.write(f"{role} installed offline in {elapsed:.1f} s\n")
    skeleton = (root / "etc" / "shouwang" / f"{role}.yaml").read_text(encoding="utf-8")
    return Installed(root, bundle, result.stdout, skeleton, role)


@pytest.fixture(scope="session")
def installed(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The agent installed from the bundle under a temporary root, offline (once a session)."""
    return install(bundle, tmp_path_factory.mktemp("root"), "agent", "--site", "room-07")
