"""Per-client rate limiting: who the client is, and whether it may ask again yet.

The limiter is GCRA (the "generic cell rate algorithm", a token bucket stored as one number):
each client has a theoretical arrival time `tat`; a request is allowed when `tat` is not further
ahead of now than the burst allowance, and then pushes `tat` on by one emission interval.
N requests per period are allowed in a burst and then one every period/N seconds, and the
wait until the next allowed request (Retry-After) falls out of the same arithmetic.

State is per process: with several server workers each keeps its own buckets (see
docs/OPERATIONS.md for what that means and how to get an exact shared limit).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.types import Scope

from .settings import IPNetwork, Rate

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RateLimiter:
    """GCRA over a bounded table of clients. Thread-safe; O(1) per request."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.interval = rate.period / rate.requests
        self.burst = rate.period - self.interval  # how far ahead of now `tat` may be
        self.clock = clock
        self._max_clients = max_clients
        self._tat: dict[str, float] = {}  # insertion order ≈ least recently seen first
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one request; 0.0 if allowed, else the seconds until the client may retry."""
        with self._lock:
            now = self.clock()
            tat = max(self._tat.pop(key, now), now)
            wait = tat - self.burst - now
            if wait > 1e-9:
                self._tat[key] = tat
                return wait
            self._tat[key] = tat + self.interval
            if len(self._tat) > self._max_clients:
                self._prune(now)
            return 0.0

    def _prune(self, now: float) -> None:
        # A client whose tat has passed has a full bucket again: forgetting it changes nothing.
        for key in [k for k, t in self._tat.items() if t <= now]:
            del self._tat[key]
        # Under a flood from more addresses than the table holds, forget the least recently
        # seen; that can only make the limit laxer for them, never block anyone wrongly.
        overflow = len(self._tat) - self._max_clients
        for key in list(self._tat)[: max(overflow, 0)]:
            del self._tat[key]

    def __len__(self) -> int:
        return len(self._tat)


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
