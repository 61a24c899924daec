"""The one-command demo: broker, database, hub, one agent and one monitoring room's devices.

`python -m simulators demo` (what `scripts/demo` runs) starts everything on this machine,
plays a scripted scenario — a quiet minute of door traffic, then a panic press — prints
events and alerts live, and stops everything on Ctrl-C.
"""

from simulators.demo.scenario import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
