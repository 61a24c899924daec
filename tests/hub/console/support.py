"""What the console's API tests share: the app behind an in-process client that keeps
cookies, and a sign-in through the form as a browser does it."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from hub.api import create_app
from hub.config import ConsoleConfig, DatabaseConfig

_NONCE = re.compile(r'name="nonce" value="([^"]+)"')
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@asynccontextmanager
async def console(
    url: str, *, base_url: str = "http://hub", config: ConsoleConfig | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The hub's app over `url` (lifespan run) and a client that keeps cookies."""
    app = create_app(DatabaseConfig.model_validate({"url": url}), console=config)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http,
    ):
        yield app, http


async def sign_in(http: httpx.AsyncClient, token: str) -> httpx.Response:
    """Fetch the sign-in form, then post `token` with the form's nonce."""
    form = await http.get("/login")
    assert form.status_code == 200, form.text
    match = _NONCE.search(form.text)
    assert match is not None
    return await http.post("/login", data={"token": token, "nonce": match.group(1)})


async def csrf_of(http: httpx.AsyncClient, page: str = "/") -> str:
    """The CSRF token a signed-in page carries."""
    response = await http.get(page)
    assert response.status_code == 200, response.text
    match = _CSRF.search(response.text)
    assert match is not None, "the page carries no CSRF token"
    return match.group(1)


def cookie_header(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header of `response` that sets `name`."""
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    message = f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}"
    raise AssertionError(message)


def json_of(response: httpx.Response) -> Any:
    """The JSON body, after checking the answer was a 200."""
    assert response.status_code == 200, response.text
    return response.json()
