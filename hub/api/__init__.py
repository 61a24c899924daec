"""The hub's HTTP API (FastAPI): health, events and alerts, with a published OpenAPI."""

from hub.api.app import create_app
from hub.api.cursor import decode_cursor, encode_cursor
from hub.api.probe import HubProbe

__all__ = ["HubProbe", "create_app", "decode_cursor", "encode_cursor"]
