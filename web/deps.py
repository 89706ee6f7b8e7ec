"""Dependencies shared by the routers: the one Assistant, and the Jinja2 templates."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from assistant import Assistant, PolicyAssistantError

from .views import filter_query, lookup_url, marked, tel_href, why_kind

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"


class ServiceUnavailable(PolicyAssistantError):
    """The Assistant could not be loaded at start-up; the message says why (→ 503)."""


def get_assistant(request: Request) -> Assistant:
    """The Assistant built once in the app's lifespan (or handed to create_app)."""
    bot: Assistant | None = request.app.state.assistant
    if bot is None:
        raise ServiceUnavailable(getattr(request.app.state, "startup_error", None) or "政策检索服务尚未就绪")
    return bot


Bot = Annotated[Assistant, Depends(get_assistant)]


@cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    """/static/<name>?v=<content hash>: browsers may cache static files for long, never stale."""
    return f"/static/{name}?v={_static_version(name)}"


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["static_url"] = static_url
templates.env.globals["lookup_url"] = lookup_url
templates.env.globals["filter_query"] = filter_query
templates.env.filters["tel"] = tel_href
templates.env.filters["why_kind"] = why_kind
templates.env.filters["marked"] = marked

__all__ = ["STATIC_DIR", "Bot", "ServiceUnavailable", "get_assistant", "static_url", "templates"]
