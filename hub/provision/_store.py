"""The provisioning directory: the broker's password and ACL files, the CA, the certs.

Layout (`--dir`)::

    passwd            Mosquitto password file ($7$ hashes), 0600
    acl               Mosquitto ACL file, generated whole from principals.json
    acl.emqx          the same grants for EMQX's file authorizer
    principals.json   every identity: user name → role (and a consumer's sites)
    ca/ca.key         the CA's private key, 0600 (created with the first certificate)
    ca/ca.crt         the CA certificate (agents, hub and broker trust it)
    certs/USER.key    a client's private key, 0600
    certs/USER.crt    its certificate

Every change rewrites the files it touches atomically (write, then rename) under an
exclusive lock on `.lock`, so two runs cannot interleave. Plain passwords are never
stored: a password exists only in the output of the run that made it.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hub.errors import HubError
from hub.provision._acl import Principal, Role, emqx_acl, mosquitto_acl
from hub.provision._certs import Authority
from hub.provision._passwd import hash_password, new_password, parse_passwd, render_passwd

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

__all__ = ["BROKER_CERT", "Issued", "ProvisionError", "ProvisionStore"]

BROKER_CERT: Final = "_broker"
"""File stem of the broker's own server certificate under `certs/`."""


class ProvisionError(HubError):
    """A provisioning request cannot be carried out (the message says why)."""


@dataclass(frozen=True, slots=True)
class Issued:
    """What one `ensure` did: `password` is set only when a new one was made."""

    principal: Principal
    created: bool
    password: str | None
    cert: tuple[Path, Path] | None
    """(key, certificate) paths when the identity has a client certificate."""


def _write_text(path: Path, text: str, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    temporary.chmod(mode)
    temporary.replace(path)


class ProvisionStore:
    """The files under one provisioning directory; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.passwd_path = directory / "passwd"
        self.acl_path = directory / "acl"
        self.emqx_acl_path = directory / "acl.emqx"
        self.registry_path = directory / "principals.json"
        self.ca_dir = directory / "ca"
        self.certs_dir = directory / "certs"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.directory / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def principals(self) -> dict[str, Principal]:
        """Every provisioned identity by user name."""
        if not self.registry_path.exists():
            return {}
        try:
            raw = json.loads(self.registry_path.read_text(encoding="utf-8"))
            return {
                user: Principal(user, Role(entry["role"]), tuple(entry.get("sites", ())))
                for user, entry in raw.items()
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise ProvisionError(f"{self.registry_path}: not a principals file: {exc}") from exc

    def _passwords(self) -> dict[str, str]:
        if not self.passwd_path.exists():
            return {}
        try:
            return parse_passwd(self.passwd_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ProvisionError(f"{self.passwd_path}: {exc}") from exc

    def _save(self, principals: dict[str, Principal], passwords: dict[str, str]) -> None:
        registry = {
            p.user: {"role": str(p.role), "sites": list(p.sites)} for p in principals.values()
        }
        _write_text(self.registry_path, json.dumps(registry, indent=2, sort_keys=True), 0o600)
        _write_text(self.passwd_path, render_passwd(passwords), 0o600)
        listed = list(principals.values())
        _write_text(self.acl_path, mosquitto_acl(listed), 0o644)
        _write_text(self.emqx_acl_path, emqx_acl(listed), 0o644)

    def cert_paths(self, user: str) -> tuple[Path, Path]:
        """Where the key and certificate of `user` live."""
        return self.certs_dir / f"{user}.key", self.certs_dir / f"{user}.crt"

    def ensure(self, principal: Principal, *, rotate: bool = False, cert: bool = False) -> Issued:
        """Provision `principal`, or leave it as it is: a password is made only when the
        identity is new or `rotate` is set; a certificate when `cert` is set and none
        exists yet (or `rotate`)."""
        with self._locked():
            principals, passwords = self.principals(), self._passwords()
            known = principals.get(principal.user)
            if known is not None and known.role != principal.role:
                raise ProvisionError(
                    f"{principal.user!r} is already provisioned as a {known.role}; revoke it first"
                )
            created = known is None
            password = None
            if created or rotate or principal.user not in passwords:
                password = new_password()
                passwords[principal.user] = hash_password(password)
            key_path, cert_path = self.cert_paths(principal.user)
            if cert and (rotate or not cert_path.exists()):
                Authority(self.ca_dir).issue(principal.user, key_path, cert_path)
            principals[principal.user] = principal
            self._save(principals, passwords)
        has_cert = cert_path.exists()
        return Issued(principal, created, password, (key_path, cert_path) if has_cert else None)

    def revoke(self, user: str) -> bool:
        """Remove `user`'s password, grants and certificate; whether it existed."""
        with self._locked():
            principals, passwords = self.principals(), self._passwords()
            existed = principals.pop(user, None) is not None
            existed = passwords.pop(user, None) is not None or existed
            for path in self.cert_paths(user):
                if path.exists():
                    existed = True
                    path.unlink()
            if existed:
                self._save(principals, passwords)
        return existed

    def broker_cert(self, names: Sequence[str]) -> tuple[Path, Path]:
        """A server certificate for the broker, valid for `names` (hosts, addresses)."""
        if not names:
            message = "the broker certificate needs at least one host name or address"
            raise ProvisionError(message)
        key_path, cert_path = self.cert_paths(BROKER_CERT)
        with self._locked():
            Authority(self.ca_dir).issue(names[0], key_path, cert_path, server_names=names)
        return key_path, cert_path
