"""Security and caching headers on every response: pages, JSON, static files and errors alike.

A pure ASGI middleware (not BaseHTTPMiddleware) so it also covers responses produced by exception
handlers and by Starlette itself (404/405, static files), and never buffers a body.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script or style anywhere: pages load /static/*.js and *.css only, and insert every
# user or corpus string with textContent. data: images are for the tiny SVG icons in CSS.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def cache_policy(path: str) -> str:
    # Answers may change with the corpus and questions are personal: never cache the API.
    if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
        return "no-store"
    # Static URLs carry a content hash (?v=…), so a long lifetime is safe.
    if path.startswith("/static/") or path.startswith("/docs-static/"):
        return "public, max-age=604800"
    return "no-cache"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                headers["Cache-Control"] = cache_policy(path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse a request whose declared body is larger than any real question could need.

    Checks Content-Length only: browsers and HTTP clients send it for JSON bodies, and the library
    refuses long questions anyway; this keeps a stray multi-megabyte upload from being parsed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                body = {"error": "too_large", "message": "提交的内容太大了,请简要描述您的问题"}
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


__all__ = ["CSP", "SECURITY_HEADERS", "BodyLimit", "SecurityHeaders", "cache_policy"]
