"""Command line of the hub: `python -m hub` or `shouwang-hub`."""

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hub's command line; returns the process exit code."""
    build_parser().parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
