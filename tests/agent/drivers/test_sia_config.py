"""The `sia:` config section: bounds, keys (never quoted), and the devices it names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import yaml

from agent import ConfigError, load_config

if TYPE_CHECKING:
    from pathlib import Path

KEY = "0123456789ABCDEF"


def _document(tmp_path: Path, **account: Any) -> dict[str, Any]:
    return {
        "site": "room-07",
        "mqtt": {"host": "127.0.0.1"},
        "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
        "sia": {
            "state_path": str(tmp_path / "sia.sqlite3"),
            "unknown_device": "sia-receiver",
            "accounts": [{"account": "0a31", "device": "shop-panel", **account}],
        },
        "devices": [
            {"id": "shop-panel", "kind": "panel", "driver": "sia", "checkin_s": 3600},
            {"id": "shop-guard", "kind": "shop_guard", "driver": "sia", "checkin_s": 3600},
            {"id": "sia-receiver", "kind": "panel", "driver": "sia", "checkin_s": 3600},
        ],
    }


def _load(tmp_path: Path, document: dict[str, Any]) -> Any:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return load_config(path)


def test_valid_section_loads_with_defaults(tmp_path: Path) -> None:
    """Defaults: port 12128, TCP and UDP, window 40/20 s; the account is upper-cased."""
    config = _load(tmp_path, _document(tmp_path, zones={1: "shop-guard"}, key=KEY))
    sia = config.sia
    assert (sia.port, sia.tcp, sia.udp) == (12128, True, True)
    [account] = sia.accounts
    assert (account.account, account.window_past_s, account.window_future_s) == ("0A31", 40, 20)
    assert dict(account.zones) == {1: "shop-guard"}
    assert list(sia.device_refs()) == [
        (("unknown_device",), "sia-receiver"),
        (("accounts", 0, "device"), "shop-panel"),
        (("accounts", 0, "zones", 1), "shop-guard"),
    ]


@pytest.mark.parametrize(
    ("key", "encoding", "reason"),
    [
        ("0123456789ABCDE", "ascii", "16/24/32 characters (this one has 15)"),
        (KEY, "hex", "32/48/64 characters (this one has 16)"),
        ("0123456789ABCDEG", "ascii", "hex digits only"),
    ],
)
def test_bad_key_is_refused_without_quoting_it(
    tmp_path: Path, key: str, encoding: str, reason: str
) -> None:
    """A key of the wrong length or with non-hex characters is named, never shown."""
    document = _document(tmp_path, key=key, key_encoding=encoding, zones={1: "shop-guard"})
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, document)
    assert caught.value.key == "sia.accounts[0].key"
    assert reason in caught.value.reason
    assert key not in str(caught.value)


def test_zone_device_must_be_listed(tmp_path: Path) -> None:
    """A zone naming a device not under `devices` is an error at that zone's key."""
    document = _document(tmp_path, zones={1: "shop-guard", 2: "nowhere"})
    with pytest.raises(ConfigError, match="'nowhere' is not listed under devices") as caught:
        _load(tmp_path, document)
    assert caught.value.key == "sia.accounts[0].zones[2]"


def test_every_sia_device_must_be_named(tmp_path: Path) -> None:
    """A `driver: sia` device that no account or zone names is an error."""
    with pytest.raises(ConfigError, match="names device 'shop-guard'"):
        _load(tmp_path, _document(tmp_path))


def test_repeated_account_is_refused(tmp_path: Path) -> None:
    """Two entries for one account number (in any case) are refused at the repeat."""
    document = _document(tmp_path, zones={1: "shop-guard"})
    document["sia"]["accounts"].append({"account": "0A31", "device": "shop-panel"})
    with pytest.raises(ConfigError, match="account '0A31' repeats accounts") as caught:
        _load(tmp_path, document)
    assert caught.value.key == "sia.accounts[1].account"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"account": "12"}, "sia.accounts[0].account"),
        ({"account": "12G4"}, "sia.accounts[0].account"),
        ({"account": 1234}, "sia.accounts[0].account"),
        ({"window_past_s": 0}, "sia.accounts[0].window_past_s"),
        ({"missed": 0}, "sia.accounts[0].missed"),
        ({"zones": {100_000: "shop-guard"}}, "sia.accounts[0].zones"),
    ],
)
def test_account_fields_are_bounded(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    """Account numbers are 3-16 hex digits; windows, missed counts and zones are bounded."""
    document = _document(tmp_path, **{"zones": {1: "shop-guard"}, **change})
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, document)
    assert caught.value.key is not None
    assert caught.value.key.startswith(key)


def test_tcp_and_udp_cannot_both_be_off(tmp_path: Path) -> None:
    """A receiver must listen on something."""
    document = _document(tmp_path, zones={1: "shop-guard"})
    document["sia"].update(tcp=False, udp=False)
    with pytest.raises(ConfigError, match="at least one of tcp and udp"):
        _load(tmp_path, document)
