"""Command line of the hub: `python -m hub` or `shouwang-hub`.

- `run --config FILE`: run the hub until SIGINT/SIGTERM;
- `migrate --config FILE`: bring the database schema up to date and exit.

Exit codes: 0 done, 1 the hub could not start or stopped on an error, 2 bad usage or an
invalid configuration (the message names the file, line and key).
"""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Final

from hub.config import load_config
from hub.errors import ConfigError, HubError
from hub.runtime import migrate_database, run_hub

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
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging threshold (default INFO)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (
        ("run", "run the hub until SIGINT or SIGTERM"),
        ("migrate", "bring the database schema up to date, then exit"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--config", required=True, type=Path, metavar="FILE", help="YAML configuration"
        )
    return parser


async def _migrate(url: str) -> None:
    applied = await migrate_database(url, wait=False)
    names = ", ".join(m.label for m in applied) or "nothing (already up to date)"
    logger.info("migrations applied: %s", names)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside `group`, nested groups flattened."""
    leaves: list[BaseException] = []
    for error in group.exceptions:
        leaves += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return leaves


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hub's command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"shouwang-hub: {exc}", file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_USAGE
    try:
        match args.command:
            case "migrate":
                asyncio.run(_migrate(config.database.url.get_secret_value()))
            case _:
                asyncio.run(run_hub(config))
    except HubError as exc:
        print(f"shouwang-hub: {exc}", file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_ERROR
    except ExceptionGroup as group:  # a task of the running hub failed
        for error in _leaves(group):
            if isinstance(error, HubError):
                print(f"shouwang-hub: {error}", file=sys.stderr)  # noqa: T201
            else:
                logger.exception("the hub stopped on an error", exc_info=error)
        return EXIT_ERROR
    except asyncio.CancelledError:
        return 0  # a signal while still starting
    return 0


if __name__ == "__main__":
    sys.exit(main())
