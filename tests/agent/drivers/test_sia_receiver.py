"""The SIA DC-09 receiver against the alarm panel simulator and hand-built frames.

Real sockets, a real outbox: every answer is checked on the wire and every event in the
outbox. The panel simulator builds its frames independently of the receiver's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pysiaalarm.account import SIAAccount
from pysiaalarm.event import SIAEvent

import wire
from agent import AgentConfig, DriverError, Outbox
from agent.drivers.sia import SiaReceiver
from simulators.alarm_panel import AlarmPanel, Fault, Protocol, Transport, cid, encode_key, sia
from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

SITE = "room-07"
SHOP = "1234"  # the shop's panel: its guard on zone 1, its panic button on zone 3
PANEL, GUARD, PANIC, RECEIVER = "shop-12-panel", "shop-12-guard", "shop-12-panic", "sia-receiver"
QUIET_S = 0.3  # how long "no answer" is waited for
KEYS = {  # account: (key, encoding)
    "A128": ("0123456789ABCDEF", "ascii"),
    "A192": ("0123456789ABCDEF01234567", "ascii"),
    "A256": ("0123456789ABCDEF0123456789ABCDEF", "ascii"),
    "B128": ("00112233445566778899AABBCCDDEEFF", "hex"),
    "B192": ("00112233445566778899AABBCCDDEEFF0011223344556677", "hex"),
    "B256": ("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", "hex"),
}


def sia_config(tmp_path: Path, **sia_more: Any) -> AgentConfig:
    """A site with one shop panel (guard on zone 1, panic on zone 3) and keyed panels."""
    accounts: list[dict[str, Any]] = [
        {"account": SHOP, "device": PANEL, "zones": {1: GUARD, 3: PANIC}},
        *(
            {"account": account, "device": f"panel-{account.lower()}", "key": k, "key_encoding": e}
            for account, (k, e) in KEYS.items()
        ),
        *sia_more.pop("accounts", ()),
    ]
    panels = [a["device"] for a in accounts if a["device"] != PANEL]
    devices = [
        {"id": PANEL, "kind": "panel", "driver": "sia", "checkin_s": 3600},
        {"id": GUARD, "kind": "shop_guard", "driver": "sia", "checkin_s": 3600},
        {"id": PANIC, "kind": "panic_alarm", "driver": "sia", "checkin_s": 3600},
        {"id": RECEIVER, "kind": "panel", "driver": "sia", "checkin_s": 3600},
        *({"id": p, "kind": "panel", "driver": "sia", "checkin_s": 3600} for p in panels),
    ]
    return AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": {"host": "127.0.0.1"},
            "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
            "sia": {
                "host": "127.0.0.1",
                "port": 0,
                "state_path": str(tmp_path / "sia-memory.sqlite3"),
                "unknown_device": RECEIVER,
                "accounts": accounts,
                **sia_more,
            },
            "devices": devices,
        }
    )


@dataclass(frozen=True, slots=True)
class Rig:
    """A running receiver and its outbox."""

    config: AgentConfig
    outbox: Outbox
    receiver: SiaReceiver

    async def stored(self) -> list[wire.Event]:
        """Every event in the outbox, in seq order."""
        entries = await self.outbox.pending()
        return sorted((wire.decode_event(e.payload) for e in entries), key=lambda e: e.seq)

    def panel(self, account: str = SHOP, **more: Any) -> AlarmPanel:
        """A simulated panel for `account`, keyed as the config says, on TCP by default."""
        transport = more.pop("transport", Transport.TCP)
        port = self.receiver.ports.tcp if transport is Transport.TCP else self.receiver.ports.udp
        assert port is not None
        if account in KEYS and "key" not in more:
            more["key"] = encode_key(*KEYS[account])
        return AlarmPanel("127.0.0.1", port, account, transport=transport, **more)


@contextlib.asynccontextmanager
async def running(config: AgentConfig) -> AsyncIterator[Rig]:
    """An outbox and a receiver for `config`."""
    assert config.sia is not None
    async with (
        Outbox(config.outbox.path, site=config.site) as outbox,
        SiaReceiver(config.sia, config.devices, outbox) as receiver,
    ):
        yield Rig(config, outbox, receiver)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A receiver with the default settings."""
    async with running(sia_config(tmp_path)) as rig:
        yield rig


