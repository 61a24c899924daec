"""The `sia:` section of the agent's config (the SIA DC-09 receiver)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from agent._model import DriverSection

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["SiaConfig"]


class SiaConfig(DriverSection):
    """The SIA DC-09 receiver and the accounts (panels) it serves."""

    DRIVER: ClassVar[str] = "sia"

    def device_refs(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each device id the accounts name."""
        yield from ()
