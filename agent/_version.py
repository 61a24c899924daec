"""The agent's version, as installed (reported in its status and by `--version`)."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION: str = version("shouwang")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0+unknown"