async def test_burglary_is_stored_then_acked_echoing_the_header(rig: Rig) -> None:
    """1130 on zone 1: an ACK echoing seq, receiver, line and account, after it is stored."""
    async with rig.panel() as panel:
        answer = await panel.send(cid(1, 130, zone=1))
        [event] = await rig.stored()  # already in the outbox when the ACK came
    assert answer is not None
    assert (answer.token, answer.seq) == ("ACK", "0001")
    assert (event.device, event.kind, event.type) == (
        GUARD,
        Kind.SHOP_GUARD,
        EventType.ALARM_INTRUSION,
    )
    assert event.source == {
        "driver": "sia",
        "protocol": "ADM-CID",
        "account": SHOP,
        "receiver": "R1",
        "line": "L1",
        "seq": "0001",
        "code": "1130",
        "zone": 1,
    }
    assert event.data["zone"] == 1
    assert event.data["restore"] is False


async def test_ack_frame_is_exactly_the_standard_form(rig: Rig) -> None:
    """A plain ACK is `"ACK"seq R L #acct[]` with a valid CRC and length."""
    async with rig.panel() as panel:
        await panel.send_raw(panel.frame(cid(1, 130, zone=1), seq=42))
        async with asyncio.timeout(2):
            frame = await panel._inbox.answers.get()
    assert frame[8:] == b'"ACK"0042R1L1#1234[]'


async def test_zone_without_a_device_goes_to_the_panel(rig: Rig) -> None:
    """A zone the config does not map reports on the account's panel device."""
    async with rig.panel() as panel:
        await panel.send(cid(1, 131, zone=7))
    [event] = await rig.stored()
    assert (event.device, event.kind, event.type) == (PANEL, Kind.PANEL, EventType.ALARM_INTRUSION)


async def test_opening_by_a_user_is_the_panels_event(rig: Rig) -> None:
    """401 names a user, not a zone: disarmed on the panel even when the number is a zone."""
    async with rig.panel() as panel:
        await panel.send(cid(1, 401, zone=3))
        await panel.send(cid(3, 401, zone=3))
    disarmed, armed = await rig.stored()
    assert (disarmed.device, disarmed.type, disarmed.data["user"]) == (
        PANEL,
        EventType.PANEL_DISARMED,
        3,
    )
    assert (armed.device, armed.type) == (PANEL, EventType.PANEL_ARMED)


async def test_sia_dcs_codes_map_and_route(rig: Rig) -> None:
    """SIA-DCS PA on zone 3 is the panic button's alarm; a BA/BR pair is alarm and restore."""
    async with rig.panel(protocol=Protocol.SIA_DCS) as panel:
        panic = await panel.send(sia("PA", 3))
        await panel.send(sia("BA", 1))
        await panel.send(sia("BR", 1))
    assert panic is not None
    assert panic.token == "ACK"
    events = await rig.stored()
    assert [(e.device, e.type) for e in events] == [
        (PANIC, EventType.ALARM_PANIC),
        (GUARD, EventType.ALARM_INTRUSION),
        (GUARD, EventType.ALARM_RESTORE),
    ]
    assert events[0].source["protocol"] == "SIA-DCS"


async def test_bad_crc_gets_no_answer_and_stores_nothing(rig: Rig) -> None:
    """A frame whose CRC is wrong is met with silence; the next good frame is served."""
    async with rig.panel() as panel:
        await panel.send_raw(panel.frame(cid(1, 130, zone=1), seq=1, fault=Fault.BAD_CRC))
        assert await panel.answer(QUIET_S) is None
        good = await panel.send(cid(1, 130, zone=1))
    assert good is not None
    assert good.token == "ACK"
    assert len(await rig.stored()) == 1
    assert rig.receiver.tally.silent == 1


