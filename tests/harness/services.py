"""Where the tests find their shared MQTT broker and PostgreSQL server.

For each service, in order:

1. the environment variable, when set (`SHOUWANG_TEST_MQTT_URL`, `SHOUWANG_TEST_DATABASE_URL`).
   It is then the only candidate: a dead or unfit service named there is an error, never
   a silent fallback to something else;
2. the machine's own service, when it answers: Mosquitto at 127.0.0.1:1883, PostgreSQL at
   postgresql://postgres@127.0.0.1:5432/postgres.

Otherwise `ServiceUnavailable`, whose message names what is missing and how to provide it.
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg

from tests.harness.errors import ServiceUnavailable, ServiceUrlError
from tests.harness.probes import CONNACK_REASONS, mqtt_connack

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_MQTT_URL",
    "MQTT_URL_ENV",
    "MqttEndpoint",
    "database_url_for",
    "parse_database_url",
    "parse_mqtt_url",
    "redact_url",
    "resolve_database",
    "resolve_mqtt",
]

MQTT_URL_ENV = "SHOUWANG_TEST_MQTT_URL"
DATABASE_URL_ENV = "SHOUWANG_TEST_DATABASE_URL"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_MQTT_URL_FORM = "mqtt://[user[:password]@]host[:port]"
_PROBE_TIMEOUT = 2.0


def _url_host(host: str) -> str:
    """`host` as it appears in a URL: IPv6 literals go in brackets."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where an MQTT broker listens and the credentials to present (plain TCP only)."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.host:
            msg = "an MQTT endpoint needs a host"
            raise ServiceUrlError(msg)
        if not 0 < self.port < 65536:
            raise ServiceUrlError(f"MQTT port {self.port} is outside 1-65535")
        if self.password is not None and self.username is None:
            msg = "an MQTT password needs a user name"
            raise ServiceUrlError(msg)

    @classmethod
    def from_url(cls, url: str) -> "MqttEndpoint":
        """Parse `mqtt://[user[:password]@]host[:port]`; see `parse_mqtt_url`."""
        return parse_mqtt_url(url)

    @property
    def url(self) -> str:
        """The endpoint as an mqtt:// URL, credentials included."""
        userinfo = ""
        if self.username is not None:
            userinfo = quote(self.username, safe="")
            if self.password is not None:
                userinfo += ":" + quote(self.password, safe="")
            userinfo += "@"
        return f"mqtt://{userinfo}{_url_host(self.host)}:{self.port}"

    @property
    def redacted_url(self) -> str:
        """The URL with any password replaced by `***`, fit for messages and logs."""
        return redact_url(self.url)


