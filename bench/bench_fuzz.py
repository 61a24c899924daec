"""The fuzz properties of tests/fuzz (and the wire codec's), run for longer than CI does.

CI runs every fuzz test with its small example budget (all of tests/fuzz within a
minute). This runs the same properties with the budgets multiplied by `--scale`
(`$SHOUWANG_FUZZ_SCALE`), so a night's run explores far more inputs: the SIA framing,
decryption and message parsers, the envelope decoder and the topic parser.

Run: `.venv/bin/python bench/bench_fuzz.py [--scale 100] [-- extra pytest arguments]`.
Exit code: pytest's (0 when no property failed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("tests/fuzz", "tests/wire/test_codec.py")


def main() -> int:
    """Run the fuzz tests at `--scale` times their CI budget; return pytest's exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=100.0, help="budget multiplier (100)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments")
    args = parser.parse_args()
    env = {**os.environ, "SHOUWANG_FUZZ_SCALE": str(args.scale)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-m",
        "fuzz",
        "-p",
        "no:cacheprovider",
        "-o",
        "timeout=0",
        *TARGETS,
        *args.pytest_args,
    ]
    started = time.perf_counter()
    # This interpreter's pytest, on fixed targets and the caller's own arguments.
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603
    seconds = time.perf_counter() - started
    print(f"fuzz at scale {args.scale:g}: {seconds:.1f} s, exit {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
