"""The agent's configuration: one pydantic model per section, loaded once at start.

A config is data: every field is bounded and described, unknown keys are refused, and
nothing here computes runtime state (the MQTT client id and user name fall back to values
derived from the site by the link, not here). `load_config` reads a YAML file and turns
every problem into a `ConfigError` naming the file, the line, the key and the reason;
secrets (`SecretStr` fields) are never quoted back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

import wire
from agent._lanes import DEFAULT_BOUNDS
from agent._model import Id, Section, located
from agent._yaml import YamlDocument, read_yaml
from agent.drivers.camera.config import CameraSection
from agent.drivers.modbus.config import ModbusConfig
from agent.drivers.sia.config import SiaConfig
from agent.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = [
    "MAX_CHECKIN_S",
    "MIN_TOKEN_LENGTH",
    "AgentConfig",
    "CanaryConfig",
    "DeliveryConfig",
    "DeviceConfig",
    "HttpPushConfig",
    "LogConfig",
    "MqttConfig",
    "OutboxConfig",
    "TlsConfig",
    "load_config",
]

MIN_TOKEN_LENGTH: Final = 16
MAX_TOKEN_LENGTH: Final = 256
MAX_CHECKIN_S: Final = 7 * 24 * 3600  # the contract's bound on an inventory's checkin_s
KIB: Final = 1024
MIB: Final = 1024 * KIB
GIB: Final = 1024 * MIB
MAX_ROWS: Final = 100_000_000


def _check_topic_prefix(value: str) -> str:
    wire.TopicSpace(value)  # raises TopicError, a ValueError, saying what is wrong
    return value


def _protocol_from_yaml(value: object) -> object:
    # `protocol: 5` is an int in YAML; the version is a name, not a number.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _readable_file(value: Path | None) -> Path | None:
    if value is not None and not value.is_file():
        raise ValueError(f"{str(value)!r} is not a readable file")
    return value


TlsFile = Annotated[Path | None, AfterValidator(_readable_file)]


class TlsConfig(Section):
    """TLS to the broker: the broker is always verified; a client certificate is optional."""

    ca_file: TlsFile = Field(
        default=None,
        description="PEM CA bundle the broker's certificate must chain to; absent: the "
        "system's CAs.",
    )
    cert_file: TlsFile = Field(
        default=None, description="PEM client certificate (with key_file), if the broker asks."
    )
    key_file: TlsFile = Field(
        default=None,
        description="PEM private key of cert_file; keep it readable by the agent only.",
    )
    min_version: Literal["1.2", "1.3"] = Field(
        default="1.2", description="Lowest TLS version accepted (1.2 or 1.3)."
    )

    @model_validator(mode="after")
    def _cert_with_key(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            message = "cert_file and key_file go together: set both or neither"
            raise located(message, missing)
        return self


class MqttConfig(Section):
    """How the agent reaches the broker that carries its events to the hub."""

    host: str = Field(min_length=1, max_length=253, description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="MQTT user name; when absent, the site id (the contract's rule).",
    )
    password: SecretStr | None = Field(
        default=None, description="MQTT password; none by default (never logged)."
    )
    protocol: Annotated[Literal["3.1.1", "5"], BeforeValidator(_protocol_from_yaml)] = Field(
        default="3.1.1",
        description="MQTT protocol version. 3.1.1 works with every broker; 5 is optional.",
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Fixed MQTT client id; when absent, `shouwang-agent-{site}`.",
    )
    keepalive_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="MQTT keepalive; the broker sends the LWT after 1.5x this of silence.",
    )
    timeout_s: float = Field(
        default=10.0,
        ge=1.0,
        le=300.0,
        description="Deadline for connecting and for each broker acknowledgement.",
    )
    topic_prefix: Annotated[str, AfterValidator(_check_topic_prefix)] = Field(
        default="",
        max_length=128,
        description="Namespace in front of every topic (tests only); production uses ''.",
    )
    reconnect_min_s: float = Field(
        default=1.0, ge=0.01, le=60.0, description="First delay before reconnecting."
    )
    reconnect_max_s: float = Field(
        default=60.0,
        ge=0.1,
        le=3600.0,
        description="Longest delay between reconnect attempts (delays double up to it).",
    )
    tls: TlsConfig | None = Field(
        default=None,
        description="TLS to the broker (port 8883, usually); absent: plain TCP, for a demo "
        "on loopback only.",
    )

    @model_validator(mode="after")
    def _backoff_bounds_in_order(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            message = (
                f"must be at least reconnect_min_s ({self.reconnect_min_s}), "
                f"got {self.reconnect_max_s}"
            )
            raise located(message, "reconnect_max_s")
        return self


class OutboxConfig(Section):
    """Where events wait, durably, until the hub has committed them."""

    path: Path = Field(
        description="SQLite database file (relative paths: to the working directory)."
    )
    lock_timeout_s: float = Field(
        default=5.0,
        ge=0.0,
        le=60.0,
        description="How long a write waits for a lock held by another process, then fails.",
    )
    max_bytes: int = Field(
        default=DEFAULT_BOUNDS.max_bytes,
        ge=256 * KIB,
        le=1024 * GIB,
        description="Bytes of events all lanes may hold; only P0 may go beyond it.",
    )
    p0_reserve_bytes: int = Field(
        default=DEFAULT_BOUNDS.p0_reserve_bytes,
        ge=0,
        le=1024 * GIB,
        description="Part of max_bytes that P1 and P2 may never use: kept for P0 alarms.",
    )
    p1_max_rows: int = Field(
        default=DEFAULT_BOUNDS.p1_max_rows,
        ge=1,
        le=MAX_ROWS,
        description="Events P1 may hold; past it, its oldest are shed.",
    )
    p1_max_bytes: int = Field(
        default=DEFAULT_BOUNDS.p1_max_bytes,
        ge=1 * KIB,
        le=1024 * GIB,
        description="Bytes P1 may hold; past it, its oldest are shed.",
    )
    p2_max_rows: int = Field(
        default=DEFAULT_BOUNDS.p2_max_rows,
        ge=1,
        le=MAX_ROWS,
        description="Events P2 may hold; past it, its oldest are shed.",
    )
    p2_max_bytes: int = Field(
        default=DEFAULT_BOUNDS.p2_max_bytes,
        ge=1 * KIB,
        le=1024 * GIB,
        description="Bytes P2 may hold; past it, its oldest are shed.",
    )

    @model_validator(mode="after")
    def _reserve_below_total(self) -> OutboxConfig:
        if self.p0_reserve_bytes >= self.max_bytes:
            message = f"must be below max_bytes ({self.max_bytes}), got {self.p0_reserve_bytes}"
            raise located(message, "p0_reserve_bytes")
        return self


class DeliveryConfig(Section):
    """How the link paces publishing and resends what the hub has not acked."""

    max_inflight: int = Field(
        default=100,
        ge=1,
        le=100,
        description="QoS 1 publishes awaiting PUBACK at once (less if the broker says so).",
    )
    max_unacked: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Events published but not yet acked by the hub; past it only P0 goes out.",
    )
    resend_initial_s: float = Field(
        default=30.0,
        ge=0.05,
        le=3600.0,
        description="How long an unacked event waits before it is published again.",
    )
    resend_max_s: float = Field(
        default=300.0,
        ge=0.05,
        le=86400.0,
        description="Longest wait between resends (the wait doubles up to it).",
    )
    degraded_hold_s: float = Field(
        default=600.0,
        ge=1.0,
        le=86400.0,
        description="How long the status stays degraded after the outbox last shed an event.",
    )

    @model_validator(mode="after")
    def _resend_bounds_in_order(self) -> DeliveryConfig:
        if self.resend_max_s < self.resend_initial_s:
            message = (
                f"must be at least resend_initial_s ({self.resend_initial_s}), "
                f"got {self.resend_max_s}"
            )
            raise located(message, "resend_max_s")
        return self


class HttpPushConfig(Section):
    """The HTTP push driver's server (started when a device uses `driver: http`)."""

    host: str = Field(
        default="127.0.0.1", min_length=1, max_length=253, description="Address to listen on."
    )
    port: int = Field(
        default=8470, ge=0, le=65535, description="TCP port to listen on; 0 picks a free one."
    )
    max_body_bytes: int = Field(
        default=64 * KIB,
        ge=1 * KIB,
        le=256 * KIB,
        description="Largest request body accepted; larger ones get 413.",
    )


