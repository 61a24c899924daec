"""An alarm panel that reports to a SIA DC-09 receiver over TCP or UDP, plain or AES.

It builds its frames on its own (CRC-16/ARC, AES-CBC with a zero IV, pad before ``|``):
nothing here comes from the agent, so the receiver is checked against an independent
writer of the protocol. It speaks Contact ID (``ADM-CID``) or SIA-DCS, sends NULL link
tests, waits for the ACK of each frame and sends the frame again when none comes.

It misbehaves on demand, for conformance tests: a bad CRC, a stale or future timestamp,
a repeated sequence (`send(seq=…)`, `Fault.DUPLICATE`), a frame split over several
segments or several frames in one, unknown codes (any code can be sent), garbage on the
line (`Fault`, `Misbehaviour`, `send_raw`, `frame`).
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Self

from Crypto.Cipher import AES

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncIterator, Sequence
    from types import TracebackType

__all__ = [
    "KEY_VARIABLE",
    "AlarmPanel",
    "Answer",
    "Fault",
    "Misbehaviour",
    "PanelEvent",
    "Protocol",
    "Transport",
    "add_arguments",
    "cid",
    "crc16_arc",
    "decode_answer",
    "encode_key",
    "parse_script",
    "run_from_arguments",
    "sia",
]

_PAD: Final = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MAX_ANSWER: Final = 4200


class Protocol(StrEnum):
    """The id token of the panel's event frames."""

    ADM_CID = "ADM-CID"
    SIA_DCS = "SIA-DCS"


class Transport(StrEnum):
    """How the panel reaches the receiver."""

    TCP = "tcp"
    UDP = "udp"


class Fault(StrEnum):
    """Ways the panel can misbehave on one frame."""

    BAD_CRC = "bad-crc"  # the CRC field is off by one
    STALE = "stale"  # the timestamp is ten minutes old
    FUTURE = "future"  # the timestamp is ten minutes ahead
    SPLIT = "split"  # the frame in three segments (three datagrams on UDP: never whole)
    GARBAGE = "garbage"  # noise on the line before the frame
    DUPLICATE = "duplicate"  # the frame twice in one segment, as a hasty retransmission


@dataclass(frozen=True, slots=True)
class PanelEvent:
    """One event as the panel sends it: the data block text, without the account."""

    data: str

    def __str__(self) -> str:
        return self.data


def cid(qualifier: int, code: int, zone: int, partition: int = 1) -> PanelEvent:
    """A Contact ID event: ``QEEE PP ZZZ`` (1130 01 015: new burglary, zone 15)."""
    return PanelEvent(f"{qualifier}{code:03d} {partition:02d} {zone:03d}")


def sia(code: str, number: int | None = None, area: int = 1) -> PanelEvent:
    """A SIA-DCS event: ``Nri1/BA015``."""
    tail = "" if number is None else f"{number:03d}"
    return PanelEvent(f"Nri{area}/{code}{tail}")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver answered: ACK, NAK or DUH (encrypted or not), and its fields."""

    token: str  # "ACK", "*ACK", "NAK", "DUH"
    seq: str
    body: str  # the decrypted data of an *ACK, the plain rest otherwise
    timestamp: datetime | None


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC, bit by bit (poly 0x8005 reflected, init 0): the DC-09 CRC."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def encode_key(key: str, encoding: str = "ascii") -> bytes:
    """The AES key a panel's key setting means: its characters (ascii) or their hex value."""
    return key.encode("ascii") if encoding == "ascii" else binascii.unhexlify(key)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def decode_answer(frame: bytes, key: bytes | None = None) -> Answer:
    """Read one answer frame (LF and CR stripped); `ValueError` if its CRC is wrong."""
    crc, length, body = int(frame[:4], 16), int(frame[4:8], 16), frame[8:]
    if length != len(body) or crc != crc16_arc(body):
        raise ValueError(f"answer with a bad CRC or length: {frame!r}")
    text = body.decode("ascii")
    token, _, rest = text[1:].partition('"')
    seq = rest[:4]
    data = rest.partition("[")[2]
    if token.startswith("*") and key is not None:
        plain = AES.new(key, AES.MODE_CBC, iv=bytes(16)).decrypt(binascii.unhexlify(data))
        data = plain.partition(b"|")[2].decode("ascii")
    moment = None
    if "_" in data:
        moment = datetime.strptime(data[data.rindex("_") :], "_%H:%M:%S,%m-%d-%Y").replace(
            tzinfo=UTC
        )
    return Answer(token=token, seq=seq, body=data, timestamp=moment)


@dataclass(slots=True)
class _Inbox:
    """Answers as they arrive, framed from the byte stream."""

    answers: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while (start := self.buffer.find(b"\n")) >= 0 and (end := self.buffer.find(b"\r")) >= 0:
            if end < start:
                del self.buffer[: end + 1]
                continue
            self.answers.put_nowait(bytes(self.buffer[start + 1 : end]))
            del self.buffer[: end + 1]
        if len(self.buffer) > _MAX_ANSWER:
            self.buffer.clear()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, inbox: _Inbox) -> None:
        self._inbox = inbox

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:  # noqa: ARG002 - one receiver: the address says nothing
        self._inbox.feed(data)


