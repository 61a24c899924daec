"""DC-09 framing and encryption, unit by unit, checked against pysiaalarm where it can be."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from pysiaalarm.account import SIAAccount
from pysiaalarm.event import SIAEvent

from agent.drivers.sia.crypto import CryptoError, decrypt, encrypt, key_bytes
from agent.drivers.sia.framing import (
    MAX_FRAME,
    FrameError,
    FrameSplitter,
    crc16,
    parse_frame,
    parse_header,
    seal,
)

BODY = b'"SIA-DCS"0002R1L1#1234[#1234|Nri1/BA01]_12:30:00,11-26-2026'


def test_crc_is_crc16_arc() -> None:
    """The catalogue check value of CRC-16/ARC ("123456789" → 0xBB3D)."""
    assert crc16(b"123456789") == 0xBB3D


@pytest.mark.parametrize("body", [BODY, b'"NULL"0000L0#0A31[]', b""])
def test_crc_agrees_with_pysiaalarm(body: bytes) -> None:
    """Our table-driven CRC equals pysiaalarm's bitwise one."""
    assert f"{crc16(body):04X}" == SIAEvent._crc_calc(body.decode())


def test_sealed_frame_parses_back() -> None:
    """seal() then parse_frame() gives the body; the header reads its fields."""
    frame = seal(BODY)
    assert frame[:1] == b"\n"
    assert frame[-1:] == b"\r"
    header = parse_header(parse_frame(frame[1:-1]))
    assert (header.token, header.seq, header.receiver, header.line, header.account) == (
        "SIA-DCS",
        "0002",
        "R1",
        "L1",
        "1234",
    )
    assert not header.encrypted
    assert header.echo == "0002R1L1#1234"


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b"0000" + f"{len(BODY):04X}".encode() + BODY, "CRC"),
        (f"{crc16(BODY):04X}0001".encode() + BODY, "length"),
        (b"ZZZZ0001" + BODY, "hex"),
        (b"short", "not a DC-09 frame"),
    ],
)
def test_bad_frames_are_frame_errors(frame: bytes, why: str) -> None:
    """Wrong CRC, wrong length, non-hex fields, too short: each a FrameError saying why."""
    with pytest.raises(FrameError, match=why):
        parse_frame(frame)


def test_header_echo_keeps_the_case_the_panel_sent() -> None:
    """A lower-case account is matched upper-case but echoed as sent."""
    header = parse_header(b'"ADM-CID"0001R1aL1#0a31[#0a31|1130 01 001]')
    assert (header.account, header.receiver, header.echo) == ("0A31", "R1A", "0001R1aL1#0a31")


def test_header_without_receiver_or_account() -> None:
    """The receiver and account fields are optional; the echo leaves them out."""
    header = parse_header(b'"NULL"0000L0[]')
    assert (header.receiver, header.account, header.echo) == (None, None, "0000L0")


def test_splitter_handles_coalesced_split_and_garbage() -> None:
    """Two frames in one chunk, one over three chunks, garbage around: all frames, in order."""
    one, two = seal(BODY), seal(BODY.replace(b"0002", b"0003"))
    splitter = FrameSplitter()
    got = list(splitter.feed(b"junk" + one + two[:10]))
    got += list(splitter.feed(two[10:20]))
    got += list(splitter.feed(two[20:] + b"\rmore junk"))
    assert got == [one[1:-1], two[1:-1]]
    assert splitter.dropped == len(b"junk") + len(b"\rmore junk")


def test_splitter_restarts_at_a_new_lf() -> None:
    """An LF inside a frame starts a new one: the torn frame is dropped, the next kept."""
    frame = seal(BODY)
    assert list(FrameSplitter().feed(frame[:20] + frame)) == [frame[1:-1]]


def test_splitter_drops_an_endless_frame() -> None:
    """Past MAX_FRAME bytes without a CR the frame is dropped; the next is framed."""
    splitter = FrameSplitter()
    assert list(splitter.feed(b"\n" + b"A" * (MAX_FRAME + 1))) == []
    assert list(splitter.feed(seal(BODY))) == [seal(BODY)[1:-1]]
    assert splitter.dropped > MAX_FRAME


@pytest.mark.parametrize("length", [16, 24, 32])
def test_encrypt_decrypt_round_trip(length: int) -> None:
    """encrypt() output decrypts back to the data; it is whole blocks of uppercase hex."""
    key = b"K" * length
    sealed = encrypt(key, b"]_12:30:00,11-26-2026")
    assert sealed == sealed.upper()
    assert len(sealed) % 32 == 0
    assert decrypt(key, sealed) == b"]_12:30:00,11-26-2026"


def test_pysiaalarm_decrypts_what_we_encrypt() -> None:
    """pysiaalarm, given the same ascii key, reads our ciphertext up to the data."""
    account = SIAAccount("1234", "0123456789ABCDEF")
    sealed = encrypt(key_bytes(SecretStr("0123456789ABCDEF"), "ascii"), b"#1234|Nri1/BA01]")
    event = SIAEvent(
        full_message="",
        msg_crc="",
        length="",
        encrypted=True,
        sia_account=account,
        encrypted_content=sealed.decode(),
    )
    event.decrypt_content()
    assert event.content is not None
    assert event.content.endswith("|#1234|Nri1/BA01]")


def test_hex_key_is_decoded() -> None:
    """A hex key of 32 digits is a 16-byte AES key; an ascii one is its own bytes."""
    assert key_bytes(SecretStr("00" * 16), "hex") == bytes(16)
    assert key_bytes(SecretStr("0123456789ABCDEF"), "ascii") == b"0123456789ABCDEF"


@pytest.mark.parametrize("ciphertext", [b"XYZ", b"ABCD", b"00" * 16])
def test_undecryptable_ciphertext_is_a_crypto_error(ciphertext: bytes) -> None:
    """Not hex, not whole blocks, or no '|' after decryption: CryptoError."""
    with pytest.raises(CryptoError):
        decrypt(b"0123456789ABCDEF", ciphertext)
