"""The hub's HTTP API (FastAPI): health, events, alerts, sites and devices, behind bearer
tokens with roles and site scopes; it publishes its OpenAPI.

A route that needs the caller's sites takes `CallerScope` (a `Scope` value) and passes
`scope.site_list()` to the storage reads, which filter by it in SQL.
"""

from hub.api.app import create_app, create_metrics_app, openapi_document
from hub.api.auth import Admin, CallerScope, Viewer, authenticated, require
from hub.api.cursor import decode_cursor, encode_cursor
from hub.api.probe import HubProbe
from hub.storage.tokens import Caller, Role, Scope

__all__ = [
    "Admin",
    "Caller",
    "CallerScope",
    "HubProbe",
    "Role",
    "Scope",
    "Viewer",
    "authenticated",
    "create_app",
    "create_metrics_app",
    "decode_cursor",
    "encode_cursor",
    "openapi_document",
    "require",
]
