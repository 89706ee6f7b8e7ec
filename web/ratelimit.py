"""Per-client rate limiting: who the client is, and whether it may ask again yet.

The counting is the `limits` library's moving window: at most N requests in any window of the
period, per client, and Retry-After is the time until the oldest request in the window leaves it.
Its storage is chosen by URI: `memory://` (the default) keeps the counters in this process, so
with several workers or replicas each keeps its own; `redis://…`, `memcached://…` or
`mongodb://…` (with that client library installed) share one exact limit between them — see
docs/OPERATIONS.md, "Several replicas".

What stays here is what `limits` cannot know: which address a request comes from (client_ip).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.storage.base import MovingWindowSupport
from limits.strategies import MovingWindowRateLimiter, RateLimiter as _Strategy, SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers
from starlette.types import Scope

from .settings import IPNetwork, Rate

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RateLimiter:
    """`rate` per client over a `limits` storage. Thread-safe (the storages are)."""

    def __init__(self, rate: Rate, storage: str = "memory://", namespace: str = "ask") -> None:
        if rate.period != int(rate.period):
            raise ValueError(f"频率限制的时间窗口应为整秒:{rate}")
        self.rate = rate
        # One namespace per limiter, so two limiters over one shared storage count separately.
        self.item = RateLimitItemPerSecond(rate.requests, int(rate.period), namespace=namespace)
        self.storage = storage_from_string(storage)
        # The moving window is exact: never more than N in any `period` seconds. The sliding-window counter (for a
        # storage without moving-window support, such as memcached) estimates the previous fixed window's share and
        # rounds it down, so right after each window boundary a client at its limit is let through once more — with
        # 1/60 s, a second question a second after the first was allowed whenever a minute began between them.
        strategy: type[_Strategy] = (
            MovingWindowRateLimiter if isinstance(self.storage, MovingWindowSupport) else SlidingWindowCounterRateLimiter
        )
        self.limiter = strategy(self.storage)
        # The storages stamp entries with time.time(); Retry-After is computed against the same clock.
        self.clock: Callable[[], float] = time.time

    def hit(self, key: str) -> float:
        """Count one request; 0.0 if allowed, else the seconds until the client may retry."""
        if self.limiter.hit(self.item, key):
            return 0.0
        reset = self.limiter.get_window_stats(self.item, key).reset_time
        return max(reset - self.clock(), 1e-3)

    def reset(self) -> None:
        """Forget every client (tests, or an operator lifting a block)."""
        self.storage.reset()


def _parse_ip(text: str) -> IPAddress | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: IPAddress | None, proxies: Iterable[IPNetwork]) -> bool:
    return ip is not None and any(ip in net for net in proxies)


def client_ip(scope: Scope, trusted_proxies: tuple[IPNetwork, ...]) -> str:
    """The address to rate-limit: the socket peer, or the client a trusted proxy names.

    X-Forwarded-For is read only when the peer itself is a trusted proxy, and then from the
    right: each hop was appended by the machine before it, so the first address (from the
    right) that is not one of our proxies is the client; anything left of it is whatever the
    client chose to send and is ignored.
    """
    client = scope.get("client")
    peer_text = str(client[0]) if client else ""
    peer = _parse_ip(peer_text)
    if not _trusted(peer, trusted_proxies):
        return str(peer) if peer is not None else (peer_text or "unknown")
    values = Headers(scope=scope).getlist("x-forwarded-for")
    hops = [h for v in values for h in v.split(",") if h.strip()]
    current = str(peer)
    for hop in reversed(hops):
        ip = _parse_ip(hop)
        if ip is None:  # a malformed hop: nothing to its left can be trusted
            break
        current = str(ip)
        if not _trusted(ip, trusted_proxies):
            break
    return current


__all__ = ["RateLimiter", "client_ip"]
