"""The HTTP push driver: local devices POST their events as JSON.

::

    POST /v1/devices/{device}/events
    Authorization: Bearer <the device's token>
    Content-Type: application/json

    {"type": "door.opened", "at": "2025-03-01T16:15:02+08:00", "data": {"door": 2}}

`type` is a v1 event type (required); `at` is the device's time, RFC 3339 with an offset
or `Z` (optional; the agent's `at` rule decides whether it is used); `data` is an object
(optional). Nothing else is accepted.

The answer is 201 `{"id", "seq", "at"}` only once the event is in the outbox on disk;
every refusal is `{"error": <code>, "detail": <text>}` with the status of `REFUSALS`,
and nothing is stored. A 503 means the outbox could not take it: the device retries.
A 507 (`shed`) means the outbox is full and shed this (P1 or P2) event, counted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from http import HTTPStatus
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NoReturn, Self

from aiohttp import web

import wire
from agent.errors import DriverError, EventShed, OutboxError
from agent.outbox import Draft
from wire import DriverState, EventType

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from aiohttp.typedefs import Handler

    from agent.config import DeviceConfig, HttpPushConfig
    from agent.outbox import Outbox

__all__ = ["DRIVER", "FIELDS", "PATH", "REFUSALS", "Code", "HttpPushServer", "Refusal"]

logger = logging.getLogger(__name__)

DRIVER: Final = "http"
PATH: Final = "/v1/devices/{device}/events"
FIELDS: Final = ("type", "at", "data")
_SHUTDOWN_S: Final = 5.0


class Code(StrEnum):
    """The `error` of a refused push."""

    BAD_JSON = "bad_json"
    NOT_AN_OBJECT = "not_an_object"
    UNAUTHORIZED = "unauthorized"
    WRONG_DEVICE = "wrong_device"
    UNKNOWN_DEVICE = "unknown_device"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_EVENT = "invalid_event"
    OUTBOX_UNAVAILABLE = "outbox_unavailable"
    SHED = "shed"


REFUSALS: Final = MappingProxyType(
    {
        Code.BAD_JSON: HTTPStatus.BAD_REQUEST,
        Code.NOT_AN_OBJECT: HTTPStatus.BAD_REQUEST,
        Code.UNAUTHORIZED: HTTPStatus.UNAUTHORIZED,
        Code.WRONG_DEVICE: HTTPStatus.FORBIDDEN,
        Code.UNKNOWN_DEVICE: HTTPStatus.NOT_FOUND,
        Code.NOT_FOUND: HTTPStatus.NOT_FOUND,
        Code.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
        Code.TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        Code.UNSUPPORTED_MEDIA_TYPE: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        Code.INVALID_EVENT: HTTPStatus.UNPROCESSABLE_ENTITY,
        Code.OUTBOX_UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
        Code.SHED: HTTPStatus.INSUFFICIENT_STORAGE,
    }
)
"""Every error code a push can get, and its HTTP status."""

# aiohttp's own refusals (no route, wrong method, body over the limit), by status.
_CODE_OF_STATUS: Final = {
    HTTPStatus.NOT_FOUND: Code.NOT_FOUND,
    HTTPStatus.METHOD_NOT_ALLOWED: Code.METHOD_NOT_ALLOWED,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: Code.TOO_LARGE,
}
_JSON_NAMES: Final = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
_EVENT_TYPES: Final = {event_type.value: event_type for event_type in EventType}


class Refusal(Exception):  # noqa: N818 - it is what the device gets back, not a failure
    """A push the driver answers with an error status; nothing was stored."""

    def __init__(self, code: Code, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.status = REFUSALS[code]
        self.detail = detail
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class _Device:
    """What the driver needs of a configured device."""

    config: DeviceConfig
    token: bytes


def _json_name(value: object) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


class HttpPushServer:
    """The HTTP push server, as an async context manager: listening from entry to exit."""

    def __init__(
        self, config: HttpPushConfig, devices: Iterable[DeviceConfig], outbox: Outbox
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._devices: dict[str, _Device] = {}
        self._owners: dict[bytes, str] = {}  # sha256(token) -> device id
        for device in devices:
            if device.driver == DRIVER and device.token is not None:
                token = device.token.get_secret_value().encode()
                self._devices[device.id] = _Device(device, token)
                self._owners[hashlib.sha256(token).digest()] = device.id
        self._runner: web.AppRunner | None = None
        self._port = config.port

    async def __aenter__(self) -> Self:
        app = web.Application(
            client_max_size=self._config.max_body_bytes, middlewares=[self._refusals]
        )
        app.router.add_post(PATH, self._push)
        runner = web.AppRunner(app, shutdown_timeout=_SHUTDOWN_S)
        await runner.setup()
        site = web.TCPSite(runner, self._config.host, self._config.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise DriverError(
                f"http push: cannot listen on {self._config.host}:{self._config.port}: {exc}"
            ) from exc
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        logger.info(
            "http push: listening on %s:%d for %d devices",
            self._config.host,
            self._port,
            len(self._devices),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def port(self) -> int:
        """The port listened on (the configured one, or the one picked for port 0)."""
        return self._port

    def health(self) -> wire.DriverHealth:
        """The driver's health for the agent status."""
        if self._runner is None:
            return wire.DriverHealth(state=DriverState.DOWN, detail="not listening")
        detail = f"listening on {self._config.host}:{self._port}"
        return wire.DriverHealth(state=DriverState.OK, detail=detail)

    # Request handling.

    @web.middleware
    async def _refusals(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every error as `{"error", "detail"}` JSON, aiohttp's own included."""
        try:
            return await handler(request)
        except Refusal as refusal:
            logger.info(
                "http push: %s %s refused %d %s: %s",
                request.method,
                request.path,
                refusal.status,
                refusal.code,
                refusal.detail,
            )
            return _error(refusal.status, refusal.code, refusal.detail, refusal.headers)
        except web.HTTPException as exc:
            if exc.status < HTTPStatus.BAD_REQUEST:
                raise
            status = HTTPStatus(exc.status)
            code = _CODE_OF_STATUS.get(status, status.phrase.lower().replace(" ", "_"))
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            match status:
                case HTTPStatus.NOT_FOUND:
                    detail = f"no such path {request.path!r}; push to POST {PATH}"
                case HTTPStatus.METHOD_NOT_ALLOWED:
                    detail = f"{request.method} is not allowed here; use POST"
                case _:
                    detail = exc.text or status.phrase
            return _error(status, code, detail, headers)

    async def _push(self, request: web.Request) -> web.Response:
        device = self._authorise(request)
        body = await self._read_json(request)
        draft = self._draft(device, body, request.remote)
        try:
            event = await self._outbox.append(draft)
        except wire.WireError as exc:
            raise Refusal(Code.INVALID_EVENT, str(exc)) from exc
        except EventShed as exc:
            logger.warning("http push: event from %s shed: %s", device.config.id, exc)
            raise Refusal(Code.SHED, str(exc)) from exc
        except OutboxError as exc:
            logger.exception("http push: event from %s not stored", device.config.id)
            detail = "the event could not be stored; retry later"
            raise Refusal(Code.OUTBOX_UNAVAILABLE, detail, headers={"Retry-After": "5"}) from exc
        logger.info(
            "http push: stored %s from %s as seq %d (id %s)",
            event.type,
            event.device,
            event.seq,
            event.id,
        )
        answer = {"id": str(event.id), "seq": event.seq, "at": event.at}
        return web.json_response(answer, status=HTTPStatus.CREATED)

    def _authorise(self, request: web.Request) -> _Device:
        """The device the request is for, once its bearer token is that device's own.

        A token that belongs to no device is 401 whatever the path says, so that an
        unauthenticated caller learns nothing about which devices exist.
        """
        challenge = {"WWW-Authenticate": 'Bearer realm="shouwang-agent"'}
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refusal(
                Code.UNAUTHORIZED, "send Authorization: Bearer <token>", headers=challenge
            )
        presented = token.strip().encode()
        claimed = self._devices.get(request.match_info["device"])
        if claimed is not None and hmac.compare_digest(presented, claimed.token):
            return claimed
        owner = self._owners.get(hashlib.sha256(presented).digest())
        if owner is None:
            raise Refusal(Code.UNAUTHORIZED, "the token is not valid", headers=challenge)
        if claimed is None:
            name = request.match_info["device"]
            raise Refusal(Code.UNKNOWN_DEVICE, f"no device {name!r} is configured")
        raise Refusal(
            Code.WRONG_DEVICE, f"the token is not the one of device {claimed.config.id!r}"
        )

    async def _read_json(self, request: web.Request) -> dict[str, object]:
        if request.content_type != "application/json":
            detail = f"send Content-Type: application/json, not {request.content_type!r}"
            raise Refusal(Code.UNSUPPORTED_MEDIA_TYPE, detail)
        if request.charset not in (None, "utf-8"):
            raise Refusal(Code.UNSUPPORTED_MEDIA_TYPE, f"send UTF-8, not {request.charset!r}")
        limit = self._config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            detail = f"the body is {request.content_length} bytes, over the {limit}-byte limit"
            raise Refusal(Code.TOO_LARGE, detail)
        raw = await request.read()  # raises 413 past client_max_size when not announced
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise Refusal(Code.BAD_JSON, f"the body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise Refusal(
                Code.NOT_AN_OBJECT, f"the body must be a JSON object, not {_json_name(body)}"
            )
        return body

    def _draft(self, device: _Device, body: dict[str, object], remote: str | None) -> Draft:
        for name in body:
            if name not in FIELDS:
                raise Refusal(
                    Code.INVALID_EVENT, f"unknown field {name!r}; a push has {', '.join(FIELDS)}"
                )
        match body.get("type"):
            case None:
                raise Refusal(Code.INVALID_EVENT, "field 'type' is required")
            case str() as name if name in _EVENT_TYPES:
                event_type = _EVENT_TYPES[name]
            case str() as name:
                raise Refusal(Code.INVALID_EVENT, f"field 'type': {name!r} is not a v1 event type")
            case other:
                raise Refusal(
                    Code.INVALID_EVENT, f"field 'type' must be a string, not {_json_name(other)}"
                )
        match body.get("data", {}):
            case dict() as data:
                pass
            case other:
                raise Refusal(
                    Code.INVALID_EVENT, f"field 'data' must be an object, not {_json_name(other)}"
                )
        return Draft(
            device=device.config.id,
            kind=device.config.kind,
            type=event_type,
            source={"driver": DRIVER, "remote": remote},
            data=data,
            device_time=_device_time(body.get("at")),
        )


def _device_time(value: object) -> datetime | None:
    """The device's `at`: RFC 3339 with an offset or `Z`, or absent."""
    match value:
        case None:
            return None
        case str():
            try:
                moment = datetime.fromisoformat(value)
            except ValueError as exc:
                raise Refusal(
                    Code.INVALID_EVENT, f"field 'at': {value!r} is not an RFC 3339 time"
                ) from exc
            if moment.utcoffset() is None:
                raise Refusal(Code.INVALID_EVENT, f"field 'at': {value!r} has no UTC offset or Z")
            return moment
        case other:
            raise Refusal(
                Code.INVALID_EVENT, f"field 'at' must be a string, not {_json_name(other)}"
            )


def _error(
    status: HTTPStatus, code: str, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status, headers=headers)
