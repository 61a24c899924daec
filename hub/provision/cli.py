"""`shouwang-hub provision …`: MQTT identities, their grants and certificates.

- `site SITE [--cert] [--rotate]`: the agent of a monitoring room;
- `hub [--cert] [--rotate]`: the hub (user `_hub`);
- `consumer NAME [--site S …] [--rotate] [--cert]`: a read-only consumer of alerts;
- `revoke USER`: remove an identity's password, grants and certificate;
- `broker-cert HOST …`: the broker's TLS server certificate, from the same CA;
- `district --rooms N --template FILE --out DIR`: every room's agent config of a district,
  provisioned and generated from one room template (`hub.provision._district`);
- `list`: every identity and its role.

Each works on the files under `--dir` (`hub.provision._store`), never on a database or
a running broker: the broker reads the files again on SIGHUP. The snippet to paste goes
to stdout; a new password appears in it exactly once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hub.provision._acl import Principal
from hub.provision._district import District, room_ids
from hub.provision._snippet import Broker, snippet
from hub.provision._store import ProvisionError, ProvisionStore

if TYPE_CHECKING:
    import argparse

__all__ = ["add_provision_command", "run_provision"]

EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
_RELOAD: Final = "reload the broker (SIGHUP) so it reads the new password and ACL files"


def _identity_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--cert", action="store_true", help="also issue a client certificate from the CA"
    )
    command.add_argument(
        "--rotate", action="store_true", help="issue a new password (and certificate)"
    )
    command.add_argument(
        "--broker-host", default="mqtt.example.net", help="broker host for the snippet"
    )
    command.add_argument(
        "--broker-port", type=int, default=8883, help="broker port for the snippet (8883)"
    )
    command.add_argument(
        "--ca-file",
        type=Path,
        help="CA that signed the broker's certificate (default: this directory's CA)",
    )
    command.add_argument(
        "--plain",
        action="store_true",
        help="no TLS in the snippet: a demo broker on loopback only, never production",
    )


def add_provision_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `provision` and its actions to the hub's command line."""
    text = "create and revoke MQTT identities, ACLs and certificates (works on files)"
    provision = commands.add_parser("provision", help=text, description=text)
    provision.add_argument(
        "--dir",
        required=True,
        type=Path,
        metavar="DIR",
        help="provisioning directory: passwd, acl, principals.json, ca/, certs/",
    )
    actions = provision.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "the agent of a monitoring room: its MQTT user is the site id"
    site = actions.add_parser("site", help=text, description=text)
    site.add_argument("name", metavar="SITE")
    _identity_options(site)
    text = "the hub's own user (_hub), shared by every hub process"
    _identity_options(actions.add_parser("hub", help=text, description=text))
    text = "a read-only consumer of alerts (user _consumer.NAME)"
    consumer = actions.add_parser("consumer", help=text, description=text)
    consumer.add_argument("name", metavar="NAME")
    consumer.add_argument(
        "--site", action="append", default=[], metavar="SITE", help="read only this site's alerts"
    )
    _identity_options(consumer)
    text = "remove an identity's password, grants and certificate"
    revoke = actions.add_parser("revoke", help=text, description=text)
    revoke.add_argument("name", metavar="USER", help="a site id, _hub or _consumer.NAME")
    text = "issue the broker's TLS server certificate from this directory's CA"
    broker = actions.add_parser("broker-cert", help=text, description=text)
    broker.add_argument("names", nargs="+", metavar="HOST", help="host names and addresses")
    _add_district(actions)
    text = "list every identity and its grants' scope"
    actions.add_parser("list", help=text, description=text)


def _add_district(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "provision N rooms and write each one's agent config from a room template"
    district = actions.add_parser("district", help=text, description=text)
    district.add_argument("--rooms", type=int, required=True, metavar="N", help="how many rooms")
    district.add_argument("--prefix", default="room-", help="site id before the number (room-)")
    district.add_argument("--first", type=int, default=1, help="number of the first room (1)")
    district.add_argument(
        "--template", type=Path, required=True, help="room config template (${site}, …)"
    )
    district.add_argument("--out", type=Path, required=True, help="OUT/SITE/agent.yaml …")
    district.add_argument("--cert", action="store_true", help="client certificates too")
    district.add_argument("--rotate", action="store_true", help="new passwords for every room")
    district.add_argument("--broker-host", default="mqtt.example.net", help="${broker_host}")
    district.add_argument("--broker-port", type=int, default=8883, help="${broker_port}")


def _district(store: ProvisionStore, args: argparse.Namespace) -> int:
    if not 1 <= args.rooms <= 10_000 or args.first < 0:
        _err("--rooms must be 1 to 10000 and --first at least 0")
        return EXIT_USAGE
    try:
        sites = [
            Principal.agent(site).user for site in room_ids(args.prefix, args.rooms, args.first)
        ]
    except ValueError as exc:
        _err(f"{exc} (ids are lowercase [a-z0-9][a-z0-9_-]{{0,63}})")
        return EXIT_USAGE
    template = args.template.read_text(encoding="utf-8")
    district = District(template, args.out, args.broker_host, args.broker_port, cert=args.cert)
    written = sum(district.room(store, site, rotate=args.rotate) for site in sites)
    _out(f"{args.out}: {written} rooms written, {len(sites) - written} kept as they were\n")
    _err(f"{len(sites)} rooms provisioned; {_RELOAD}")
    return 0


def _out(text: str) -> None:
    sys.stdout.write(text)


def _err(text: str) -> None:
    sys.stderr.write(f"shouwang-hub: {text}\n")


def _principal(args: argparse.Namespace) -> Principal:
    match args.action:
        case "site":
            return Principal.agent(args.name)
        case "hub":
            return Principal.hub()
        case _:
            return Principal.consumer(args.name, tuple(args.site))


def _ensure(store: ProvisionStore, args: argparse.Namespace) -> int:
    try:
        principal = _principal(args)
    except ValueError as exc:
        _err(f"{exc} (ids are lowercase [a-z0-9][a-z0-9_-]{{0,63}})")
        return EXIT_USAGE
    issued = store.ensure(principal, rotate=args.rotate, cert=args.cert)
    ca_file = args.ca_file
    if ca_file is None and (store.ca_dir / "ca.crt").exists():
        ca_file = (store.ca_dir / "ca.crt").resolve()
    broker = Broker(args.broker_host, args.broker_port, tls=not args.plain, ca_file=ca_file)
    _out(snippet(issued, broker))
    done = "created" if issued.created else ("rotated" if args.rotate else "unchanged")
    _err(f"{principal.role} {principal.user}: {done}; {_RELOAD}")
    return 0


def run_provision(args: argparse.Namespace) -> int:
    """Run `provision ACTION`; returns the exit code."""
    store = ProvisionStore(args.dir)
    try:
        match args.action:
            case "site" | "hub" | "consumer":
                return _ensure(store, args)
            case "revoke":
                if not store.revoke(args.name):
                    _err(f"no identity {args.name!r} under {args.dir}")
                    return EXIT_ERROR
                _err(f"{args.name} revoked; {_RELOAD}")
            case "district":
                return _district(store, args)
            case "broker-cert":
                key, cert = store.broker_cert(args.names)
                _out(f"certfile {cert.resolve()}\nkeyfile {key.resolve()}\n")
                _out(f"cafile {(store.ca_dir / 'ca.crt').resolve()}\n")
            case _:
                for p in sorted(store.principals().values(), key=lambda p: p.user):
                    scope = ",".join(p.sites) if p.sites else "-"
                    _out(f"{p.user}\t{p.role}\t{scope}\n")
    except (ProvisionError, OSError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    return 0
