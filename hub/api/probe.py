"""What the API asks the hub running around it (nothing, when it runs alone)."""

from typing import Protocol

from wire import HubComponents

__all__ = ["HubProbe"]


class HubProbe(Protocol):
    """The live state of the hub process serving the API."""

    def mqtt_connected(self) -> bool:
        """Whether the hub's broker link is up."""
        ...

    def components(self) -> HubComponents:
        """The liveness of ingest, rules and relay."""
        ...