class AlarmPanel:
    """One panel (one account) connected to a receiver, as an async context manager."""

    def __init__(
        self,
        host: str,
        port: int,
        account: str,
        *,
        transport: Transport = Transport.TCP,
        protocol: Protocol = Protocol.ADM_CID,
        key: bytes | None = None,
        receiver: str | None = "R1",
        line: str = "L1",
        ack_timeout_s: float = 2.0,
        attempts: int = 3,
        first_seq: int = 1,
    ) -> None:
        self.host, self.port, self.account = host, port, account
        self.transport, self.protocol, self.key = transport, protocol, key
        self.receiver, self.line = receiver, line
        self.ack_timeout_s, self.attempts = ack_timeout_s, attempts
        self._seq = first_seq
        self._inbox = _Inbox()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._udp: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> Self:
        if self.transport is Transport.TCP:
            reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._reader_task = asyncio.create_task(self._read(reader), name="panel:reader")
        else:
            self._udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Udp(self._inbox), remote_addr=(self.host, self.port)
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self._udp is not None:
            self._udp.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(4096):
                self._inbox.feed(data)

    def next_seq(self) -> int:
        """Take the next sequence number: 0001 to 9999, then 0001 again."""
        seq = self._seq
        self._seq = 1 if seq >= 9999 else seq + 1
        return seq

    def frame(
        self,
        event: PanelEvent | None,
        *,
        seq: int,
        at: datetime | None = None,
        fault: Fault | None = None,
        token: str | None = None,
        account: str | None = None,
    ) -> bytes:
        """A whole frame (LF … CR) of `event` (None: a NULL link test), maybe faulty."""
        moment = at or datetime.now(UTC)
        match fault:
            case Fault.STALE:
                moment -= timedelta(minutes=10)
            case Fault.FUTURE:
                moment += timedelta(minutes=10)
        account = account or self.account
        name = token or ("NULL" if event is None else self.protocol.value)
        content = f"]{_stamp(moment)}" if event is None else f"#{account}|{event}]{_stamp(moment)}"
        if self.key is not None:
            plain = content.encode("ascii")
            pad = bytes(random.choice(_PAD) for _ in range(-(len(plain) + 1) % 16))  # noqa: S311 - padding, not secrecy
            cipher = AES.new(self.key, AES.MODE_CBC, iv=bytes(16))
            sealed = binascii.hexlify(cipher.encrypt(pad + b"|" + plain)).upper().decode()
            body = f'"*{name}"{seq:04d}{self.receiver or ""}{self.line}#{account}[{sealed}'
        else:
            body = f'"{name}"{seq:04d}{self.receiver or ""}{self.line}#{account}[{content}'
        raw = body.encode("ascii")
        crc = crc16_arc(raw) ^ (1 if fault is Fault.BAD_CRC else 0)
        return b"\n%04X%04X%s\r" % (crc, len(raw), raw)

    async def send_raw(self, *chunks: bytes, pause_s: float = 0.01) -> None:
        """Write bytes as they are, each chunk a segment (datagram on UDP) of its own."""
        for index, chunk in enumerate(chunks):
            if index:
                await asyncio.sleep(pause_s)
            if self._writer is not None:
                self._writer.write(chunk)
                await self._writer.drain()
            elif self._udp is not None:
                self._udp.sendto(chunk)

    async def answer(self, timeout_s: float | None = None) -> Answer | None:
        """The next answer, or None when none comes within the timeout."""
        try:
            async with asyncio.timeout(timeout_s or self.ack_timeout_s):
                frame = await self._inbox.answers.get()
        except TimeoutError:
            return None
        return decode_answer(frame, self.key)

    async def send(
        self, event: PanelEvent | None, *, fault: Fault | None = None, seq: int | None = None
    ) -> Answer | None:
        """Send `event` (None: NULL) until answered, up to `attempts` times; the answer."""
        number = self.next_seq() if seq is None else seq
        frame = self.frame(event, seq=number, fault=fault)
        third = len(frame) // 3
        chunks: tuple[bytes, ...]
        match fault:
            case Fault.SPLIT:
                chunks = (frame[:third], frame[third : 2 * third], frame[2 * third :])
            case Fault.GARBAGE:
                chunks = (b"\x00\xffline noise\r" + frame,)
            case Fault.DUPLICATE:
                chunks = (frame + frame,)
            case _:
                chunks = (frame,)
        for _ in range(self.attempts):
            await self.send_raw(*chunks)
            if (answer := await self.answer()) is not None:
                if fault is Fault.DUPLICATE:
                    await self.answer()  # the second copy's answer
                return answer
        return None

    async def supervise(self, interval_s: float) -> None:
        """Send a NULL link test every `interval_s`, for ever."""
        while True:
            await self.send(None)
            await asyncio.sleep(interval_s)

    async def run_script(
        self, steps: Sequence[tuple[float, PanelEvent]], misbehaviour: Misbehaviour | None = None
    ) -> AsyncIterator[tuple[PanelEvent, Answer | None]]:
        """Send each event after its delay; yield it with its answer."""
        for delay_s, event in steps:
            await asyncio.sleep(delay_s)
            fault = None if misbehaviour is None else misbehaviour.draw()
            yield event, await self.send(event, fault=fault)

    async def run_random(
        self,
        events: Sequence[PanelEvent],
        mean_s: float,
        rng: random.Random,
        misbehaviour: Misbehaviour | None = None,
    ) -> AsyncIterator[tuple[PanelEvent, Answer | None]]:
        """Send events drawn from `events` at exponential intervals of mean `mean_s`."""
        while True:
            await asyncio.sleep(rng.expovariate(1 / mean_s))
            event = rng.choice(events)
            fault = None if misbehaviour is None else misbehaviour.draw()
            yield event, await self.send(event, fault=fault)


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """Which faults a panel commits, and how often: each frame has `rate` chance of one."""

    faults: Sequence[Fault]
    rate: float
    rng: random.Random

    def draw(self) -> Fault | None:
        """A fault for the next frame, or None."""
        if not self.faults or self.rng.random() >= self.rate:
            return None
        return self.rng.choice(self.faults)


