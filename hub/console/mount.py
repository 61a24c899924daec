"""`mount_console`: the console's pages, assets and session store on the API's app."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from fastapi.staticfiles import StaticFiles

from hub.config import ConsoleConfig
from hub.console import routes
from hub.console.session import SessionStore

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["STATIC_DIR", "mount_console"]

STATIC_DIR: Final = Path(__file__).parent / "static"


def mount_console(app: FastAPI, config: ConsoleConfig | None = None) -> SessionStore:
    """Serve the console on `app` (pages at `/`, assets at `/static`), with a session
    store bounded by `config` (the defaults if None); the store is returned and kept on
    `app.state.console_sessions`, where the API's auth finds it."""
    config = config or ConsoleConfig()
    store = SessionStore(
        idle_s=config.session_idle_s,
        max_s=config.session_max_s,
        max_sessions=config.max_sessions,
    )
    app.state.console_sessions = store
    app.state.console_config = config
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, follow_symlink=False), name="static")
    return store