async def test_wrong_length_gets_no_answer(rig: Rig) -> None:
    """A length field that disagrees with the body is a transmission error too: silence."""
    async with rig.panel() as panel:
        frame = panel.frame(cid(1, 130, zone=1), seq=1)
        await panel.send_raw(frame[:5] + b"FFF" + frame[8:])
        assert await panel.answer(QUIET_S) is None
    assert await rig.stored() == []


async def test_retransmitted_frame_is_one_event(rig: Rig) -> None:
    """The same frame sent three times is ACKed three times and stored once."""
    async with rig.panel() as panel:
        frame = panel.frame(cid(1, 130, zone=1), seq=7)
        answers = []
        for _ in range(3):
            await panel.send_raw(frame)
            answers.append(await panel.answer())
    assert [a.token if a else None for a in answers] == ["ACK", "ACK", "ACK"]
    assert len(await rig.stored()) == 1
    assert rig.receiver.tally.duplicates == 2


async def test_retransmission_with_a_new_timestamp_is_still_one_event(rig: Rig) -> None:
    """A panel that restamps its retransmission (same seq, same data) makes one event."""
    async with rig.panel() as panel:
        now = datetime.now(UTC)
        for moment in (now - timedelta(seconds=5), now):
            await panel.send_raw(panel.frame(cid(1, 130, zone=1), seq=7, at=moment))
            assert await panel.answer() is not None
    assert len(await rig.stored()) == 1


async def test_same_sequence_with_other_data_is_a_new_event(rig: Rig) -> None:
    """A restarted panel reusing a sequence for a different event is not taken for a repeat."""
    async with rig.panel() as panel:
        await panel.send(cid(1, 130, zone=1), seq=1)
        await panel.send(cid(1, 120, zone=3), seq=1)
    assert [e.type for e in await rig.stored()] == [
        EventType.ALARM_INTRUSION,
        EventType.ALARM_PANIC,
    ]


async def test_sequence_wraps_from_9999_to_0001(rig: Rig) -> None:
    """Sequence 9999 then 0001: two events, both ACKed with their own sequence."""
    async with rig.panel(first_seq=9999) as panel:
        first = await panel.send(cid(1, 130, zone=1))
        second = await panel.send(cid(1, 130, zone=1))
    assert (first and first.seq, second and second.seq) == ("9999", "0001")
    assert len(await rig.stored()) == 2


@pytest.mark.parametrize("fault", [Fault.STALE, Fault.FUTURE])
async def test_timestamp_outside_the_window_gets_nak_with_receiver_time(
    rig: Rig, fault: Fault
) -> None:
    """Ten minutes off either way: NAK carrying the receiver's clock, nothing stored."""
    async with rig.panel() as panel:
        answer = await panel.send(cid(1, 130, zone=1), fault=fault)
    assert answer is not None
    assert (answer.token, answer.seq) == ("NAK", "0000")
    assert answer.timestamp is not None
    assert abs(answer.timestamp - datetime.now(UTC)) < timedelta(seconds=3)
    assert await rig.stored() == []
    assert rig.receiver.tally.nak == 1


async def test_window_edges_follow_the_defaults(rig: Rig) -> None:
    """30 s late and 10 s early are inside -40 s/+20 s; 50 s late and 30 s early are not."""
    now = datetime.now(UTC)
    tokens = []
    async with rig.panel() as panel:
        for seq, offset in enumerate((-30, 10, -50, 30), start=1):
            await panel.send_raw(
                panel.frame(cid(1, 130, zone=1), seq=seq, at=now + timedelta(seconds=offset))
            )
            answer = await panel.answer()
            tokens.append(answer.token if answer else None)
    assert tokens == ["ACK", "ACK", "NAK", "NAK"]


