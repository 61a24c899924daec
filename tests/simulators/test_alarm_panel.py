"""The alarm panel simulator on its own: its frames, read by pysiaalarm, and its retries."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from pysiaalarm.account import SIAAccount
from pysiaalarm.event import SIAEvent

from simulators.__main__ import main
from simulators.alarm_panel import (
    AlarmPanel,
    Fault,
    Misbehaviour,
    Protocol,
    Transport,
    cid,
    crc16_arc,
    decode_answer,
    encode_key,
    parse_script,
    sia,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

KEY = "0123456789ABCDEF"


def _line(frame: bytes) -> str:
    assert frame[:1] == b"\n"
    assert frame[-1:] == b"\r"
    return frame[1:-1].decode()


def test_plain_frame_is_read_by_pysiaalarm() -> None:
    """A Contact ID frame: pysiaalarm finds its CRC, length, header and event code."""
    panel = AlarmPanel("127.0.0.1", 1, "1234")
    line = _line(panel.frame(cid(1, 130, zone=15), seq=3))
    event = SIAEvent.from_line(line, {"1234": SIAAccount("1234")})
    assert event.valid_message
    assert (event.sequence, event.receiver, event.line, event.account) == (
        "0003",
        "R1",
        "L1",
        "1234",
    )
    assert (event.event_qualifier, event.event_type, event.ri) == ("1", "130", "015")


def test_sia_dcs_frame_is_read_by_pysiaalarm() -> None:
    """A SIA-DCS frame: pysiaalarm reads code BA and zone 015."""
    panel = AlarmPanel("127.0.0.1", 1, "1234", protocol=Protocol.SIA_DCS)
    event = SIAEvent.from_line(
        _line(panel.frame(sia("BA", 15), seq=1)), {"1234": SIAAccount("1234")}
    )
    assert event.valid_message
    assert (event.code, event.ri) == ("BA", "1")


def test_encrypted_frame_is_decrypted_by_pysiaalarm() -> None:
    """An AES frame with an ascii key: pysiaalarm decrypts it and reads the event."""
    panel = AlarmPanel("127.0.0.1", 1, "1234", key=encode_key(KEY))
    line = _line(panel.frame(cid(3, 130, zone=2), seq=9))
    event = SIAEvent.from_line(line, {"1234": SIAAccount("1234", KEY)})
    assert event.encrypted
    assert event.valid_message
    assert (event.event_qualifier, event.event_type) == ("3", "130")


def test_bad_crc_fault_breaks_only_the_crc() -> None:
    """Fault.BAD_CRC changes the CRC field and nothing else."""
    panel = AlarmPanel("127.0.0.1", 1, "1234")
    at = datetime.now(UTC)
    good = panel.frame(cid(1, 130, zone=1), seq=1, at=at)
    bad = panel.frame(cid(1, 130, zone=1), seq=1, at=at, fault=Fault.BAD_CRC)
    assert good[5:] == bad[5:]
    assert int(bad[1:5], 16) != crc16_arc(bad[9:-1])


def test_stale_fault_moves_the_timestamp_back() -> None:
    """Fault.STALE stamps the frame ten minutes in the past."""
    panel = AlarmPanel("127.0.0.1", 1, "1234")
    at = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    frame = panel.frame(None, seq=1, at=at, fault=Fault.STALE)
    assert frame.endswith(b"_11:50:00,11-26-2026\r")


def test_misbehaviour_draws_its_faults_at_its_rate() -> None:
    """Rate 0 never misbehaves, rate 1 always does, only with the faults it was given."""
    rng = random.Random(7)
    assert {Misbehaviour([Fault.STALE], 0.0, rng).draw() for _ in range(50)} == {None}
    drawn = {Misbehaviour([Fault.STALE, Fault.SPLIT], 1.0, rng).draw() for _ in range(50)}
    assert drawn == {Fault.STALE, Fault.SPLIT}


def test_sequence_wraps_from_9999_to_0001() -> None:
    """After 9999 the panel's next sequence is 0001."""
    panel = AlarmPanel("127.0.0.1", 1, "1234", first_seq=9998)
    assert [panel.next_seq() for _ in range(3)] == [9998, 9999, 1]


def test_answer_with_bad_crc_is_refused() -> None:
    """decode_answer checks the CRC of what the receiver sent."""
    with pytest.raises(ValueError, match="bad CRC"):
        decode_answer(b'0000000F"ACK"0001L0[]')


def test_script_steps_are_parsed() -> None:
    """`0:1130/15,2.5:3130/15` are two Contact ID events; a bad code is refused."""
    steps = parse_script("0:1130/15,2.5:3130/15")
    assert [(d, str(e)) for d, e in steps] == [(0.0, "1130 01 015"), (2.5, "3130 01 015")]
    assert [str(e) for _, e in parse_script("1:BA/3", Protocol.SIA_DCS)] == ["Nri1/BA003"]
    with pytest.raises(ValueError, match="not a ADM-CID code"):
        parse_script("0:BA/3")


async def _ack_the_second(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, got: list[bytes]
) -> None:
    try:
        while frame := await reader.readuntil(b"\r"):
            got.append(frame)
            if len(got) == 2:
                body = b'"ACK"0001R1L1#1234[]'
                writer.write(b"\n%04X%04X%s\r" % (crc16_arc(body), len(body), body))
                await writer.drain()
                await reader.read()  # until the panel hangs up
                return
    finally:
        writer.close()


@pytest.fixture
async def deaf_once() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TCP receiver that ignores the first frame and ACKs the second."""
    got: list[bytes] = []
    server = await asyncio.start_server(lambda r, w: _ack_the_second(r, w, got), "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], got


async def test_frame_is_sent_again_when_no_ack_comes(deaf_once: tuple[int, list[bytes]]) -> None:
    """No ACK within the timeout: the same frame again, and its ACK is returned."""
    port, got = deaf_once
    async with AlarmPanel("127.0.0.1", port, "1234", ack_timeout_s=0.2) as panel:
        answer = await panel.send(cid(1, 130, zone=1))
    assert answer is not None
    assert (answer.token, answer.seq) == ("ACK", "0001")
    assert len(got) == 2
    assert got[0] == got[1]


async def test_udp_panel_gives_up_after_its_attempts() -> None:
    """Over UDP with nobody listening: `attempts` sends, then None."""
    async with AlarmPanel(
        "127.0.0.1", 9, "1234", transport=Transport.UDP, ack_timeout_s=0.05, attempts=2
    ) as panel:
        started = datetime.now(UTC)
        assert await panel.send(None) is None
    assert datetime.now(UTC) - started >= timedelta(seconds=0.1)


def test_command_line_rejects_a_bad_script(capsys: pytest.CaptureFixture[str]) -> None:
    """`alarm-panel --script` with a bad step is a usage error (exit code 2)."""
    with pytest.raises(SystemExit) as exited:
        main(["alarm-panel", "--port", "1", "--account", "1234", "--script", "0:XX/1"])
    assert exited.value.code == 2
    assert "not a ADM-CID code" in capsys.readouterr().err
