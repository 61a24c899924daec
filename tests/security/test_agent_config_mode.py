"""The agent warns when its config file (which holds secrets) is open to other users."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from agent.__main__ import main
from tests.agent.test_main import config_file

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("mode", "warned"),
    [(0o600, False), (0o400, False), (0o640, True), (0o644, True), (0o602, True)],
)
def test_a_config_open_to_others_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, warned: bool
) -> None:
    """`check` warns on stderr, naming the file and `chmod 600`, unless only the owner may
    read or write it; the check itself still passes."""
    path = config_file(tmp_path, mqtt={"host": "127.0.0.1", "password": "s3cret-password"})
    path.chmod(mode)
    assert main(["check", "--config-only", "--config", str(path)]) == 0
    err = capsys.readouterr().err
    assert ("warning" in err) is warned
    if warned:
        assert f"chmod 600 {path}" in err
        assert f"{mode:04o}" in err
    assert "s3cret-password" not in err