async def test_window_is_set_per_account(tmp_path: Path) -> None:
    """An account with a 15-minute past window accepts a ten-minute-old message."""
    extra = {"account": "777", "device": "panel-777", "window_past_s": 900}
    async with running(sia_config(tmp_path, accounts=[extra])) as rig, rig.panel("777") as panel:
        answer = await panel.send(cid(1, 130, zone=1), fault=Fault.STALE)
    assert answer is not None
    assert answer.token == "ACK"


@pytest.mark.parametrize("account", sorted(KEYS))
async def test_encrypted_frames_in_every_key_size_and_encoding(rig: Rig, account: str) -> None:
    """AES-128/192/256 in ascii and hex: *ACK encrypted with the same key, event stored."""
    async with rig.panel(account) as panel:
        answer = await panel.send(cid(1, 130, zone=9))
    assert answer is not None
    assert answer.token == "*ACK"
    assert answer.body.startswith("]_")  # decrypted: the pad was cut at its '|'
    assert answer.timestamp is not None
    [event] = await rig.stored()
    assert (event.device, event.type) == (f"panel-{account.lower()}", EventType.ALARM_INTRUSION)


async def test_pysiaalarm_encrypted_frame_is_understood_and_its_ack_readable(rig: Rig) -> None:
    """A frame encrypted by pysiaalarm is stored; pysiaalarm decrypts our *ACK."""
    key, _ = KEYS["A128"]
    account = SIAAccount("A128", key)
    stamp = datetime.now(UTC).strftime("_%H:%M:%S,%m-%d-%Y")
    theirs = SIAEvent(
        full_message="", msg_crc="", length="", encrypted=True, sia_account=account
    ).encrypt_content(f"|#A128|1130 01 015]{stamp}")
    assert theirs is not None
    body = f'"*ADM-CID"0005R1L1#A128[{theirs}'
    frame = f"\n{SIAEvent._crc_calc(body)}{len(body):04X}{body}\r".encode()
    async with rig.panel("A128") as panel:
        await panel.send_raw(frame)
        async with asyncio.timeout(2):
            ack = (await panel._inbox.answers.get()).decode()
    assert ack[:8] == f"{SIAEvent._crc_calc(ack[8:])}{len(ack) - 8:04X}"
    assert ack[8:].startswith('"*ACK"0005R1L1#A128[')
    # pysiaalarm parses no answers, but its decrypter reads the ACK's ciphertext.
    mine = SIAEvent(
        full_message="",
        msg_crc="",
        length="",
        encrypted=True,
        sia_account=account,
        encrypted_content=ack.partition("[")[2],
    )
    mine.decrypt_content()
    assert mine.content is not None
    assert mine.content.partition("|")[2].startswith("]_")
    [event] = await rig.stored()
    assert (event.type, event.source["zone"]) == (EventType.ALARM_INTRUSION, 15)


async def test_wrong_key_gets_duh(rig: Rig) -> None:
    """A frame encrypted with another key cannot be processed: DUH, nothing stored."""
    async with rig.panel("A128", key=b"FEDCBA9876543210") as panel:
        answer = await panel.send(cid(1, 130, zone=1))
    assert answer is not None
    assert answer.token == "DUH"
    assert await rig.stored() == []


async def test_plain_frame_for_a_keyed_account_gets_duh(rig: Rig) -> None:
    """An account with a key accepts only encrypted frames (no spoofing in clear)."""
    async with rig.panel("A128", key=None) as panel:
        answer = await panel.send(cid(1, 130, zone=1))
    assert answer is not None
    assert answer.token == "DUH"


async def test_unknown_id_token_gets_duh(rig: Rig) -> None:
    """A frame with a good CRC and an id token the receiver does not know: DUH."""
    async with rig.panel() as panel:
        await panel.send_raw(panel.frame(cid(1, 130, zone=1), seq=3, token="XYZ-123"))
        answer = await panel.answer()
    assert answer is not None
    assert (answer.token, answer.seq) == ("DUH", "0003")


