"""The hub's configuration: one pydantic model per section, loaded once from YAML.

Every field has bounds and a description; unknown keys are refused. `load_config` reads
the file and turns any problem into a `ConfigError` naming the file, line, key and
value (secrets are never echoed). `SHOUWANG_DATABASE_URL`, when set, supplies
`database.url` so the password need not sit in the file.

Runtime values derived from the configuration (the hub id when none is given, the MQTT
client id) are computed by `hub.runtime`, never stored here.
"""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from hub._yaml import Lines, YamlError, compose, describe
from hub.errors import ConfigError
from wire import TopicSpace, WireError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DATABASE_URL_ENV",
    "ApiConfig",
    "ConsoleConfig",
    "DatabaseConfig",
    "HubConfig",
    "IngestConfig",
    "LogConfig",
    "MqttConfig",
    "RulesConfig",
    "StorageConfig",
    "TlsConfig",
    "WebhooksConfig",
    "load_config",
    "parse_config",
]

DATABASE_URL_ENV: Final = "SHOUWANG_DATABASE_URL"
# docs/contract.md, "Hub instance ids": the `hub` field of the hub status. Pydantic's regex
# engine (Rust) has no `\Z`; its `$` already means the very end, newline or not.
HUB_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_SECRET_KEYS: Final = frozenset({"url", "password"})
SHARED_SESSION_EXPIRY_MAX_S: Final = 60
"""Longest MQTT 5 session expiry allowed with `mqtt.share_group` (docs/scale.md)."""


