"""What every payload struct shares: closed, frozen, keyword-built, versioned."""

from typing import Annotated, Any, Final, Literal

import msgspec

__all__ = ["VERSION", "JsonObject", "JsonScalar", "ShortText", "Text", "Version", "WireStruct"]

VERSION: Final = 1
"""The contract version every payload carries in `v`."""

Version = Literal[1]

JsonScalar = str | int | float | bool | None

JsonObject = dict[str, Any]
"""An open JSON object (`data`, `state`): the one place the contract is not closed."""

ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
"""A name-like string: a version, a hub instance, who acknowledged an alert."""

Text = Annotated[str, msgspec.Meta(max_length=1024)]
"""A human-readable reason or detail."""


class WireStruct(
    msgspec.Struct,
    frozen=True,
    forbid_unknown_fields=True,
    kw_only=True,
):
    """Base of every payload and of the objects inside one: closed and immutable.

    Unknown fields are refused when decoding; instances cannot be changed once built.

    Building a payload in Python runs its cross-field checks (`__post_init__`); the
    per-field constraints (patterns, bounds) are checked when it is decoded, and by
    `encode`, which decodes what it produced before handing it out.
    """