async def test_intact_frame_with_an_unreadable_header_gets_duh(rig: Rig) -> None:
    """Good CRC and length, but no DC-09 header (no sequence): DUH, nothing stored."""
    async with rig.panel() as panel:
        body = b'"SIA-DCS"R1L1#1234[#1234|Nri1/BA01]'
        await panel.send_raw(b"\n%04X%04X%s\r" % (_crc(body), len(body), body))
        answer = await panel.answer()
    assert answer is not None
    assert answer.token == "DUH"
    assert await rig.stored() == []


async def test_two_frames_in_one_segment(rig: Rig) -> None:
    """Frames coalesced into one TCP segment are each stored and ACKed."""
    async with rig.panel() as panel:
        one = panel.frame(cid(1, 130, zone=1), seq=1)
        two = panel.frame(cid(1, 120, zone=3), seq=2)
        await panel.send_raw(one + two)
        answers = [await panel.answer(), await panel.answer()]
    assert [(a.token, a.seq) if a else None for a in answers] == [("ACK", "0001"), ("ACK", "0002")]
    assert [e.device for e in await rig.stored()] == [GUARD, PANIC]


async def test_one_frame_over_three_segments(rig: Rig) -> None:
    """A frame split over three segments, with pauses, is framed whole."""
    async with rig.panel() as panel:
        frame = panel.frame(cid(1, 130, zone=1), seq=1)
        third = len(frame) // 3
        await panel.send_raw(frame[:third], frame[third : 2 * third], frame[2 * third :])
        answer = await panel.answer()
    assert answer is not None
    assert answer.token == "ACK"
    assert len(await rig.stored()) == 1


async def test_garbage_between_frames_is_skipped(rig: Rig) -> None:
    """Noise before, between and after frames (even a stray CR) does not lose a frame."""
    async with rig.panel() as panel:
        one = panel.frame(cid(1, 130, zone=1), seq=1)
        two = panel.frame(cid(1, 120, zone=3), seq=2)
        await panel.send_raw(b"\x00\xffnoise\r" + one + b"garbage\r\r" + two + b"tail")
        answers = [await panel.answer(), await panel.answer()]
    assert all(a is not None and a.token == "ACK" for a in answers)
    assert len(await rig.stored()) == 2


@pytest.mark.parametrize("fault", [Fault.SPLIT, Fault.GARBAGE, Fault.DUPLICATE])
async def test_simulator_line_faults_still_make_one_event(rig: Rig, fault: Fault) -> None:
    """Split, noisy or doubled on the line, a frame is ACKed and stored exactly once."""
    async with rig.panel() as panel:
        answer = await panel.send(cid(1, 130, zone=1), fault=fault)
        assert await panel.answer(QUIET_S) is None  # nothing else is owed
    assert answer is not None
    assert answer.token == "ACK"
    assert len(await rig.stored()) == 1


async def test_oversized_frame_is_dropped_and_the_connection_serves_on(rig: Rig) -> None:
    """A 10 KB frame without its CR is discarded; the next frame is answered."""
    async with rig.panel() as panel:
        await panel.send_raw(b"\n" + b"A" * 10_000)
        answer = await panel.send(cid(1, 130, zone=1))
    assert answer is not None
    assert answer.token == "ACK"


async def test_noise_from_one_panel_loses_nothing_of_another(rig: Rig) -> None:
    """Random bytes (LF and CR rich) on one connection; another panel's alarm is stored."""
    rng = random.Random(20261126)
    alphabet = b'\n\r"#[]|_*0123456789ABCDEF-LRSIADMCNU\x00\xff'
    async with rig.panel() as noisy, rig.panel(protocol=Protocol.SIA_DCS) as good:
        for _ in range(200):
            await noisy.send_raw(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 300))))
        answer = await good.send(sia("PA", 3))
        still = await noisy.send(cid(1, 130, zone=1))
    assert answer is not None
    assert still is not None
    assert (answer.token, still.token) == ("ACK", "ACK")
    assert [e.type for e in await rig.stored()] == [
        EventType.ALARM_PANIC,
        EventType.ALARM_INTRUSION,
    ]


