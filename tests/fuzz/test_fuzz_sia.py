"""The SIA DC-09 parsers under arbitrary input: framing (CRC and length, the header, the
stream splitter), decryption, and the message data (content, Contact ID, SIA-DCS) raise
nothing but their own typed errors, and well-formed frames survive any cutting."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.drivers.sia.crypto import CryptoError, decrypt, encrypt
from agent.drivers.sia.framing import (
    MAX_FRAME,
    FrameError,
    FrameSplitter,
    parse_frame,
    parse_header,
    seal,
)
from agent.drivers.sia.messages import ContentError, parse_content, read_contact_id, read_sia_dcs
from tests.fuzz.budget import FUZZ, examples

pytestmark = pytest.mark.fuzz

HEADERISH = st.builds(
    lambda token, seq, rest: b'"%s"%sR1L1#1234[%s' % (token, seq, rest),
    st.sampled_from([b"SIA-DCS", b"ADM-CID", b"*SIA-DCS", b"NULL", b'"', b""]),
    st.binary(max_size=6),
    st.binary(max_size=200),
)
FRAME_BODIES = st.one_of(st.binary(max_size=600), HEADERISH)
DC09_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(list("0123456789ABCDEFNRrita|/#[]_:,-^ ")), st.characters()),
    max_size=300,
)
KEY = bytes(range(16))


@settings(FUZZ, max_examples=examples(2000))
@given(frame=st.one_of(st.binary(max_size=700), FRAME_BODIES.map(lambda b: seal(b)[1:-1])))
def test_parse_frame_and_header_raise_only_frame_errors(frame: bytes) -> None:
    """Any bytes between LF and CR: a body and header, or a FrameError."""
    with contextlib.suppress(FrameError):
        body = parse_frame(frame)
        header = parse_header(body)
        assert header.line.startswith("L")


@settings(FUZZ, max_examples=examples(1000))
@given(body=FRAME_BODIES)
def test_a_sealed_frame_parses_back_to_its_body(body: bytes) -> None:
    """`seal` then `parse_frame` gives a body back, whatever follows its quote (not CR, LF)."""
    body = b'"' + body.replace(b"\r", b"").replace(b"\n", b"")[: MAX_FRAME - 9]
    assert parse_frame(seal(body)[1:-1]) == body


@settings(FUZZ, max_examples=examples(1000))
@given(
    bodies=st.lists(FRAME_BODIES, max_size=5),
    garbage=st.lists(st.binary(max_size=40), min_size=6, max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=64), max_size=40),
)
def test_the_splitter_finds_every_frame_however_the_stream_is_cut(
    bodies: list[bytes], garbage: list[bytes], cuts: list[int]
) -> None:
    """Frames with garbage (without LF) between them, cut at any points, come out whole."""
    clean = [b'"' + b.replace(b"\r", b"").replace(b"\n", b"")[: MAX_FRAME - 9] for b in bodies]
    junk = [g.replace(b"\n", b"") for g in garbage]
    stream = b"".join(j + seal(b) for j, b in zip(junk, clean, strict=False)) + junk[-1]
    splitter, frames, start = FrameSplitter(), [], 0
    for cut in [*cuts, len(stream)]:
        frames += list(splitter.feed(stream[start : start + cut]))
        start += cut
    frames += list(splitter.feed(stream[start:]))
    assert [parse_frame(f) for f in frames] == clean


@settings(FUZZ, max_examples=examples(1200))
@given(chunks=st.lists(st.binary(max_size=300), max_size=12))
def test_the_splitter_never_raises_and_bounds_what_it_yields(chunks: list[bytes]) -> None:
    """Arbitrary segments: no exception, no frame above MAX_FRAME, no LF or CR in a frame."""
    splitter = FrameSplitter(max_frame=256)
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            assert len(frame) <= 256
            assert b"\n" not in frame
            assert b"\r" not in frame


@settings(FUZZ, max_examples=examples(1000))
@given(
    ciphertext=st.one_of(
        st.binary(max_size=200), st.binary(max_size=96).map(bytes.hex).map(str.encode)
    )
)
def test_decrypt_raises_only_crypto_errors(ciphertext: bytes) -> None:
    """Any ciphertext: the data after the pad, or a CryptoError."""
    with contextlib.suppress(CryptoError):
        decrypt(KEY, ciphertext)


@settings(FUZZ, max_examples=examples(300))
@given(data=st.binary(max_size=200))
def test_encrypt_then_decrypt_gives_the_data_back(data: bytes) -> None:
    """The answer's encryption round-trips through the receiver's decryption."""
    assert decrypt(KEY, encrypt(KEY, data)) == data


@settings(FUZZ, max_examples=examples(2000))
@given(text=DC09_TEXT)
def test_message_data_raises_only_content_errors(text: str) -> None:
    """Any text after the ``[``: content and its signals, or a ContentError."""
    with contextlib.suppress(ContentError):
        content = parse_content(text)
        for signal in (*read_contact_id(content.data), *read_sia_dcs(content.data)):
            assert signal.code


@settings(FUZZ, max_examples=examples(1000))
@given(data=DC09_TEXT)
def test_code_readers_never_raise(data: str) -> None:
    """Contact ID and SIA-DCS readers return signals or nothing for any data block."""
    assert isinstance(read_contact_id(data), tuple)
    assert isinstance(read_sia_dcs(data), tuple)
