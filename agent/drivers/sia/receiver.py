"""One frame in, one answer out: the receiver's decision for each DC-09 frame.

In order: CRC and length (wrong: no answer), header (unparseable, unknown id token:
DUH), account and key (an encrypted frame that cannot be decrypted, or a plain frame
for an account that has a key: DUH), timestamp window (outside it, or an encrypted
frame without one: NAK with the receiver's time), retransmission (already stored: ACK),
then the events are appended to the outbox and only once every append has returned is
the frame ACKed. When the outbox cannot store (`OutboxError`) there is no answer: the
panel sends the frame again. A code or an account nobody configured is not refused: it
becomes an `unknown` event (P0) and is ACKed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import wire
from agent.drivers.sia.answers import ack, duh, nak
from agent.drivers.sia.crypto import CryptoError, decrypt
from agent.drivers.sia.dedup import SeqKey
from agent.drivers.sia.framing import FrameError, Token, parse_frame, parse_header
from agent.drivers.sia.messages import (
    Content,
    ContentError,
    parse_content,
    read_contact_id,
    read_sia_dcs,
)
from agent.drivers.sia.routing import presence_draft, signal_drafts
from agent.errors import EventShed, OutboxError
from wire import EventType

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from agent.drivers.sia.dedup import SequenceMemory
    from agent.drivers.sia.framing import Header
    from agent.drivers.sia.routing import Route, Routes
    from agent.drivers.sia.supervision import Supervisor
    from agent.outbox import Draft, Outbox

__all__ = ["DEFAULT_WINDOW", "FrameHandler", "Tally"]

logger = logging.getLogger(__name__)

DEFAULT_WINDOW: Final = (timedelta(seconds=40), timedelta(seconds=20))
"""Past and future tolerance of the timestamp of an account nobody configured."""
_READERS: Final = {Token.ADM_CID: read_contact_id, Token.SIA_DCS: read_sia_dcs, Token.NULL: None}
"""How each id token's data is read (NULL, a link test, has no events)."""


@dataclass(slots=True)
class Tally:
    """What the receiver did with the frames it got, for its health and for tests."""

    frames: int = 0
    acked: int = 0
    nak: int = 0
    duh: int = 0
    silent: int = 0  # bad CRC or length: no answer
    duplicates: int = 0
    unknown: int = 0
    not_stored: int = 0  # the outbox failed: no answer


class _Refuse(Exception):  # noqa: N818 - control flow inside `handle`, never escapes it
    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer


