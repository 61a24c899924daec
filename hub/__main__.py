"""Command line of the hub: `python -m hub` or `shouwang-hub`.

- `run --config FILE`: run the hub until SIGINT/SIGTERM;
- `migrate --config FILE`: bring the database schema up to date and exit;
- `check --config FILE`: validate the config, probe database, broker and webhooks, print
  a table of what works (exit 0) and what does not, with the reason (exit 1; 2: config);
- `token create --config FILE --role ROLE (--site SITE… | --all) [--label TEXT]`: issue an
  API token and print it, once (only its hash is stored);
- `token list --config FILE`: every token, without secrets;
- `token revoke --config FILE ID`: revoke a token at once;
- `provision --dir DIR site|hub|consumer|revoke|broker-cert|list …`: MQTT identities,
  the broker's password and ACL files, and certificates (`hub.provision`; no config).

Exit codes: 0 done, 1 the hub could not start or stopped on an error, 2 bad usage or an
invalid configuration (the message names the file, line and key).
"""

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Final

import psycopg

from hub._logging import configure_logging, secrets_of
from hub.api import openapi_document
from hub.check import run_check
from hub.config import HubConfig, load_config
from hub.errors import ConfigError, HubError
from hub.provision import add_provision_command, run_provision
from hub.rules import RulesError
from hub.runtime import migrate_database, rules_of, run_hub
from hub.storage.tokens import Role, Scope, issue_token, list_tokens, revoke_token

EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2

logger = logging.getLogger("hub")


def build_parser() -> argparse.ArgumentParser:
    """The hub's argument parser."""
    parser = argparse.ArgumentParser(
        prog="shouwang-hub",
        description=(
            "Shouwang hub: ingests every site's events from MQTT into PostgreSQL, "
            "acknowledges them end to end, raises alerts and serves the API and console."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('shouwang')}")
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging threshold (default: log.level of the config, INFO)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (
        ("run", "run the hub until SIGINT or SIGTERM"),
        ("migrate", "bring the database schema up to date, then exit"),
        ("check", "validate the config, probe database, broker and webhooks, print the table"),
    ):
        _with_config(commands.add_parser(name, help=text, description=text))
    _add_token_commands(commands)
    add_provision_command(commands)
    text = "print the API's OpenAPI document (JSON), as docs/openapi.json publishes it"
    commands.add_parser("openapi", help=text, description=text)
    return parser


def _with_config(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
    command.add_argument(
        "--config", required=True, type=Path, metavar="FILE", help="YAML configuration"
    )
    return command


def _add_token_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    text = "issue, list and revoke API bearer tokens"
    token = commands.add_parser("token", help=text, description=text)
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "issue a token and print it once (only its hash is stored)"
    create = _with_config(actions.add_parser("create", help=text, description=text))
    create.add_argument(
        "--role", required=True, choices=[r.value for r in Role], help="what the token may do"
    )
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--site", action="append", metavar="SITE", help="a site it may see (repeatable)"
    )
    scope.add_argument("--all", action="store_true", help="it may see every site")
    create.add_argument("--label", metavar="TEXT", help="who or what the token is for")
    text = "list every token (never its secret)"
    _with_config(actions.add_parser("list", help=text, description=text))
    text = "revoke a token at once"
    revoke = _with_config(actions.add_parser("revoke", help=text, description=text))
    revoke.add_argument("id", metavar="ID", help="the token's id (from `token list`)")


async def _migrate(url: str) -> None:
    applied = await migrate_database(url, wait=False)
    names = ", ".join(m.label for m in applied) or "nothing (already up to date)"
    logger.info("migrations applied: %s", names)


def _out(text: str) -> None:
    print(text)  # noqa: T201 - the CLI's own output


def _err(text: str) -> None:
    print(f"shouwang-hub: {text}", file=sys.stderr)  # noqa: T201 - the CLI's own output


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


async def _token(url: str, args: argparse.Namespace) -> int:
    """Run `token create|list|revoke`; returns the exit code."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        match args.action:
            case "create":
                scope = Scope(all_sites=True) if args.all else Scope.of(args.site)
                issued = await issue_token(conn, Role(args.role), scope, args.label)
                _out(issued.token)
                _err(
                    f"token {issued.id} ({args.role}, {scope.describe()}) created; keep it "
                    "now: it will not be shown again"
                )
            case "list":
                _out("ID            ROLE      CREATED                    REVOKED  SCOPE  LABEL")
                for t in await list_tokens(conn):
                    scope_text = "all sites" if t.all_sites else ",".join(t.sites)
                    _out(
                        f"{t.id:<13} {t.role:<9} {_when(t.created_at):<26} "
                        f"{_when(t.revoked_at)}  {scope_text}  {t.label or '-'}"
                    )
            case _:
                if not await revoke_token(conn, args.id):
                    _err(f"no valid token has the id {args.id!r}")
                    return EXIT_ERROR
                _err(f"token {args.id} revoked")
    return 0


def _run_token(url: str, args: argparse.Namespace) -> int:
    if args.action == "create" and not args.all:
        try:
            Scope.of(args.site)
        except ValueError as exc:
            _err(str(exc))
            return EXIT_USAGE
    try:
        return asyncio.run(_token(url, args))
    except psycopg.errors.UndefinedTable:
        _err("the database has no api_tokens table: run `migrate` first")
    except psycopg.Error as exc:
        _err(f"database error: {exc}")
    return EXIT_ERROR


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside `group`, nested groups flattened."""
    leaves: list[BaseException] = []
    for error in group.exceptions:
        leaves += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return leaves


def _serve(config: HubConfig, command: str) -> int:
    """Run `migrate` or `run`; returns the exit code."""
    try:
        match command:
            case "migrate":
                asyncio.run(_migrate(config.database.url.get_secret_value()))
            case _:
                asyncio.run(run_hub(config))
    except HubError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except ExceptionGroup as group:  # a task of the running hub failed
        for error in _leaves(group):
            if isinstance(error, HubError):
                _err(str(error))
            else:
                logger.exception("the hub stopped on an error", exc_info=error)
        return EXIT_ERROR
    except asyncio.CancelledError:
        return 0  # a signal while still starting
    return 0


def _without_config(args: argparse.Namespace) -> int:
    """Run `openapi`, `provision` or `check`, which need no valid configuration file."""
    if args.command == "provision":
        return run_provision(args)
    if args.command == "check":
        return run_check(args.config, sys.stdout)
    _out(json.dumps(openapi_document(), indent=2, sort_keys=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hub's command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in ("openapi", "provision", "check"):
        return _without_config(args)
    logging.basicConfig(
        level=args.log_level or "INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    configure_logging(config.log, level=args.log_level, secrets=secrets_of(config))
    if args.command == "token":
        return _run_token(config.database.url.get_secret_value(), args)
    try:
        rules_of(config.rules)  # a bad rules file stops the hub before it starts
    except RulesError as exc:
        _err(str(exc))
        return EXIT_USAGE
    return _serve(config, args.command)


if __name__ == "__main__":
    sys.exit(main())
