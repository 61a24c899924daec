"""`python -m hub check --config FILE`: is this server ready to run the hub?

It validates the config (and refuses the installer skeleton's `change-me` placeholders),
then probes, at once: PostgreSQL (reachable with these credentials, version, schema
migrated, TimescaleDB present or not), the rules file, the API's port (free, or held by
the running hub), the broker with the hub's credentials and TLS, and every enabled
webhook (allowed by the config's policy, resolving, accepting a connection). It prints a
table, one row per probe with the specific reason of a failure, and returns the exit
code: 0 all works, 1 a probe failed, 2 the config cannot be used. It writes nothing:
no migration, no MQTT message, no webhook request.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final, TextIO

import aiomqtt
import psycopg

from hub._tls import tls_context
from hub._yaml import YamlError, compose
from hub.config import load_config
from hub.errors import ConfigError, HubError
from hub.notify.destinations import DestinationPolicy, DestinationRefused, check_url, resolve
from hub.rules import RulesError
from hub.runtime import rules_of
from hub.storage.migrate import known_migrations

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator, Sequence
    from pathlib import Path

    from hub.config import HubConfig

__all__ = ["PLACEHOLDER", "Row", "Verdict", "check_config", "run_check"]

PLACEHOLDER: Final = "change-me"
MIN_SERVER: Final = 150000  # PostgreSQL 15
_REFUSED: Final = {
    4: "wrong user name or password",
    5: "not authorised: wrong password, or the user is not provisioned (or was revoked)",
    134: "wrong user name or password",
    135: "not authorised: wrong password, or the user is not provisioned (or was revoked)",
}
_PROTOCOLS: Final = {"3.1.1": aiomqtt.ProtocolVersion.V311, "5": aiomqtt.ProtocolVersion.V5}


class Verdict(StrEnum):
    """How a probe went: `ok`, `warn` (works, but look at it) or `FAIL`."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what was checked, where, the verdict and why."""

    check: str
    target: str
    verdict: Verdict
    detail: str


