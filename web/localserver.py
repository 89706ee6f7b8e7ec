"""Serving the app with uvicorn: connection hygiene for `policy-assistant serve`, and a loopback
server in a background thread for tests, browser tests and screenshots.

uvicorn's h11 protocol closes a keep-alive connection that stays idle after a response, but it
starts no timer when a connection is opened, and none while a request head trickles in: a socket
that connects and never sends a byte is kept for ever, and enough of them exhaust the open-file
limit (issue 9: 20,000 idle sockets took the server down). `GuardedH11Protocol` adds, per worker:

- a **request-head deadline**: the complete request line and headers must arrive within
  `header_timeout` seconds of the connection opening or of the previous response, however the
  bytes are paced (slowloris), else the connection is closed;
- a **connection cap**: at most `max_connections` open connections. A new connection beyond the
  cap closes the connection that has been idle longest (no request in progress) to make room, so
  a flood of idle sockets costs its sender its own sockets, not real clients their answers; when
  every connection is busy, the newcomer gets an immediate `503` with `Retry-After` and is closed;
- uvicorn's own `400` replies (NUL in the path, bad chunk size, duplicate Content-Length) carry
  the same security headers as the app's responses.

`ThrottledLogFilter` makes repeated accept-loop errors ("socket.accept() out of system resource")
one log line per interval with a count, instead of one traceback per attempt.

Also holds how to start Debian's chromium headless here (`playwright install` cannot download
browsers on these machines), so tests and scripts/screenshots.py launch it the same way.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from .security import SECURITY_HEADERS

log = logging.getLogger("policy_assistant.web")

# Debian's package; CHROMIUM_PATH points elsewhere on other systems.
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

MAX_CONNECTIONS_ENV = "POLICY_ASSISTANT_MAX_CONNECTIONS"
HEADER_TIMEOUT_ENV = "POLICY_ASSISTANT_HEADER_TIMEOUT"
KEEPALIVE_TIMEOUT_ENV = "POLICY_ASSISTANT_KEEPALIVE_TIMEOUT"
# File descriptors a worker keeps for everything but client sockets: the listening socket, the
# question log and its WAL, index files, the model, logs, pipes.
_RESERVED_FDS = 128


@dataclass(frozen=True)
class ServerLimits:
    """Connection limits of one worker process (each worker applies them to its own sockets)."""

    max_connections: int = 2048
    header_timeout: float = 10.0  # seconds for a complete request head
    keepalive_timeout: float = 5.0  # seconds an idle keep-alive connection is kept (uvicorn's)
    backlog: int = 4096  # kernel accept queue (capped by net.core.somaxconn): absorbs connection bursts
    retry_after: int = 5  # seconds, on the 503 sent when every connection is busy
    max_incomplete_event_size: int = 16 * 1024  # request line + headers, bytes (h11's default)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServerLimits:
        env = os.environ if environ is None else environ
        default = cls()

        def number(name: str, fallback: float, low: float, high: float) -> float:
            raw = env.get(name, "").strip()
            try:
                value = float(raw) if raw else fallback
            except ValueError:
                log.error("%s=%r 不是数字;改用默认值 %s", name, raw, fallback)
                return fallback
            if not low <= value <= high:
                log.error("%s=%r 超出范围 %s–%s;改用默认值 %s", name, raw, low, high, fallback)
                return fallback
            return value

        return cls(
            max_connections=int(number(MAX_CONNECTIONS_ENV, default.max_connections, 16, 1_000_000)),
            header_timeout=number(HEADER_TIMEOUT_ENV, default.header_timeout, 0.1, 3600),
            keepalive_timeout=number(KEEPALIVE_TIMEOUT_ENV, default.keepalive_timeout, 0.1, 3600),
        )

    def effective_max_connections(self) -> int:
        """The cap, lowered to what the process's open-file limit leaves room for."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(16, min(self.max_connections, soft - _RESERVED_FDS))