def parse_script(
    text: str, protocol: Protocol = Protocol.ADM_CID
) -> list[tuple[float, PanelEvent]]:
    """Steps ``DELAY:EVENT,…``: ``0:1130/15`` (Contact ID 1130, zone 15) or ``0:BA/15``."""
    steps: list[tuple[float, PanelEvent]] = []
    for step in filter(None, (part.strip() for part in text.split(","))):
        delay, _, what = step.partition(":")
        code, _, number = what.partition("/")
        try:
            seconds, zone = float(delay), int(number or 0)
        except ValueError as exc:
            raise ValueError(f"step {step!r}: expected DELAY:CODE/ZONE") from exc
        match protocol:
            case Protocol.ADM_CID if len(code) == 4 and code.isdigit():
                steps.append((seconds, cid(int(code[0]), int(code[1:]), zone)))
            case Protocol.SIA_DCS if len(code) == 2 and code.isalpha():
                steps.append((seconds, sia(code.upper(), zone)))
            case _:
                raise ValueError(f"step {step!r}: {code!r} is not a {protocol} code")
    return steps


KEY_VARIABLE: Final = "SHOUWANG_PANEL_KEY"
"""The environment variable the command line reads the panel's AES key from."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `alarm-panel` command line options."""
    parser.add_argument("--host", default="127.0.0.1", help="the receiver's address")
    parser.add_argument("--port", type=int, default=12128, help="the receiver's port")
    parser.add_argument("--account", required=True, help="the panel's account (hex digits)")
    parser.add_argument("--transport", choices=[t.value for t in Transport], default="tcp")
    parser.add_argument("--protocol", choices=[p.value for p in Protocol], default="ADM-CID")
    parser.add_argument(
        "--key-encoding", choices=["ascii", "hex"], default="ascii", help=f"of ${KEY_VARIABLE}"
    )
    plays = parser.add_mutually_exclusive_group()
    plays.add_argument("--script", help="steps DELAY:CODE/ZONE,... e.g. '5:1130/1' or '5:BA/1'")
    plays.add_argument("--random-mean-s", type=float, help="random events, mean interval")
    parser.add_argument("--codes", default="1130/1,3130/1,1120/3", help="codes for --random")
    parser.add_argument("--null-interval-s", type=float, help="send NULL link tests this often")
    parser.add_argument(
        "--fault", action="append", choices=[f.value for f in Fault], default=[], help="repeatable"
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of faulty frames")
    parser.add_argument("--seed", type=int, default=1)


async def run_from_arguments(args: argparse.Namespace, key: str | None) -> None:
    """Run a panel as the command line says; print each event and its answer."""
    protocol = Protocol(args.protocol)
    rng = random.Random(args.seed)  # noqa: S311 - reproducible
    faults = Misbehaviour([Fault(f) for f in args.fault], args.fault_rate, rng)
    async with (
        AlarmPanel(
            args.host,
            args.port,
            args.account,
            transport=Transport(args.transport),
            protocol=protocol,
            key=None if not key else encode_key(key, args.key_encoding),
        ) as panel,
        asyncio.TaskGroup() as tasks,
    ):
        if args.null_interval_s:
            tasks.create_task(panel.supervise(args.null_interval_s), name="panel:null")
        if args.script is not None:
            results = panel.run_script(parse_script(args.script, protocol), faults)
        elif args.random_mean_s is not None:
            steps = parse_script(",".join(f"0:{code}" for code in args.codes.split(",")), protocol)
            codes = [event for _, event in steps]
            results = panel.run_random(codes, args.random_mean_s, rng, faults)
        else:  # NULL link tests only (or nothing at all)
            return
        async for event, answer in results:
            print(event, answer.token if answer else "no answer", flush=True)  # noqa: T201 - the tool's output