def render(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width table with a closing summary line."""
    lines = [f"{'CHECK':<10} {'TARGET':<34} {'RESULT':<6}  DETAIL"]
    for r in rows:
        target = r.target if len(r.target) <= 34 else r.target[:33] + "…"
        lines.append(f"{r.check:<10} {target:<34} {r.verdict.value:<6}  {r.detail}".rstrip())
    failed = sum(r.verdict is Verdict.FAIL for r in rows)
    warned = sum(r.verdict is Verdict.WARN for r in rows)
    lines.append(f"{len(rows)} checked: {failed} failed, {warned} warnings")
    return "\n".join(lines) + "\n"


def run_check(path: Path, out: TextIO) -> int:
    """Check the config at `path` and this server; print the table to `out`; the exit code."""
    rows, code = asyncio.run(check_config(path))
    out.write(render(rows))
    return code


async def check_config(path: Path) -> tuple[list[Row], int]:
    """The rows of every check of `path` and the exit code they make."""
    rows = list(_placeholders(path))
    try:
        config = load_config(path)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            if line.startswith(f"{path}"):
                where, _, detail = line.removeprefix(f"{path}").partition(": ")
                rows.append(Row("config", f"{path.name}{where}", Verdict.FAIL, detail))
            elif line != "invalid configuration:":
                rows.append(Row("config", path.name, Verdict.FAIL, line))
        return rows, 2
    rows.insert(0, Row("config", str(path), Verdict.OK, "valid"))
    if any(r.verdict is Verdict.FAIL for r in rows):
        return rows, 2
    for found in await asyncio.gather(*_probes(config)):
        rows += found
    return rows, 1 if any(r.verdict is Verdict.FAIL for r in rows) else 0


def _placeholders(path: Path) -> Iterator[Row]:
    try:
        raw, lines = compose(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, YamlError):
        return  # load_config reports it
    for loc, value in _scalars(raw, ()):
        if PLACEHOLDER in value.lower():
            key = ".".join(str(step) for step in loc)
            where = f"{path.name}:{lines.get(loc, '?')}"
            yield Row("config", where, Verdict.FAIL, f"{key}: still a placeholder: set it")


def _scalars(
    data: object, loc: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _scalars(value, (*loc, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _scalars(value, (*loc, index))
    elif isinstance(data, str):
        yield loc, data


async def _one(probe: Coroutine[object, object, Row]) -> list[Row]:
    return [await probe]


def _probes(config: HubConfig) -> Iterator[Coroutine[object, object, list[Row]]]:
    yield _one(_rules(config))
    yield _one(asyncio.to_thread(_api_port, config.api.host, config.api.port))
    yield _one(_broker(config))
    yield _database_and_webhooks(config)


async def _rules(config: HubConfig) -> Row:
    target = str(config.rules.path or "hub/rules/defaults.yaml")
    try:
        rules = rules_of(config.rules)
    except RulesError as exc:
        return Row("rules", target, Verdict.FAIL, str(exc))
    return Row("rules", target, Verdict.OK, f"{len(rules.rules)} rules")


def _api_port(host: str, port: int) -> Row:
    target = f"{host}:{port}"
    if port == 0:
        return Row("api", target, Verdict.OK, "port 0: a free port is picked at start")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return Row("api", target, Verdict.FAIL, f"cannot listen: {exc.strerror or exc}")
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                sock.sendall(b"GET /health HTTP/1.0\r\nHost: check\r\n\r\n")
                answer = sock.recv(4096)
        except OSError:
            answer = b""
        if b'"status"' in answer or b"shouwang" in answer.lower():
            return Row("api", target, Verdict.OK, "held by a running hub (/health answers)")
        return Row("api", target, Verdict.FAIL, f"port {port} is in use by another program")
    return Row("api", target, Verdict.OK, "free: the hub can listen here")


async def _broker(config: HubConfig) -> Row:
    mqtt = config.mqtt
    target = f"{mqtt.host}:{mqtt.port}"
    try:
        context = None if mqtt.tls is None else tls_context(mqtt.tls)
    except HubError as exc:
        return Row("broker", target, Verdict.FAIL, str(exc))
    try:
        async with asyncio.timeout(mqtt.timeout_s):
            _, writer = await asyncio.open_connection(
                mqtt.host, mqtt.port, ssl=context, server_hostname=mqtt.host if context else None
            )
        writer.close()
    except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        return Row("broker", target, Verdict.FAIL, _connect_reason(exc, mqtt.host, mqtt.port))
    client = aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=None if mqtt.password is None else mqtt.password.get_secret_value(),
        identifier=f"shouwang-check-hub-{uuid.uuid4().hex[:8]}",
        protocol=_PROTOCOLS[mqtt.protocol],
        timeout=mqtt.timeout_s,
        tls_context=context,
    )
    try:
        async with asyncio.timeout(mqtt.timeout_s + 1), client:
            pass
    except aiomqtt.MqttCodeError as exc:
        code = getattr(exc.rc, "value", exc.rc)
        reason = _REFUSED.get(code if isinstance(code, int) else -1, f"refused ({exc})")
        return Row(
            "broker", target, Verdict.FAIL, f"the broker refused user {mqtt.username!r}: {reason}"
        )
    except (aiomqtt.MqttError, TimeoutError) as exc:
        return Row("broker", target, Verdict.FAIL, f"no MQTT answer: {exc or 'timed out'}")
    transport = "TCP" if context is None else "TLS"
    detail = f"user {mqtt.username!r} accepted over {transport} (MQTT {mqtt.protocol})"
    return Row("broker", target, Verdict.OK, detail)


def _connect_reason(exc: BaseException, host: str, port: int) -> str:
    match exc:
        case socket.gaierror():
            reason = f"cannot resolve {host!r}: {exc.strerror}"
        case ConnectionRefusedError():
            reason = f"connection refused: nothing listens on port {port} (broker down? mqtt.port?)"
        case ssl.SSLCertVerificationError():
            reason = f"TLS: the broker's certificate is refused: {exc.verify_message} (mqtt.tls)"
        case ssl.SSLError():
            reason = f"TLS handshake failed ({exc.reason}): is port {port} a TLS listener?"
        case _:
            reason = f"cannot connect: {exc or type(exc).__name__}"
    return reason


async def _database_and_webhooks(config: HubConfig) -> list[Row]:
    """The database's row, and the webhooks' when the schema is there to list them."""
    url = config.database.url.get_secret_value()
    target = _safe_url(url)
    try:
        async with asyncio.timeout(config.database.connect_timeout_s + 1):
            conn = await psycopg.AsyncConnection.connect(
                url, autocommit=True, connect_timeout=max(1, int(config.database.connect_timeout_s))
            )
    except (psycopg.Error, TimeoutError, OSError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "timed out"
        detail = f"cannot connect: {reason.replace(url, '***')}"
        return [Row("database", target, Verdict.FAIL, detail)]
    async with conn:
        database = await _database(conn, target)
        if database.verdict is not Verdict.OK:
            return [database]
        return [database, await _webhooks(conn, config)]


async def _database(conn: psycopg.AsyncConnection[tuple[object, ...]], target: str) -> Row:
    server = int(str((await (await conn.execute("SHOW server_version_num")).fetchone() or (0,))[0]))
    if server < MIN_SERVER:
        return Row(
            "database", target, Verdict.FAIL, f"PostgreSQL {server // 10000}: 15 or newer needed"
        )
    found = await (
        await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    ).fetchone()
    available = await (
        await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).fetchone()
    if found is not None:
        timescale = f"TimescaleDB {found[0]}"
    elif available is not None:
        timescale = "TimescaleDB available but not created in this database (plain tables)"
    else:
        timescale = "no TimescaleDB: plain PostgreSQL (works; statistics from events)"
    known = len(known_migrations())
    exists = await (await conn.execute("SELECT to_regclass('schema_migrations')")).fetchone()
    applied = 0
    if exists is not None and exists[0] is not None:
        row = await (await conn.execute("SELECT count(*) FROM schema_migrations")).fetchone()
        applied = int(str(row[0])) if row else 0
    version = f"PostgreSQL {server // 10000}.{server % 10000}"
    if applied > known:
        detail = f"{version}: the schema is newer ({applied}) than this hub knows ({known})"
        return Row("database", target, Verdict.FAIL, detail)
    if applied < known:
        detail = f"{version}, {timescale}; {known - applied} migrations pending (run `migrate`)"
        return Row("database", target, Verdict.WARN, detail)
    return Row("database", target, Verdict.OK, f"{version}, {timescale}, schema up to date")


async def _webhooks(conn: psycopg.AsyncConnection[tuple[object, ...]], config: HubConfig) -> Row:
    """One row for every enabled webhook: allowed, resolving and accepting a connection."""
    cursor = await conn.execute("SELECT id, url FROM webhook_endpoints WHERE enabled ORDER BY url")
    endpoints = await cursor.fetchall()
    policy = DestinationPolicy(
        allow_networks=tuple(config.webhooks.allow_networks), allow_http=config.webhooks.allow_http
    )
    problems: list[str] = []
    for endpoint_id, url in endpoints:
        try:
            destination = check_url(str(url), policy)
            address = await resolve(destination, policy)
            async with asyncio.timeout(config.webhooks.connect_timeout_s):
                context = ssl.create_default_context() if destination.scheme == "https" else None
                _, writer = await asyncio.open_connection(
                    str(address), destination.port, ssl=context,
                    server_hostname=destination.host if context else None,
                )  # fmt: skip
            writer.close()
        except DestinationRefused as exc:
            problems.append(f"webhook {endpoint_id}: refused by the policy: {exc}")
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            problems.append(f"webhook {endpoint_id}: cannot connect: {exc or 'timed out'}")
    target = f"{len(endpoints)} enabled"
    if problems:
        return Row("webhooks", target, Verdict.FAIL, "; ".join(problems))
    detail = "every one accepts a connection" if endpoints else "none registered"
    return Row("webhooks", target, Verdict.OK, detail)


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}{'@' if at else ''}{host}"