async def test_unknown_account_is_acked_as_an_unknown_event(rig: Rig) -> None:
    """An account nobody configured: ACK, and an `unknown` event (P0) with the raw frame."""
    async with rig.panel("9999") as panel:
        answer = await panel.send(cid(1, 130, zone=1))
    assert answer is not None
    assert answer.token == "ACK"
    [event] = await rig.stored()
    assert (event.device, event.type, event.lane) == (RECEIVER, EventType.UNKNOWN, wire.Lane.P0)
    assert event.source["account"] == "9999"
    assert "#9999|1130 01 001]" in str(event.source["raw"])


@pytest.mark.parametrize(
    ("protocol", "event"),
    [(Protocol.ADM_CID, cid(1, 999, zone=1)), (Protocol.SIA_DCS, sia("ZZ", 1))],
)
async def test_unmapped_code_is_acked_as_an_unknown_event(
    rig: Rig, protocol: Protocol, event: Any
) -> None:
    """A code in neither table is never DUH: ACK and an `unknown` event on the panel."""
    async with rig.panel(protocol=protocol) as panel:
        answer = await panel.send(event)
    assert answer is not None
    assert answer.token == "ACK"
    [stored] = await rig.stored()
    assert (stored.device, stored.type) == (PANEL, EventType.UNKNOWN)
    assert str(event) in str(stored.source["raw"])


async def test_unreadable_plain_data_is_an_unknown_event(rig: Rig) -> None:
    """Plain data that does not parse at all is still stored (it might be an alarm)."""
    async with rig.panel() as panel:
        body = b'"ADM-CID"0001R1L1#1234[#1234|???'
        await panel.send_raw(b"\n%04X%04X%s\r" % (_crc(body), len(body), body))
        answer = await panel.answer()
    assert answer is not None
    assert answer.token == "ACK"
    [stored] = await rig.stored()
    assert stored.type is EventType.UNKNOWN


async def test_null_link_test_is_acked_without_an_event(rig: Rig) -> None:
    """NULL: ACK, nothing in the outbox."""
    async with rig.panel() as panel:
        answer = await panel.send(None)
    assert answer is not None
    assert answer.token == "ACK"
    assert await rig.stored() == []


async def test_encrypted_null_gets_an_encrypted_ack(rig: Rig) -> None:
    """*NULL from a keyed panel: *ACK."""
    async with rig.panel("B256") as panel:
        answer = await panel.send(None)
    assert answer is not None
    assert answer.token == "*ACK"


async def test_udp_frames_are_stored_and_acked(rig: Rig) -> None:
    """Over UDP: the ACK comes back to the sender's address, the event is stored."""
    async with rig.panel(transport=Transport.UDP) as panel:
        answer = await panel.send(cid(1, 130, zone=1))
        again = await panel.send(cid(1, 130, zone=1), seq=1)
    assert answer is not None
    assert again is not None
    assert (answer.token, again.token) == ("ACK", "ACK")
    assert len(await rig.stored()) == 1


async def test_restart_remembers_seen_sequences(tmp_path: Path) -> None:
    """A frame stored before a restart and retransmitted after it is not stored again."""
    config = sia_config(tmp_path)
    for _ in range(2):
        async with running(config) as rig, rig.panel() as panel:
            await panel.send_raw(panel.frame(cid(1, 130, zone=1), seq=11))
            answer = await panel.answer()
            assert answer is not None
            assert answer.token == "ACK"
    async with running(config) as rig:
        assert len(await rig.stored()) == 1