class FrameHandler:
    """Turns each frame into its answer, storing its events first."""

    def __init__(
        self,
        routes: Routes,
        outbox: Outbox,
        memory: SequenceMemory,
        supervisor: Supervisor,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._routes = routes
        self._outbox = outbox
        self._memory = memory
        self._supervisor = supervisor
        self._clock = clock
        self._inflight: dict[SeqKey, asyncio.Future[bool]] = {}
        self.tally = Tally()

    async def handle(self, frame: bytes) -> bytes | None:
        """The answer to `frame` (None: say nothing), once its events are stored."""
        self.tally.frames += 1
        try:
            answer = await self._handle(frame)
        except _Refuse as refusal:
            answer = refusal.answer
        return answer

    async def _handle(self, frame: bytes) -> bytes | None:
        try:
            body = parse_frame(frame)
        except FrameError as exc:
            self.tally.silent += 1
            logger.debug("sia: frame ignored: %s", exc)
            return None
        try:
            header = parse_header(body)
        except FrameError as exc:  # it arrived intact, and it is not DC-09
            raise self._duh(None, str(exc)) from exc
        if header.token not in _READERS:
            raise self._duh(header, f"unknown id token {header.token!r}")
        read = _READERS[Token(header.token)]
        route = self._routes.get(header.account)
        text = self._plaintext(header, route)
        content = self._content(header, text)
        self._check_window(header, route, content)
        if route is not None and self._supervisor.heard(route.account.account):
            # Back after missed supervision: `device.online` first, stored before the ACK.
            if not await self._store([presence_draft(route, EventType.DEVICE_ONLINE, header)]):
                return None
            self._supervisor.came_online(route.account.account)
        if read is not None:
            raw = f'"{"*" if header.encrypted else ""}{header.token}"{header.echo}[{text}'
            signals = read(content.data)
            drafts = signal_drafts(
                self._routes, route, header, content=content, signals=signals, raw=raw
            )
            if not await self._store_once(header, content, drafts):
                return None
        self.tally.acked += 1
        return ack(header, None if route is None else route.key, self._clock())

    def _duh(self, header: Header | None, why: str) -> _Refuse:
        self.tally.duh += 1
        account = None if header is None else header.account
        logger.info("sia: DUH to account %s: %s", account, why)
        return _Refuse(duh(header))

    def _plaintext(self, header: Header, route: Route | None) -> str:
        """The message after its ``[``, decrypted if it was encrypted."""
        key = None if route is None else route.key
        if header.encrypted and key is None:
            raise self._duh(header, "encrypted, but no key is configured for the account")
        if not header.encrypted and key is not None:
            raise self._duh(header, "not encrypted, but the account has a key")
        try:
            data = header.rest if key is None else decrypt(key, header.rest)
            return data.decode("ascii")
        except (CryptoError, UnicodeDecodeError) as exc:
            raise self._duh(header, f"cannot decrypt: {exc}") from exc

    def _content(self, header: Header, text: str) -> Content:
        try:
            return parse_content(text)
        except ContentError as exc:
            if header.encrypted:  # a wrong key can decrypt to a '|' by chance, but not this
                raise self._duh(header, str(exc)) from exc
            # Plain data we cannot read may still be an alarm: an `unknown` event.
            return Content(data=text, extended=(), timestamp=None)

    def _check_window(self, header: Header, route: Route | None, content: Content) -> None:
        now = self._clock()
        past, future = (
            DEFAULT_WINDOW
            if route is None
            else (
                timedelta(seconds=route.account.window_past_s),
                timedelta(seconds=route.account.window_future_s),
            )
        )
        stamp = content.timestamp
        if stamp is None and not header.encrypted:
            return
        if stamp is None or not now - past <= stamp <= now + future:
            self.tally.nak += 1
            logger.info(
                "sia: NAK to account %s seq %s: timestamp %s outside the window at %s",
                header.account,
                header.seq,
                stamp,
                now,
            )
            raise _Refuse(nak(header, now))

    async def _store_once(self, header: Header, content: Content, drafts: list[Draft]) -> bool:
        """Store `drafts` unless this frame was stored already; whether it is stored now."""
        key = SeqKey(header.account or "", header.receiver or "", header.line, header.seq)
        digest = hashlib.blake2b(
            "\x1f".join((header.token, content.data, *content.extended)).encode(), digest_size=8
        ).hexdigest()
        if self._memory.is_retransmission(key, digest):
            self.tally.duplicates += 1
            logger.debug("sia: retransmission of account %s seq %s", header.account, header.seq)
            return True
        pending = self._inflight.get(key)
        if pending is not None:  # the same frame, again, while the first is being stored
            self.tally.duplicates += 1
            return await asyncio.shield(pending)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[key] = done
        stored = False
        try:
            stored = await self._store(drafts)
            if stored:
                self._memory.remember(key, digest)
        finally:
            del self._inflight[key]
            done.set_result(stored)
        return stored

    async def store_presence(self, draft: Draft) -> bool:
        """Append a supervision event (`device.offline`); whether it is stored."""
        return await self._store([draft])

    async def _store(self, drafts: Sequence[Draft]) -> bool:
        """Append every draft; whether all are stored (a shed event counts as stored)."""
        if not drafts:
            return True
        outcomes = await asyncio.gather(
            *(self._outbox.append(draft) for draft in drafts), return_exceptions=True
        )
        stored = True
        for draft, outcome in zip(drafts, outcomes, strict=True):
            match outcome:
                case wire.Event() as event:
                    if event.type is EventType.UNKNOWN:
                        self.tally.unknown += 1
                    logger.info(
                        "sia: stored %s of %s as seq %d (id %s)",
                        event.type,
                        event.device,
                        event.seq,
                        event.id,
                    )
                case EventShed() as shed:
                    # Policy, not failure: a retransmission would be shed again, and would
                    # hold the panel's later alarms back behind it.
                    logger.warning("sia: %s of %s shed: %s", draft.type, draft.device, shed)
                case OutboxError() | wire.WireError() as failure:
                    stored = False
                    logger.error("sia: %s of %s not stored: %s", draft.type, draft.device, failure)
                case BaseException() as other:
                    raise other
        if not stored:
            self.tally.not_stored += 1
        return stored
