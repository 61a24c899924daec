"""Command line of the simulators: `python -m simulators` or `shouwang-sim`."""

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version


def build_parser() -> argparse.ArgumentParser:
    """The simulators' argument parser."""
    parser = argparse.ArgumentParser(
        prog="shouwang-sim",
        description=(
            "Shouwang simulators: alarm panels, door controllers, cameras and HTTP devices "
            "that speak their real protocols, and a fleet of agents over MQTT."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('shouwang')}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulators' command line; returns the process exit code."""
    build_parser().parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
