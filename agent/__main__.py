"""Command line of the edge agent: `python -m agent` or `shouwang-agent`.

A config file that users other than its owner may read or write is warned about on
stderr (it holds the MQTT password, SIA keys and device tokens): `chmod 600` it.

Exit codes: 0 after a clean stop (SIGINT, SIGTERM) or a good `check`; 1 when the agent
cannot start or fails while running (its outbox, a driver's port); 2 for a config file
it cannot use (the message names file, line, key and reason) or a usage error.
"""

import argparse
import asyncio
import logging
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from agent._logging import configure_logging, secrets_of
from agent._version import VERSION
from agent.check import run_check
from agent.config import AgentConfig, load_config
from agent.errors import AgentError, ConfigError
from agent.runtime import run_agent

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def build_parser() -> argparse.ArgumentParser:
    """The agent's argument parser."""
    parser = argparse.ArgumentParser(
        prog="shouwang-agent",
        description=(
            "Shouwang edge agent: reads a monitoring room's alarm panels, door controllers, "
            "cameras and HTTP devices, and delivers their events to the hub over MQTT."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the agent until SIGINT or SIGTERM")
    check = commands.add_parser(
        "check", help="validate a config file, probe devices and broker, print what works"
    )
    check.add_argument(
        "--config-only", action="store_true", help="validate the config file only, probe nothing"
    )
    for command in (run, check):
        command.add_argument(
            "--config", required=True, type=Path, metavar="FILE", help="the agent's YAML config"
        )
    run.add_argument(
        "--log-level", choices=LOG_LEVELS, help="least severe level logged (default: log.level)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the agent's command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"{parser.prog}: a command is required (run, check)\n")
        return EXIT_CONFIG
    if args.command == "check" and not args.config_only:
        if args.config.exists():
            _warn_if_exposed(args.config)
        return run_check(args.config, sys.stdout)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    _warn_if_exposed(args.config)
    if args.command == "check":
        sys.stdout.write(f"{args.config}: ok (site {config.site}, {len(config.devices)} devices)\n")
        return EXIT_OK
    configure_logging(config.log, level=args.log_level, secrets=secrets_of(config))
    # pymodbus logs every failed request with a frame dump; the poller reports a dead
    # controller itself (device.offline, the status's driver health).
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    return _run(config)


def _warn_if_exposed(path: Path) -> None:
    """Warn on stderr when the config file is readable or writable by group or others."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        sys.stderr.write(
            f"shouwang-agent: warning: {path} (mode {mode:04o}) is open to other users and "
            f"holds secrets (MQTT password, SIA keys, device tokens): chmod 600 {path}\n"
        )


def _run(config: AgentConfig) -> int:
    failures: list[BaseException] = []
    try:
        asyncio.run(run_agent(config))
    except* AgentError as group:
        failures.extend(group.exceptions)
    for failure in failures:
        sys.stderr.write(f"shouwang-agent: {failure}\n")
    return EXIT_FAILURE if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
