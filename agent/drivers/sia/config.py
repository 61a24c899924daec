"""The `sia:` section of the agent's config (the SIA DC-09 receiver).

One receiver listens on one port (TCP and UDP) for many panels. Each panel is an
`account`: the events of its zones go to the devices `zones` names (a shop's guard, its
contacts, its panic button), everything else to the account's own `device` (the panel
itself, kind `panel`). Frames of accounts not listed here are still acknowledged and
become `unknown` events of `unknown_device`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Final, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from agent._model import DriverSection, Id, Section, located

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "ASCII_KEY_LENGTHS",
    "HEX_KEY_LENGTHS",
    "MAX_ACCOUNTS",
    "MAX_ZONE",
    "SiaAccount",
    "SiaConfig",
]

MAX_ACCOUNTS: Final = 10_000
MAX_ZONE: Final = 99_999
ASCII_KEY_LENGTHS: Final = (16, 24, 32)
"""`key_encoding: ascii`: the characters themselves are the AES-128/192/256 key."""
HEX_KEY_LENGTHS: Final = (32, 48, 64)
"""`key_encoding: hex`: the characters are hex digits of a 16/24/32-byte key."""
_ACCOUNT: Final = re.compile(r"[0-9A-Fa-f]{3,16}")
_HEX: Final = re.compile(r"[0-9A-Fa-f]*")


def _account_text(value: object) -> object:
    # YAML reads `account: 1234` as a number, and `0123` as octal: leading zeros are lost.
    if isinstance(value, int) and not isinstance(value, bool):
        message = f"write the account number in quotes ('{value}'): YAML read a number"
        raise ValueError(message)  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    return value


def _check_account(value: str) -> str:
    if not _ACCOUNT.fullmatch(value):
        raise ValueError(f"{value!r} is not an account number (3 to 16 hex digits)")
    return value.upper()


AccountNumber = Annotated[str, BeforeValidator(_account_text), AfterValidator(_check_account)]


class SiaAccount(Section):
    """One panel (or communicator): its account number, its key and where its events go."""

    account: AccountNumber = Field(
        description="Account number the panel sends after '#': 3 to 16 hex digits."
    )
    device: Id = Field(
        description="Device of events from zones not listed in `zones`, and of the "
        "panel's own events (arming, AC power, battery, supervision): kind `panel`."
    )
    zones: dict[Annotated[int, Field(ge=0, le=MAX_ZONE)], Id] = Field(
        default_factory=dict,
        max_length=1000,
        description="Zone number → device id, for zones that are devices of their own "
        "(a shop guard, a contact, a panic button).",
    )
    key: SecretStr | None = Field(
        default=None,
        description="AES key; when set, the panel must encrypt (never logged).",
    )
    key_encoding: Literal["ascii", "hex"] = Field(
        default="ascii",
        description="ascii: the 16/24/32 characters are the key bytes (as pysiaalarm "
        "does); hex: 32/48/64 hex digits decoded to a 16/24/32-byte key.",
    )
    window_past_s: float = Field(
        default=40.0,
        ge=1.0,
        le=3600.0,
        description="How far a message's timestamp may lag the receiver's clock (anti-replay).",
    )
    window_future_s: float = Field(
        default=20.0,
        ge=1.0,
        le=3600.0,
        description="How far a message's timestamp may lead the receiver's clock.",
    )
    supervision_s: float | None = Field(
        default=None,
        ge=1.0,
        le=7 * 24 * 3600.0,
        description="Expected interval between frames (NULL link tests or periodic "
        "tests); none: not supervised.",
    )
    missed: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Supervision intervals missed before the panel is reported offline.",
    )

    @model_validator(mode="after")
    def _key_fits_its_encoding(self) -> SiaAccount:
        if self.key is None:
            return self
        # Never quote the key: only its length and what is wrong with it.
        secret = self.key.get_secret_value()
        lengths = ASCII_KEY_LENGTHS if self.key_encoding == "ascii" else HEX_KEY_LENGTHS
        if len(secret) not in lengths:
            allowed = "/".join(str(n) for n in lengths)
            message = (
                f"a {self.key_encoding} key has {allowed} characters (this one has {len(secret)})"
            )
            raise located(message, "key")
        if not _HEX.fullmatch(secret):
            message = "a key is hex digits only (0-9, A-F)"
            raise located(message, "key")
        return self


class SiaConfig(DriverSection):
    """The SIA DC-09 receiver and the accounts (panels) it serves."""

    DRIVER: ClassVar[str] = "sia"

    host: str = Field(
        default="0.0.0.0",  # noqa: S104 - panels are on the room's LAN, not on loopback
        min_length=1,
        max_length=253,
        description="Address to listen on (TCP and UDP).",
    )
    port: int = Field(
        default=12128, ge=0, le=65535, description="Port for TCP and UDP; 0 picks a free one."
    )
    tcp: bool = Field(default=True, description="Listen on TCP.")
    udp: bool = Field(default=True, description="Listen on UDP.")
    state_path: Path = Field(
        description="SQLite file remembering recent sequence numbers across restarts "
        "(put it next to the outbox)."
    )
    unknown_device: Id = Field(
        description="Device (kind `panel`) of the `unknown` events of accounts not listed."
    )
    accounts: tuple[SiaAccount, ...] = Field(
        default=(),
        max_length=MAX_ACCOUNTS,
        description="Every panel the receiver serves; account numbers unique.",
    )
    max_connections: int = Field(
        default=1000, ge=1, le=100_000, description="TCP connections open at once; more wait."
    )
    idle_timeout_s: float = Field(
        default=300.0,
        ge=1.0,
        le=86400.0,
        description="A TCP connection silent this long is closed.",
    )
    dedup_window_s: float = Field(
        default=600.0,
        ge=1.0,
        le=86400.0,
        description="How long a (account, receiver, line, sequence) is remembered: a "
        "retransmission within it is acknowledged, not stored again.",
    )
    dedup_max_entries: int = Field(
        default=100_000,
        ge=100,
        le=10_000_000,
        description="Most sequences remembered; past it the oldest are forgotten.",
    )

    @field_validator("accounts")
    @classmethod
    def _accounts_unique(cls, accounts: tuple[SiaAccount, ...]) -> tuple[SiaAccount, ...]:
        seen: dict[str, int] = {}
        for index, account in enumerate(accounts):
            if account.account in seen:
                message = f"account {account.account!r} repeats accounts[{seen[account.account]}]"
                raise located(message, index, "account")
            seen[account.account] = index
        return accounts

    @model_validator(mode="after")
    def _listens_somewhere(self) -> SiaConfig:
        if not (self.tcp or self.udp):
            message = "at least one of tcp and udp must be true"
            raise located(message, "tcp")
        return self

    def device_refs(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each device id the section names: the unknown device, accounts and zones."""
        yield ("unknown_device",), self.unknown_device
        for index, account in enumerate(self.accounts):
            yield ("accounts", index, "device"), account.device
            for zone, device in account.zones.items():
                yield ("accounts", index, "zones", zone), device