def redact_url(url: str) -> str:
    """`url` with its password (if any) replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """An `MqttEndpoint` from `mqtt://[user[:password]@]host[:port]` (port defaults to 1883).

    Raises ServiceUrlError naming the URL (password redacted) and the expected form.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ServiceUrlError(f"{shown!r} is not a URL of the form {_MQTT_URL_FORM}") from exc
    if parts.scheme != "mqtt":
        raise ServiceUrlError(
            f"{shown!r} has scheme {parts.scheme!r}; expected {_MQTT_URL_FORM} "
            "(TLS is not supported)"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ServiceUrlError(f"{shown!r} has a path or query; expected {_MQTT_URL_FORM}")
    if not parts.hostname:
        raise ServiceUrlError(f"{shown!r} names no host; expected {_MQTT_URL_FORM}")
    return MqttEndpoint(
        host=parts.hostname,
        port=1883 if port is None else port,
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
    )


def parse_database_url(url: str) -> str:
    """`url` itself once checked to be a postgresql:// (or postgres://) URL with a host.

    Raises ServiceUrlError naming the URL (password redacted).
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ServiceUrlError(f"{shown!r} is not a postgresql:// URL") from exc
    if parts.scheme not in ("postgresql", "postgres"):
        raise ServiceUrlError(
            f"{shown!r} has scheme {parts.scheme!r}; expected postgresql://user@host:port/dbname"
        )
    if not parts.hostname:
        raise ServiceUrlError(
            f"{shown!r} names no host; expected postgresql://user@host:port/dbname"
        )
    return url


def database_url_for(server_url: str, dbname: str) -> str:
    """`server_url` pointing at database `dbname` instead (user, host, port and query kept)."""
    parts = urlsplit(parse_database_url(server_url))
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


def _mqtt_problem(endpoint: MqttEndpoint) -> str | None:
    """Why no usable broker answers at `endpoint`, or None when one does."""
    try:
        code = mqtt_connack(
            endpoint.host,
            endpoint.port,
            username=endpoint.username,
            password=endpoint.password,
            timeout=_PROBE_TIMEOUT,
        )
    except OSError as exc:
        return f"no MQTT answer ({type(exc).__name__}: {exc})"
    if code != 0:
        reason = CONNACK_REASONS.get(code, "unknown reason")
        return f"the broker refused the connection (CONNACK return code {code}: {reason})"
    return None


def resolve_mqtt(environ: Mapping[str, str] = os.environ) -> MqttEndpoint:
    """The shared broker: `SHOUWANG_TEST_MQTT_URL` if set, else the local Mosquitto.

    Raises ServiceUnavailable (or ServiceUrlError, a subclass of HarnessError) with a
    message naming what is missing and how to provide it.
    """
    configured = environ.get(MQTT_URL_ENV)
    if configured:
        try:
            endpoint = parse_mqtt_url(configured)
        except ServiceUrlError as exc:
            raise ServiceUnavailable(f"{MQTT_URL_ENV} is unusable: {exc}") from exc
        problem = _mqtt_problem(endpoint)
        if problem is not None:
            raise ServiceUnavailable(
                f"{MQTT_URL_ENV}={endpoint.redacted_url} names no working MQTT broker: {problem}. "
                f"Start a broker there, point {MQTT_URL_ENV} at one, or unset it to use a "
                f"local Mosquitto at {DEFAULT_MQTT_URL}."
            )
        return endpoint
    endpoint = parse_mqtt_url(DEFAULT_MQTT_URL)
    problem = _mqtt_problem(endpoint)
    if problem is not None:
        raise ServiceUnavailable(
            f"No MQTT broker for the tests: {MQTT_URL_ENV} is not set and {DEFAULT_MQTT_URL} "
            f"gives {problem}. Set {MQTT_URL_ENV}={_MQTT_URL_FORM}, or start Mosquitto "
            "locally (`service mosquitto start`, or `mosquitto -d -p 1883`)."
        )
    return endpoint


def _database_problem(url: str) -> str | None:
    """Why `url` is no server where the tests may create databases, or None when it is."""
    try:
        with psycopg.connect(url, connect_timeout=round(_PROBE_TIMEOUT), autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as exc:
        return f"no connection ({type(exc).__name__}: {str(exc).strip()})"
    if row is None or not row[0]:
        return "the user may not CREATE DATABASE (grant it CREATEDB)"
    return None


def resolve_database(environ: Mapping[str, str] = os.environ) -> str:
    """The shared PostgreSQL server's URL: `SHOUWANG_TEST_DATABASE_URL` if set, else local.

    The URL's user must be allowed to CREATE DATABASE: each test gets a database of its own.
    Raises ServiceUnavailable with a message naming what is missing and how to provide it.
    """
    configured = environ.get(DATABASE_URL_ENV)
    if configured:
        try:
            url = parse_database_url(configured)
        except ServiceUrlError as exc:
            raise ServiceUnavailable(f"{DATABASE_URL_ENV} is unusable: {exc}") from exc
        problem = _database_problem(url)
        if problem is not None:
            raise ServiceUnavailable(
                f"{DATABASE_URL_ENV}={redact_url(url)} names no usable PostgreSQL server: "
                f"{problem}. Fix that server, point {DATABASE_URL_ENV} at another, or unset "
                f"it to use a local PostgreSQL at {DEFAULT_DATABASE_URL}."
            )
        return url
    problem = _database_problem(DEFAULT_DATABASE_URL)
    if problem is not None:
        raise ServiceUnavailable(
            f"No PostgreSQL server for the tests: {DATABASE_URL_ENV} is not set and "
            f"{DEFAULT_DATABASE_URL} gives {problem}. Set {DATABASE_URL_ENV}="
            "postgresql://user[:password]@host:port/dbname (a user with CREATEDB), or start "
            "PostgreSQL locally (`service postgresql start`) with trust auth for `postgres`."
        )
    return DEFAULT_DATABASE_URL
