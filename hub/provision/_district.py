"""A district's agent configs, generated from one room template (`provision district`).

For each room `PREFIX01` … the identity is provisioned like `provision site` (password,
grants, and a client certificate with `cert`), and the template is filled in to make
that room's `agent.yaml`, written 0600 beside copies of its TLS files:

    OUT/room-07/agent.yaml        the template with ${site}, ${password}, ${broker_host},
                                  ${broker_port} and ${room_dir} filled in
    OUT/room-07/mqtt/ca.crt       the CA, when the directory has one
    OUT/room-07/mqtt/room-07.crt  the client certificate and its key (0600), with `cert`
    OUT/room-07/mqtt/room-07.key

A room whose `agent.yaml` exists is left alone (its password was written there once and
is kept nowhere else); `rotate` issues new passwords (and certificates) and rewrites
every file. The template is YAML with `${name}` placeholders (`string.Template`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from string import Template
from typing import TYPE_CHECKING

import yaml

from hub.provision._acl import Principal
from hub.provision._store import ProvisionError

if TYPE_CHECKING:
    from pathlib import Path

    from hub.provision._store import ProvisionStore

__all__ = ["District", "room_ids"]


def room_ids(prefix: str, count: int, first: int = 1) -> list[str]:
    """`prefix` and a zero-padded number (at least 2 digits) for `count` rooms."""
    last = first + count - 1
    width = max(2, len(str(last)))
    return [f"{prefix}{n:0{width}d}" for n in range(first, last + 1)]


@dataclass(frozen=True, slots=True)
class District:
    """How every room's config is made: the template, where the files go, the broker."""

    template: str
    out: Path
    broker_host: str
    broker_port: int
    cert: bool = False

    def room(self, store: ProvisionStore, site: str, *, rotate: bool = False) -> bool:
        """Provision `site` and write its files; whether they were written (False: kept)."""
        room_dir = (self.out / site).resolve()
        config = room_dir / "agent.yaml"
        if config.exists() and not rotate:
            return False
        issued = store.ensure(Principal.agent(site), rotate=rotate, cert=self.cert)
        if issued.password is None:
            issued = store.ensure(Principal.agent(site), rotate=True, cert=self.cert)
        values = {
            "site": site,
            "password": issued.password or "",
            "broker_host": self.broker_host,
            "broker_port": str(self.broker_port),
            "room_dir": str(room_dir),
        }
        try:
            text = Template(self.template).substitute(values)
        except (KeyError, ValueError) as exc:
            raise ProvisionError(f"the room template has an unknown placeholder: {exc}") from exc
        if not isinstance(yaml.safe_load(text), dict):
            message = "the room template does not make a YAML mapping"
            raise ProvisionError(message)
        mqtt = room_dir / "mqtt"
        mqtt.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca = store.ca_dir / "ca.crt"
        if ca.exists():
            shutil.copyfile(ca, mqtt / "ca.crt")
        if issued.cert is not None:
            key, cert = issued.cert
            _write(mqtt / f"{site}.key", key.read_text(encoding="utf-8"))
            shutil.copyfile(cert, mqtt / f"{site}.crt")
        _write(config, text)
        return True


def _write(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (it holds a secret)."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    temporary.replace(path)