class DeviceConfig(Section):
    """One device the agent watches; all of them make up the retained inventory."""

    id: Id = Field(description="Device id, unique within the site: [a-z0-9][a-z0-9_-]{0,63}.")
    kind: wire.Kind = Field(description="The v1 device kind, e.g. door_lock, panic_alarm.")
    driver: Literal["http", "sia", "modbus", "camera"] = Field(
        description="The driver that reads the device (its section names it, except http)."
    )
    token: SecretStr | None = Field(
        default=None,
        description=f"Bearer token the device presents ({MIN_TOKEN_LENGTH}-"
        f"{MAX_TOKEN_LENGTH} characters, its own); required for http devices.",
    )
    checkin_s: int = Field(
        ge=1, le=MAX_CHECKIN_S, description="Expected interval between check-ins, in seconds."
    )
    label: str | None = Field(
        default=None, max_length=200, description="Human-readable place or name."
    )

    @field_validator("token")
    @classmethod
    def _token_length(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None:
            length = len(token.get_secret_value())
            if not MIN_TOKEN_LENGTH <= length <= MAX_TOKEN_LENGTH:
                message = (
                    f"must be {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} characters (it has {length})"
                )
                raise located(message)
        return token

    @model_validator(mode="after")
    def _http_needs_a_token(self) -> DeviceConfig:
        if self.driver == "http" and self.token is None:
            message = "an http device needs a token"
            raise located(message, "token")
        return self


class CanaryConfig(Section):
    """The end-to-end canary the agent emits for the hub's `canary` rule."""

    interval_s: float = Field(
        default=60.0,
        ge=1.0,
        le=86_400.0,
        description="Seconds between canary events (test.periodic).",
    )
    device: Id = Field(
        default="canary", description="The canary's device id; no listed device may use it."
    )
    enabled: bool = Field(default=True, description="Whether the agent emits the canary.")


class LogConfig(Section):
    """How the agent logs (journald takes either stream); secrets are never logged."""

    format: Literal["text", "json"] = Field(
        default="text", description="text: `time LEVEL logger: message`; json: one object a line."
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severe level logged (`run --log-level` overrides it)."
    )
    stream: Literal["stdout", "stderr"] = Field(
        default="stderr", description="Where log lines go; the installed service uses stdout."
    )


class AgentConfig(Section):
    """The whole agent: its site, its link to the broker, its outbox, drivers and devices."""

    site: Id = Field(description="The monitoring room this agent serves (and its MQTT user).")
    mqtt: MqttConfig = Field(description="The broker connection.")
    outbox: OutboxConfig = Field(description="The durable outbox.")
    delivery: DeliveryConfig = Field(
        default_factory=DeliveryConfig, description="Publishing pace and resends."
    )
    http: HttpPushConfig = Field(
        default_factory=HttpPushConfig, description="The HTTP push driver."
    )
    sia: SiaConfig | None = Field(
        default=None, description="The SIA DC-09 receiver (alarm panels), if any."
    )
    modbus: ModbusConfig | None = Field(
        default=None, description="The Modbus TCP door controllers, if any."
    )
    camera: CameraSection | None = Field(
        default=None, description="The cameras analysed for motion and tampering, if any."
    )
    canary: CanaryConfig = Field(default_factory=CanaryConfig, description="The end-to-end canary.")
    log: LogConfig = Field(default_factory=LogConfig, description="Log format, level and stream.")
    status_interval_s: float = Field(
        default=30.0, ge=1.0, le=3600.0, description="How often the retained status is renewed."
    )
    devices: tuple[DeviceConfig, ...] = Field(
        default=(),
        max_length=wire.MAX_INVENTORY,
        description="Every device of the site; ids and tokens unique.",
    )

    @field_validator("devices")
    @classmethod
    def _ids_and_tokens_unique(cls, devices: tuple[DeviceConfig, ...]) -> tuple[DeviceConfig, ...]:
        ids: dict[str, int] = {}
        tokens: dict[str, int] = {}
        for index, device in enumerate(devices):
            if device.id in ids:
                message = f"device id {device.id!r} repeats devices[{ids[device.id]}].id"
                raise located(message, index, "id")
            ids[device.id] = index
            if device.token is not None:
                secret = device.token.get_secret_value()
                if secret in tokens:
                    message = f"same token as devices[{tokens[secret]}]; each device needs its own"
                    raise located(message, index, "token")
                tokens[secret] = index
        return devices

    @model_validator(mode="after")
    def _canary_is_not_a_device(self) -> AgentConfig:
        if self.canary.enabled:
            for index, device in enumerate(self.devices):
                if device.id == self.canary.device:
                    message = f"{device.id!r} is the canary's id (canary.device): rename one"
                    raise located(message, "devices", index, "id")
        return self

    @model_validator(mode="after")
    def _drivers_name_their_devices(self) -> AgentConfig:
        by_id = {device.id: device for device in self.devices}
        sections = {"sia": self.sia, "modbus": self.modbus, "camera": self.camera}
        named: set[str] = set()
        for key, section in sections.items():
            if section is None:
                continue
            for path, device_id in section.device_refs():
                device = by_id.get(device_id)
                if device is None:
                    message = f"device {device_id!r} is not listed under devices"
                    raise located(message, key, *path)
                if device.driver != section.DRIVER:
                    message = f"device {device_id!r} has driver {device.driver!r}, not {key!r}"
                    raise located(message, key, *path)
                named.add(device_id)
        for index, device in enumerate(self.devices):
            if device.driver in sections and device.id not in named:
                message = f"no entry of the {device.driver} section names device {device.id!r}"
                raise located(message, "devices", index, "driver")
        return self


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate the YAML config at `path`; `ConfigError` for anything wrong."""
    name = str(path)
    document = read_yaml(Path(path), name)
    if not isinstance(document.data, dict):
        found = "an empty file" if document.data is None else type(document.data).__name__
        reason = f"expected a mapping of {', '.join(AgentConfig.model_fields)}; found {found}"
        raise ConfigError(name, (ConfigProblem(document.line_of(()), None, reason),))
    try:
        return AgentConfig.model_validate(document.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    # Raised outside the `except`: pydantic's own text quotes inputs, secrets included,
    # and must not ride along as the `__context__` of what gets logged.
    raise ConfigError(name, tuple(_problem(document, error) for error in errors))


_MAX_VALUE: Final = 60


def _problem(document: YamlDocument, error: ErrorDetails) -> ConfigProblem:
    """A pydantic error as a problem with a line and a dotted key; secrets never quoted."""
    loc: tuple[str | int, ...] = tuple(error["loc"]) + tuple(error.get("ctx", {}).get("at", ()))
    key = _dotted(loc) or None
    line = document.line_of(loc)
    kind: str = error["type"]
    value = error.get("input")
    match kind:
        case "extra_forbidden":
            allowed = ", ".join(_fields_at(loc[:-1]))
            reason = f"unknown key (expected one of: {allowed})"
        case "missing":
            reason = "required key is missing"
        case _:
            reason = str(error["msg"]).removeprefix("Value error, ")
            if _is_quotable(loc, value):
                shown = repr(value)
                if len(shown) > _MAX_VALUE:
                    shown = shown[:_MAX_VALUE] + "…"
                if shown not in reason:
                    reason += f" (found {shown})"
    return ConfigProblem(line=line, key=key, reason=reason)


def _dotted(loc: tuple[str | int, ...]) -> str:
    """`("devices", 1, "token")` as `devices[1].token`."""
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The config model that the mapping at `loc` is validated as, if any."""
    current: object = AgentConfig
    for step in loc:
        if isinstance(step, int):
            args = getattr(current, "__args__", ())
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(step)
            current = None if field is None else field.annotation
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _fields_at(loc: tuple[str | int, ...]) -> list[str]:
    model = _model_at(loc)
    return [] if model is None else list(model.model_fields)


def _is_quotable(loc: tuple[str | int, ...], value: object) -> bool:
    """Whether the offending value may be shown: a scalar that is not in a secret field."""
    if not isinstance(value, str | int | float | bool) or not loc:
        return False
    parent, last = _model_at(loc[:-1]), loc[-1]
    if parent is None or not isinstance(last, str) or last not in parent.model_fields:
        return False
    annotation = parent.model_fields[last].annotation
    return SecretStr is not annotation and SecretStr not in getattr(annotation, "__args__", ())