def raise_open_file_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (workers inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft


class ThrottledLogFilter(logging.Filter):
    """Let one record per message prefix through per `interval` seconds; count the rest.

    The next record let through says how many were left out. Used on the "asyncio" logger,
    whose accept loop reports every failed accept() (EMFILE) with a traceback.
    """

    def __init__(self, prefixes: tuple[str, ...], interval: float = 60.0) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = collections.defaultdict(int)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        prefix = next((p for p in self.prefixes if message.startswith(p)), None)
        if prefix is None:
            return True
        now = time.monotonic()
        with self._lock:
            last = self._last.get(prefix)
            if last is not None and now - last < self.interval:
                self._suppressed[prefix] += 1
                return False
            self._last[prefix] = now
            skipped = self._suppressed.pop(prefix, 0)
        if skipped:
            record.msg = f"{message}(此前 {self.interval:g} 秒内另有 {skipped} 条相同消息未记录)"
            record.args = ()
        return True


ACCEPT_ERRORS = ("socket.accept() out of system resource", "Error on transport creation")


def install_accept_error_throttle(interval: float = 60.0) -> None:
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, ThrottledLogFilter) for f in logger.filters):
        logger.addFilter(ThrottledLogFilter(ACCEPT_ERRORS, interval))


class _Throttled:
    """Counts an event and logs it at most once per interval (evictions, refusals)."""

    def __init__(self, message: str, interval: float = 60.0) -> None:
        self.message = message
        self.interval = interval
        self.count = 0
        self._last = -float("inf")

    def hit(self, *args: object) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            log.warning(self.message + "(累计 %d 次)", *args, self.count)


