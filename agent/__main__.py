"""Command line of the edge agent: `python -m agent` or `shouwang-agent`."""

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version


def build_parser() -> argparse.ArgumentParser:
    """The agent's argument parser."""
    parser = argparse.ArgumentParser(
        prog="shouwang-agent",
        description=(
            "Shouwang edge agent: reads a monitoring room's alarm panels, door controllers, "
            "cameras and HTTP devices, and delivers their events to the hub over MQTT."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('shouwang')}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the agent's command line; returns the process exit code."""
    build_parser().parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