async def test_no_ack_when_the_outbox_cannot_store(tmp_path: Path) -> None:
    """With the outbox closed under it, the receiver stays silent (the panel retransmits)."""
    config = sia_config(tmp_path)
    assert config.sia is not None
    outbox = Outbox(config.outbox.path, site=config.site)
    async with outbox:
        pass  # opened once, then closed: every append now fails with OutboxError
    async with SiaReceiver(config.sia, config.devices, outbox) as receiver:
        port = receiver.ports.tcp
        assert port is not None
        async with AlarmPanel("127.0.0.1", port, SHOP, attempts=1, ack_timeout_s=QUIET_S) as p:
            answer = await p.send(cid(1, 130, zone=1))
        assert answer is None
        assert receiver.tally.not_stored == 1
        assert receiver.tally.acked == 0
    async with Outbox(config.outbox.path, site=config.site) as reopened:
        assert await reopened.pending() == []


async def test_not_stored_frame_is_stored_when_retransmitted_later(tmp_path: Path) -> None:
    """A frame left unanswered because the outbox failed is not remembered as seen."""
    config = sia_config(tmp_path)
    assert config.sia is not None
    closed = Outbox(config.outbox.path, site=config.site)
    async with closed:
        pass
    async with SiaReceiver(config.sia, config.devices, closed) as receiver:
        port = receiver.ports.tcp
        assert port is not None
        async with AlarmPanel("127.0.0.1", port, SHOP, attempts=1, ack_timeout_s=QUIET_S) as p:
            assert await p.send(cid(1, 130, zone=1), seq=5) is None
    async with running(config) as rig, rig.panel() as panel:
        answer = await panel.send(cid(1, 130, zone=1), seq=5)
        assert answer is not None
        assert answer.token == "ACK"
        assert len(await rig.stored()) == 1


async def test_supervision_reports_offline_then_online(tmp_path: Path) -> None:
    """A supervised panel silent past its limit is offline; its next frame brings online."""
    extra = {"account": "5A5", "device": "panel-5a5", "supervision_s": 1, "missed": 1}
    async with running(sia_config(tmp_path, accounts=[extra])) as rig:
        for _ in range(300):
            if await rig.stored():
                break
            await asyncio.sleep(0.01)
        [offline] = await rig.stored()
        assert (offline.device, offline.type) == ("panel-5a5", EventType.DEVICE_OFFLINE)
        async with rig.panel("5A5") as panel:
            answer = await panel.send(None)
        assert answer is not None
        assert answer.token == "ACK"
        events = await rig.stored()
        assert [e.type for e in events] == [EventType.DEVICE_OFFLINE, EventType.DEVICE_ONLINE]
        assert "1 frames" in (rig.receiver.health().detail or "")


async def test_idle_connection_is_closed(tmp_path: Path) -> None:
    """A TCP connection silent past idle_timeout_s is closed by the receiver."""
    async with running(sia_config(tmp_path, idle_timeout_s=1)) as rig:
        port = rig.receiver.ports.tcp
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(3):
            assert await reader.read(100) == b""
        writer.close()


async def test_connections_past_the_limit_are_closed(tmp_path: Path) -> None:
    """With max_connections 1, a second connection is closed at once; the first is served."""
    async with running(sia_config(tmp_path, max_connections=1)) as rig, rig.panel() as first:
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", rig.receiver.ports.tcp)
        async with asyncio.timeout(2):
            assert await reader.read(100) == b""
        writer.close()
        answer = await first.send(cid(1, 130, zone=1))
        assert answer is not None


async def test_health_names_the_ports(rig: Rig) -> None:
    """Health is ok while listening and names both ports."""
    health = rig.receiver.health()
    ports = rig.receiver.ports
    assert health.state is wire.DriverState.OK
    assert f"tcp {ports.tcp}, udp {ports.udp}" in (health.detail or "")


async def test_port_taken_is_a_driver_error(tmp_path: Path) -> None:
    """A port another socket holds stops the receiver from starting, naming the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = sia_config(tmp_path, port=port, udp=False)
        with pytest.raises(DriverError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with running(config):
                pass


def _crc(body: bytes) -> int:
    return int(SIAEvent._crc_calc(body.decode()) or "0", 16)