class ConnectionRegistry:
    """The open connections of one worker, idle ones in the order they became idle."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: set[GuardedH11Protocol] = set()
        self.idle: collections.OrderedDict[GuardedH11Protocol, None] = collections.OrderedDict()
        self.evicted = _Throttled("连接数达到上限 %d,已关闭最久空闲的连接以接受新连接")
        self.refused = _Throttled("连接数达到上限 %d 且全部在处理请求,新连接以 503 拒绝")

    def became_idle(self, conn: GuardedH11Protocol) -> None:
        if conn in self.open:
            self.idle[conn] = None
            self.idle.move_to_end(conn)

    def became_busy(self, conn: GuardedH11Protocol) -> None:
        self.idle.pop(conn, None)

    def admit(self, conn: GuardedH11Protocol) -> bool:
        """Make room for `conn` by closing the longest-idle connection if needed; False if none."""
        while len(self.open) >= self.limit:
            if not self.idle:
                self.refused.hit(self.limit)
                return False
            victim, _ = self.idle.popitem(last=False)
            self.open.discard(victim)
            victim.close_idle()
            self.evicted.hit(self.limit)
        self.open.add(conn)
        self.became_idle(conn)
        return True

    def forget(self, conn: GuardedH11Protocol) -> None:
        self.open.discard(conn)
        self.idle.pop(conn, None)


# One registry per worker process (one event loop each); created by the first connection.
_registries: dict[tuple[int, ServerLimits], ConnectionRegistry] = {}
_LIMITS: ServerLimits | None = None


def _limits() -> ServerLimits:
    global _LIMITS
    if _LIMITS is None:
        _LIMITS = ServerLimits.from_env()
    return _LIMITS


def _registry(loop: asyncio.AbstractEventLoop, limits: ServerLimits) -> ConnectionRegistry:
    key = (id(loop), limits)
    registry = _registries.get(key)
    if registry is None:
        registry = _registries[key] = ConnectionRegistry(limits.effective_max_connections())
    return registry


def _raw_response(status: int, reason: bytes, body: bytes, extra: list[tuple[bytes, bytes]]) -> bytes:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        *((k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()),
        *extra,
    ]
    head = b"HTTP/1.1 %d %s\r\n" % (status, reason) + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    return head + b"\r\n" + body


def _no_delay(transport: asyncio.Transport) -> None:
    """Send small writes at once (TCP_NODELAY).

    asyncio sets it only on sockets whose `proto` is IPPROTO_TCP; with `--workers N` uvicorn hands
    each worker the listening socket through multiprocessing, which rebuilds it with proto 0, so
    accepted sockets kept Nagle's algorithm: h11 writes the head and the body separately, the body
    waited for the client's delayed ACK, and every response took ~40 ms longer (measured: /api/measures
    44 ms with two workers, 1.3 ms with one)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a per-worker connection cap."""

    limits: ServerLimits | None = None  # None: from the environment (serve); tests set a class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = self.limits or _limits()
        self._head_timer: asyncio.TimerHandle | None = None
        self._registry = _registry(self.loop, self._limits)
        self._admitted = False

    # -- connection lifecycle ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        if not self._registry.admit(self):
            # Every connection is busy: say so at once rather than leave the client hanging.
            body = "服务器繁忙,请稍后再试".encode()
            retry = [(b"retry-after", str(self._limits.retry_after).encode())]
            transport.write(_raw_response(503, b"Service Unavailable", body, retry))
            transport.close()
            self.transport = transport
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._registry.forget(self)
        if not self._admitted:
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a complete request head arrived: a request is in progress
            self._cancel_head_timer()
            self._registry.became_busy(self)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # (super() may already have started the next, pipelined request.)
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._registry.became_idle(self)
            self._arm_head_timer()

    def close_idle(self) -> None:
        """Closed to make room for a new connection (no request is in progress on it)."""
        self._cancel_head_timer()
        if not self.transport.is_closing():
            with _suppress_h11_errors():
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    # -- the request-head deadline -------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self._limits.header_timeout, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        # Nothing useful arrived in time (an idle or trickling client): close without a reply.
        with _suppress_h11_errors():
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()

    # -- uvicorn's own replies -------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        # uvicorn's version sends only Content-Type; ours carries the app's security headers.
        self._cancel_head_timer()
        body = f"{msg}\n请求格式有误".encode()
        self.transport.write(_raw_response(400, b"Bad Request", body, []))
        self.transport.close()


@contextmanager
def _suppress_h11_errors() -> Iterator[None]:
    try:
        yield
    except h11.LocalProtocolError:
        pass


def server_config(app: Any, host: str, port: int, limits: ServerLimits | None = None, **kwargs: Any) -> uvicorn.Config:
    """The uvicorn configuration `serve` and the test server share."""
    limits = limits or _limits()
    protocol: type[GuardedH11Protocol] = GuardedH11Protocol
    if limits is not _limits():
        protocol = type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        timeout_keep_alive=int(max(1, round(limits.keepalive_timeout))),
        h11_max_incomplete_event_size=limits.max_incomplete_event_size,
        backlog=limits.backlog,
        # No limit_concurrency: uvicorn counts idle connections against it, so an idle flood would
        # turn every real request into a 503. The cap above evicts idle connections instead, and
        # questions have their own queue (web.security.QuestionGate).
        **kwargs,
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running(
    app: FastAPI,
    host: str = "127.0.0.1",
    timeout: float = 20.0,
    limits: ServerLimits | None = None,
    access_log: bool = False,
) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL (http://127.0.0.1:PORT)."""
    port = free_port(host)
    install_accept_error_throttle()
    config = server_config(
        app, host, port, limits or ServerLimits(), log_level="info" if access_log else "warning",
        access_log=access_log, lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"测试服务器未能在 {host}:{port} 启动")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


__all__ = [
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "ConnectionRegistry",
    "GuardedH11Protocol",
    "ServerLimits",
    "ThrottledLogFilter",
    "free_port",
    "install_accept_error_throttle",
    "raise_open_file_limit",
    "running",
    "server_config",
]
