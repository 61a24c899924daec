"""The configuration an identity's owner pastes: the agent's or hub's `mqtt:` section.

A password appears only when it was just made (`Issued.password`); otherwise the
snippet says it is unchanged and how to get a new one. Key files are named, never shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.provision._acl import Role, rules_for

if TYPE_CHECKING:
    from pathlib import Path

    from hub.provision._store import Issued

__all__ = ["Broker", "snippet"]


@dataclass(frozen=True, slots=True)
class Broker:
    """Where clients reach the broker, and the CA that signed its certificate (None: the
    system's CAs). `tls=False` is for a demo on loopback only."""

    host: str
    port: int
    tls: bool
    ca_file: Path | None


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def snippet(issued: Issued, broker: Broker) -> str:
    """The YAML to paste into the identity's configuration."""
    principal = issued.principal
    lines = ["mqtt:", f"  host: {_quote(broker.host)}", f"  port: {broker.port}"]
    lines.append(f"  username: {_quote(principal.user)}")
    if issued.password is not None:
        lines.append(f"  password: {_quote(issued.password)}  # shown once: keep it now")
    else:
        lines.append("  # password: unchanged (shown once when issued; --rotate makes a new one)")
    if broker.tls:
        lines.append("  tls:")
        if broker.ca_file is not None:
            lines.append(f"    ca_file: {_quote(str(broker.ca_file))}")
        if issued.cert is not None:
            key, cert = issued.cert
            lines.append(f"    cert_file: {_quote(str(cert))}")
            lines.append(f"    key_file: {_quote(str(key))}")
        lines.append('    min_version: "1.2"')
    if principal.role is Role.CONSUMER:
        lines.append("# topics this consumer may read:")
        lines += [f"#   {rule.pattern}" for rule in rules_for(principal)]
    return "\n".join(lines) + "\n"