class _Section(BaseModel):
    """Base of every section: closed, frozen, validated on assignment of defaults too."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DatabaseConfig(_Section):
    """Where the hub stores events, dead letters, devices, sites and alerts."""

    url: SecretStr = Field(
        description=(
            "PostgreSQL URL, postgresql://user:password@host:port/dbname. No default: "
            f"set it here or in the {DATABASE_URL_ENV} environment variable."
        ),
    )
    pool_min: int = Field(
        default=1, ge=1, le=50, description="Connections each pool keeps open (ingest, API)."
    )
    pool_max: int = Field(
        default=5, ge=1, le=200, description="Connections each pool may open at most."
    )
    connect_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="How long to wait for a pooled connection."
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr) -> SecretStr:
        scheme = value.get_secret_value().partition("://")[0]
        if scheme not in ("postgresql", "postgres"):
            message = "must be a postgresql:// URL"
            raise ValueError(message)
        return value

    @model_validator(mode="after")
    def _pool_in_order(self) -> Self:
        if self.pool_min > self.pool_max:
            raise ValueError(f"pool_min {self.pool_min} is above pool_max {self.pool_max}")
        return self


class TlsConfig(_Section):
    """TLS to the broker: the broker is always verified; a client certificate is optional."""

    ca_file: Path | None = Field(
        default=None,
        description="PEM CA bundle the broker's certificate must chain to; absent: the "
        "system's CAs.",
    )
    cert_file: Path | None = Field(
        default=None, description="PEM client certificate (with key_file), if the broker asks."
    )
    key_file: Path | None = Field(
        default=None, description="PEM private key of cert_file; readable by the hub only."
    )
    min_version: Literal["1.2", "1.3"] = Field(
        default="1.2", description="Lowest TLS version accepted (1.2 or 1.3)."
    )

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{str(value)!r} is not a readable file")
        return value

    @model_validator(mode="after")
    def _cert_with_key(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            message = "cert_file and key_file go together: set both or neither"
            raise ValueError(message)
        return self


class MqttConfig(_Section):
    """The broker the agents publish to."""

    host: str = Field(
        default="127.0.0.1", min_length=1, max_length=253, description="Broker host name or IP."
    )
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(
        default=None, min_length=1, max_length=256, description="User name, if the broker asks."
    )
    password: SecretStr | None = Field(
        default=None, description="Password for `username`; never logged."
    )
    protocol: Literal["3.1.1", "5"] = Field(
        default="3.1.1", description="MQTT protocol version; the contract needs nothing of 5."
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Fixed client id (default `shouwang-hub-{hub_id}`); keeps the session.",
    )
    topic_prefix: str = Field(
        default="",
        max_length=128,
        description="Namespace in front of every topic; empty in production (the contract).",
    )
    keepalive_s: int = Field(
        default=30, ge=5, le=3600, description="MQTT keepalive; the LWT fires ~1.5x after it."
    )
    session_expiry_s: int = Field(
        default=86400,
        ge=0,
        le=2**32 - 1,
        description="MQTT 5 session expiry: how long the broker queues QoS 1 messages for a "
        "stopped hub. MQTT 3.1.1 sessions last as the broker is configured.",
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long to wait for the broker to answer a connect, subscribe or publish.",
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0, le=600, description="Longest wait between reconnection attempts."
    )
    tls: TlsConfig | None = Field(
        default=None,
        description="TLS to the broker (port 8883, usually); absent: plain TCP, for a demo "
        "on loopback only.",
    )
    share_group: str | None = Field(
        default=None,
        pattern=r"^[^/+#\x00]{1,128}$",
        description="Shared-subscription group of several hubs (`$share/{group}/...` on "
        "events and snapshots: each goes to one hub of the group); absent: a single hub. "
        "With it, MQTT 5 needs session_expiry_s <= 60 and MQTT 3.1.1 uses a clean session.",
    )

    @field_validator("topic_prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        try:
            TopicSpace(value)
        except WireError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _password_needs_user(self) -> Self:
        if self.password is not None and self.username is None:
            message = "password is set but username is not"
            raise ValueError(message)
        return self

    @model_validator(mode="after")
    def _short_shared_session(self) -> Self:
        # A broker keeps giving a dead member of a share group its turn until the
        # member's session expires (measured on Mosquitto 2.0: half of the messages
        # went to a killed member with a 100 s expiry; none with 2 s). docs/scale.md.
        limit = SHARED_SESSION_EXPIRY_MAX_S
        if self.share_group is not None and self.protocol == "5" and self.session_expiry_s > limit:
            raise ValueError(
                f"session_expiry_s {self.session_expiry_s} is above {limit} with share_group: "
                "a dead hub's session would keep receiving its share of the events"
            )
        return self


class ApiConfig(_Section):
    """The HTTP API. Every `/api/v1` route needs a bearer token (`hub token create`);
    `/health` and `/metrics` are open. It listens on loopback unless told otherwise;
    `metrics_host` and `metrics_port` move `/metrics` to an address of its own."""

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=253,
        description="Address to listen on; loopback by default (put TLS in front before "
        "opening it: tokens travel as bearer headers, and /health and /metrics are open).",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    metrics_host: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="Address to serve /metrics on, apart from the API (say, on a monitoring "
        "network while the API stays on loopback); set with metrics_port. Unset: /metrics "
        "is served by the API.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="TCP port of the /metrics listener (0 picks a free one); set with "
        "metrics_host.",
    )

    @model_validator(mode="after")
    def _metrics_address_whole(self) -> Self:
        if (self.metrics_host is None) != (self.metrics_port is None):
            given, missing = (
                ("metrics_host", "metrics_port")
                if self.metrics_port is None
                else ("metrics_port", "metrics_host")
            )
            raise ValueError(f"{given} is set but {missing} is not: set both or neither")
        if (
            self.metrics_port is not None
            and self.metrics_port != 0
            and (self.metrics_host, self.metrics_port) == (self.host, self.port)
        ):
            message = "metrics_host/metrics_port is the API's own address: use another port"
            raise ValueError(message)
        return self


class IngestConfig(_Section):
    """How messages are grouped into database transactions."""

    batch_max: int = Field(
        default=500, ge=1, le=10_000, description="Most messages committed in one transaction."
    )
    batch_wait_ms: int = Field(
        default=50,
        ge=0,
        le=10_000,
        description="Longest wait, after a batch's first message, for the batch to fill.",
    )
    batch_quiet_ms: int = Field(
        default=5,
        ge=0,
        le=10_000,
        description="Commit early once no message has come for this long (low latency at "
        "low rates; copes with the broker's in-flight window).",
    )
    site_rate_per_s: float = Field(
        default=200.0,
        gt=0,
        le=1_000_000,
        description="Messages per second one site may have stored, sustained (its P0 events "
        "are never capped). Excess is neither stored nor acked: the agent resends it.",
    )
    site_burst: int = Field(
        default=2000,
        ge=1,
        le=10_000_000,
        description="Messages one site may have stored at once above its rate (a backlog "
        "drained after an outage goes at the rate once the burst is spent).",
    )


class StorageConfig(_Section):
    """How long events are kept, and when TimescaleDB compresses them (docs/storage.md)."""

    retention_days: int = Field(
        default=180,
        ge=1,
        le=36_500,
        description="Events older than this are deleted: by TimescaleDB's retention "
        "policy, or on plain PostgreSQL by the hub, hourly.",
    )
    compress_after_days: int = Field(
        default=7,
        ge=1,
        le=36_500,
        description="TimescaleDB compresses chunks older than this; set it to the longest "
        "time an agent may buffer events. Ignored without TimescaleDB.",
    )
    snapshot_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Camera snapshots received longer ago than this are deleted, hourly.",
    )

    @model_validator(mode="after")
    def _compress_before_deleting(self) -> Self:
        if self.compress_after_days > self.retention_days:
            raise ValueError(
                f"compress_after_days {self.compress_after_days} is above retention_days "
                f"{self.retention_days}"
            )
        return self


class WebhooksConfig(_Section):
    """Delivery of alert transitions to the webhooks registered through the API
    (docs/alerting.md, "Webhooks")."""

    allow_networks: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        max_length=64,
        description="CIDRs a webhook may point into although they are loopback, private, "
        "link-local, CGNAT or reserved (refused otherwise); empty by default.",
    )
    allow_http: bool = Field(
        default=False, description="Accept plain http:// URLs (https:// only otherwise)."
    )
    connect_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Longest wait to connect to a receiver."
    )
    read_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Longest wait for each read of the answer."
    )
    total_timeout_s: float = Field(
        default=15.0, gt=0, le=300, description="Longest one attempt may take, all told."
    )
    retry_window_s: float = Field(
        default=86400.0,
        gt=0,
        le=7 * 86400,
        description="How long a transition is retried before it is marked failed.",
    )
    backoff_initial_s: float = Field(
        default=5.0, gt=0, le=3600, description="Ceiling of the first retry's random delay."
    )
    backoff_max_s: float = Field(
        default=3600.0,
        gt=0,
        le=86400,
        description="Largest ceiling of a retry's random delay (full jitter under it).",
    )
    rotation_overlap_s: float = Field(
        default=86400.0,
        ge=0,
        le=30 * 86400,
        description="How long the previous secret still signs after a rotation.",
    )
    poll_s: float = Field(
        default=5.0,
        ge=0.05,
        le=300,
        description="How often the webhook relay looks for work without being woken.",
    )
    max_in_flight: int = Field(
        default=32, ge=1, le=1024, description="Most requests in flight at once, per hub."
    )
    max_in_flight_per_endpoint: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Most requests in flight to one endpoint, so a slow one cannot take "
        "every slot.",
    )

    @model_validator(mode="after")
    def _timeouts_and_backoff_in_order(self) -> Self:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError(
                f"backoff_initial_s {self.backoff_initial_s} is above backoff_max_s "
                f"{self.backoff_max_s}"
            )
        return self


class RulesConfig(_Section):
    """The alert rules: which file, and how often the time-driven ones are judged."""

    path: Path | None = Field(
        default=None,
        description="YAML rules file; absent: the rules shipped with the hub "
        "(hub/rules/defaults.yaml). Reloaded on SIGHUP.",
    )
    tick_s: float = Field(
        default=1.0,
        ge=0.05,
        le=60.0,
        description="Seconds between rounds of the rule clock (durations, absences, escalations).",
    )


def _zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


_SITE_KEY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)]
SiteKey = Annotated[str, Field(pattern=_SITE_KEY_PATTERN)]


class ConsoleConfig(_Section):
    """The operator console served at `/` (docs/console.md): sessions and time zones."""

    session_idle_s: int = Field(
        default=3600,
        ge=60,
        le=86_400,
        description="A console session with no request for this long ends (the open "
        "console polls, so this bites only a closed or frozen one).",
    )
    session_max_s: int = Field(
        default=43_200,
        ge=300,
        le=7 * 86_400,
        description="A console session ends this long after sign-in, whatever its use.",
    )
    max_sessions: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most console sessions one hub process holds; sign-in is refused beyond.",
    )
    timezone: TimeZoneName = Field(
        default="Asia/Shanghai", description="The sites' time zone shown beside each time."
    )
    site_timezones: dict[SiteKey, TimeZoneName] = Field(
        default_factory=dict,
        max_length=100_000,
        description="Sites whose time zone is not `timezone`.",
    )

    @model_validator(mode="after")
    def _idle_within_max(self) -> Self:
        if self.session_idle_s > self.session_max_s:
            raise ValueError(
                f"session_idle_s {self.session_idle_s} is above session_max_s {self.session_max_s}"
            )
        return self


class LogConfig(_Section):
    """How the hub logs (journald takes either stream); secrets are never logged."""

    format: Literal["text", "json"] = Field(
        default="text", description="text: `time LEVEL logger: message`; json: one object a line."
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severe level logged (`--log-level` overrides it)."
    )
    stream: Literal["stdout", "stderr"] = Field(
        default="stderr", description="Where log lines go; the installed service uses stdout."
    )


class HubConfig(_Section):
    """The whole configuration of one hub process."""

    hub_id: Annotated[str, Field(pattern=HUB_ID_PATTERN)] | None = Field(
        default=None,
        description="This hub's instance id (default: from the host name); names its "
        "MQTT client and appears in its status.",
    )
    status_interval_s: float = Field(
        default=30.0, ge=0.1, le=3600, description="How often the hub republishes its status."
    )
    database: DatabaseConfig = Field(description="PostgreSQL.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="The broker.")
    api: ApiConfig = Field(default_factory=ApiConfig, description="The HTTP API.")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Batching.")
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Retention and compression."
    )
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Alert rules.")
    webhooks: WebhooksConfig = Field(
        default_factory=WebhooksConfig, description="Webhook delivery of alert transitions."
    )
    console: ConsoleConfig = Field(
        default_factory=ConsoleConfig, description="The operator console."
    )
    log: LogConfig = Field(default_factory=LogConfig, description="Log format, level, stream.")


# -- loading -------------------------------------------------------------------------------


def _describe(error: Mapping[str, Any], source: str, lines: Lines) -> str:
    """A pydantic error as `file:line: key: message (got value)`, never a secret's value."""
    loc = tuple(error["loc"])
    missing_url = error["type"] == "missing" and loc in (("database",), ("database", "url"))
    hint = f" (set database.url in the file or {DATABASE_URL_ENV} in the environment)"
    # An unknown key may be a misspelt secret (`pasword:`): its value is never shown.
    secret_keys = (
        _SECRET_KEYS | {str(loc[-1])}
        if error["type"] == "extra_forbidden" and loc
        else _SECRET_KEYS
    )
    return describe(error, source, lines, secret_keys=secret_keys, hint=hint if missing_url else "")


def parse_config(
    text: str, *, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> HubConfig:
    """Validate the YAML `text`; `ConfigError` lists every problem with its line."""
    environ = os.environ if environ is None else environ
    try:
        raw, lines = compose(text, source)
    except YamlError as exc:
        raise ConfigError(str(exc)) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}:1: the configuration must be a mapping of sections")
    url = environ.get(DATABASE_URL_ENV)
    if url:
        database = raw.get("database")
        if database is None:
            raw["database"] = database = {}
        if isinstance(database, dict):
            database["url"] = url
    try:
        return HubConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(_describe(error, source, lines) for error in exc.errors())
        raise ConfigError(f"invalid configuration:\n{problems}") from exc


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> HubConfig:
    """Read and validate the configuration file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from exc
    return parse_config(text, source=str(path), environ=environ)
