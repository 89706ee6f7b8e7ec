"""Edge protections as pure ASGI middleware (not BaseHTTPMiddleware): security and caching headers
on every response, the request-body limit and the per-client rate limit.

Pure ASGI so the headers also cover responses produced by exception handlers and by Starlette itself
(404/405, static files), and so a response body is never buffered. Only a chunked request body is
held, and only up to the 16 KB limit, to refuse it before the app reads any of it.
"""

from __future__ import annotations

import asyncio
import math

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .ratelimit import RateLimiter, _parse_ip, _trusted, client_ip
from .settings import IPNetwork

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


def cache_policy(path: str, method: str = "GET", status: int = 200, query: str = "v=") -> str:
    # Answers may change with the corpus and questions are personal: never cache the API, nor
    # a page produced from a posted question (the lookup's search results), nor an error.
    if path.startswith("/api/") or path in ("/healthz", "/openapi.json") or method not in ("GET", "HEAD"):
        return "no-store"
    if status >= 400 or path.startswith("/lookup/r/"):  # (a posted search, shown after a redirect)
        return "no-store"
    # Static URLs carry a content hash (?v=…), so a long lifetime is safe. The chat's ES modules
    # import each other by plain relative URL (no bundler, and the CSP forbids an inline import
    # map): those requests revalidate (a 304 when unchanged), so a new release is never mixed
    # with week-old modules.
    if path.startswith(("/static/", "/docs-static/")):
        return "public, max-age=604800" if "v=" in query or path.startswith("/docs-static/") else "no-cache"
    return "no-cache"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        query = scope.get("query_string", b"").decode("latin-1")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                headers["Cache-Control"] = cache_policy(path, method, int(message.get("status", 200)), query)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


class BodyLimit:
    """Refuse a request body larger than `max_bytes` with 413, without reading the rest of it.

    A declared Content-Length over the limit is refused before a byte of the body is read. A
    body without one (chunked transfer encoding) is read here, at most `max_bytes` + one
    message, and refused as soon as it grows past the limit; a body within the limit is handed
    on to the app unchanged. The 413 asks the server to close the connection, since the unread
    remainder of the body would otherwise have to be drained first.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths that check their own, larger limit before reading (the staff's document upload).
        self.exempt = exempt

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _json_error(413, "too_large", "提交的内容太大了,请简要描述您的问题", {"Connection": "close"})
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and length.strip().isdigit():
            if int(length) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            # The server stops at Content-Length, so a declared small body cannot grow.
            await self.app(scope, receive, send)
            return
        if "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return

        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away mid-body
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            parts.append(chunk)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class ForwardedProto:
    """The scheme the client used, as the TLS-terminating proxy reports it in X-Forwarded-Proto,
    believed only from POLICY_ASSISTANT_TRUSTED_PROXIES. Cookies then get `Secure` behind the proxy
    (issue 22: uvicorn ran without proxy headers, so every request looked like plain http).

    Done here rather than with uvicorn's proxy_headers/forwarded_allow_ips: uvicorn would also
    replace the client address with X-Forwarded-For's, after which the app could no longer tell
    that a request came through its proxy (RequestId trusts the proxy's X-Request-Id; client_ip
    applies the same trusted list to X-Forwarded-For itself). Only the scheme is taken here.
    """

    def __init__(self, app: ASGIApp, trusted_proxies: tuple[IPNetwork, ...] = ()) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted_proxies:
            client = scope.get("client")
            if client and _trusted(_parse_ip(str(client[0])), self.trusted_proxies):
                # The last value is the one our own proxy wrote (it replaces the header anyway).
                proto = Headers(scope=scope).get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    secure = proto == "https"
                    scheme = ("wss" if secure else "ws") if scope["type"] == "websocket" else proto
                    scope = {**scope, "scheme": scheme}
        await self.app(scope, receive, send)


class RateLimit:
    """Per-client limit on the routes that run retrieval for a question (POST /api/ask).

    Checked before the body is read, so a flood costs one dictionary update per request.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        trusted_proxies: tuple[IPNetwork, ...] = (),
        paths: frozenset[str] = frozenset({"/api/ask"}),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") in self.paths:
            wait = self.limiter.hit(client_ip(scope, self.trusted_proxies))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                message = f"您提问太频繁了,请 {seconds} 秒后再试;急事请直接拨打政策咨询电话"
                response = _json_error(429, "too_many_requests", message, {"Retry-After": str(seconds)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


QUESTION_ROUTES = frozenset({("POST", "/api/ask"), ("POST", "/api/search"), ("POST", "/lookup")})
# Routes under these prefixes run retrieval too: the lookup's result page re-runs its stored search.
QUESTION_PREFIXES = (("GET", "/lookup/r/"),)


class QuestionGate:
    """Questions (the routes that run retrieval) get their own bounded lane.

    At most `max_active` run at once per worker and at most `max_queued` wait; a question that
    would exceed the queue, or waits longer than `queue_timeout`, is answered at once with 503 and
    Retry-After instead of hanging. Questions run in the thread pool; capping them leaves its other
    threads to pages and browsing, and /healthz runs on the event loop, so neither ever waits
    behind a slow model.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_active: int = 8,
        max_queued: int = 100,
        queue_timeout: float = 10.0,
        routes: frozenset[tuple[str, str]] = QUESTION_ROUTES,
    ) -> None:
        self.app = app
        self.max_active = max_active
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self.routes = routes
        self.active = 0
        self.waiting = 0
        self.refused = 0
        # One semaphore per event loop: a test client may drive the same app from several loops.
        self._semaphores: dict[int, asyncio.Semaphore] = {}

    def _is_question(self, scope: Scope) -> bool:
        method, path = scope.get("method"), str(scope.get("path", ""))
        if (method, path) in self.routes:
            return True
        return any(method == m and path.startswith(prefix) for m, prefix in QUESTION_PREFIXES)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = id(asyncio.get_running_loop())
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.max_active)
        return sem

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.refused += 1
        seconds = max(1, math.ceil(min(self.queue_timeout, 5.0)))
        message = f"咨询的人太多了,请 {seconds} 秒后再试;急事请直接拨打政策咨询电话"
        await _json_error(503, "busy", message, {"Retry-After": str(seconds)})(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_question(scope):
            await self.app(scope, receive, send)
            return
        sem = self._semaphore()
        # Admission is decided on counts taken before the first await, not on sem.locked(): the
        # semaphore only looks taken once an earlier question's acquire has run, so every question
        # of a burst arriving in one event-loop turn used to get past the check, and the queue grew
        # beyond its bound (tests/test_hardening_server.py, the burst test).
        if self.active + self.waiting >= self.max_active + self.max_queued:
            await self._busy(scope, receive, send)
            return
        self.waiting += 1
        try:
            await asyncio.wait_for(sem.acquire(), timeout=self.queue_timeout)
        except TimeoutError:
            await self._busy(scope, receive, send)
            return
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            sem.release()


__all__ = [
    "CSP",
    "QUESTION_ROUTES",
    "SECURITY_HEADERS",
    "BodyLimit",
    "ForwardedProto",
    "QuestionGate",
    "RateLimit",
    "SecurityHeaders",
    "cache_policy",
]
