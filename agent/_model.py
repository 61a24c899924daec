"""What every config section shares: the closed, frozen base model, ids, located errors.

Driver packages define their own sections on this base (`agent.drivers.sia.config`,
`agent.drivers.modbus.config`); `agent.config` assembles them, so this module imports
nothing of the agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

import wire

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["DriverSection", "Id", "Section", "located"]


def located(message: str, *at: str | int) -> PydanticCustomError:
    """A validation error whose key is `at` below the field that raised it.

    `load_config` appends `at` to the error's location, so that a repeated device id is
    reported on the line of the repeat, not on the line of `devices:`.
    """
    return PydanticCustomError("config", message, {"at": at})


def _check_id(value: str) -> str:
    if not wire.is_valid_id(value):
        raise ValueError(f"{value!r} is not a valid id (lowercase [a-z0-9][a-z0-9_-]{{0,63}})")
    return value


Id = Annotated[str, AfterValidator(_check_id)]


class Section(BaseModel):
    """Every config section: closed (unknown keys refused) and frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DriverSection(Section):
    """The section of a driver that reads devices listed under `devices` by their ids.

    `AgentConfig` checks that every id a section names is a device of that driver and
    that every device of that driver is named by the section.
    """

    DRIVER: ClassVar[str]

    def device_refs(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each device id the section names, with the key path (below the section) naming it."""
        raise NotImplementedError
