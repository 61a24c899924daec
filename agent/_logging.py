"""How the agent logs: text or JSON lines, to stdout or stderr, never a secret.

`configure_logging` installs one handler on the root logger. Every record is formatted,
then every secret of the config (MQTT password, SIA keys, device tokens, camera URLs) is
replaced by `***` in the formatted line: a last line of defence behind the rule that
secrets are never logged at all.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from agent.config import LogConfig

__all__ = ["configure_logging", "secrets_of"]

_REDACTED: Final = "***"
_MIN_SECRET: Final = 4  # shorter "secrets" would redact ordinary words
_TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def secrets_of(value: object) -> Iterator[str]:
    """Every `SecretStr` value inside a config model, its sections and lists."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secrets_of(getattr(value, name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from secrets_of(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secrets_of(item)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _Redacting(logging.Formatter):
    """Formats with `inner`, then replaces every secret by `***`."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self._inner = inner
        # Longest first, so that a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        for secret in self._secrets:
            line = line.replace(secret, _REDACTED)
        return line


def configure_logging(
    config: LogConfig, *, level: str | None = None, secrets: Iterable[str] = ()
) -> None:
    """Log as `config` says (`level` overrides its level) with `secrets` redacted."""
    stream = sys.stdout if config.stream == "stdout" else sys.stderr
    handler = logging.StreamHandler(stream)
    inner = _JsonFormatter() if config.format == "json" else logging.Formatter(_TEXT_FORMAT)
    handler.setFormatter(_Redacting(inner, secrets))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or config.level)
