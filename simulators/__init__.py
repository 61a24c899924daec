"""Devices that speak the real protocols, and a fleet that speaks MQTT as many agents.

The simulators are the project's fakes at the device seam: tests and test rigs use them
instead of hardware. They import `wire` only, never the internals of `agent` or `hub`.
"""
