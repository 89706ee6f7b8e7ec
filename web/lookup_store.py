"""Short-lived searches of the hotline lookup, kept on the server under a random id.

The lookup's search is a POST so that the question never lands in a URL (access logs, proxy logs,
browser history, bookmarks). A page rendered straight from a POST breaks the browser's Back button
("Confirm Form Resubmission"), so the POST stores the search here and answers 303 See Other to
GET /lookup/r/<id>: Back, forward, reload and bookmarks work, and the URL holds only the id.

Bounded on purpose: the question (already redacted) lives in memory only, for `ttl` seconds after
it was last viewed, and at most `capacity` searches are kept (least recently viewed dropped first).
A lost id is harmless: the page says the search expired and asks to search again.

State is per process. With several server workers a later request can reach a worker that never
saw the id and shows the "expired" notice; the 303's own follow-up normally travels on the same
keep-alive connection (same worker), and lookup.js re-runs a search this tab made when its id is
unknown (see there).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_TTL_SECONDS = 30 * 60
DEFAULT_CAPACITY = 2000  # ≈ 2000 × (≤ 1.5 KB question + filters): a few MB at most
# secrets.token_urlsafe(12): 96 random bits, 16 URL-safe characters.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16}")


@dataclass(frozen=True)
class SavedSearch:
    """What the result page needs to re-run a search: the redacted question and its filters.

    `error` is the library's message when the question was refused (too long), shown instead of
    results, so even a refused search follows the same POST → 303 → GET path."""

    q: str
    unit: str = ""
    section: str = ""
    group: str = ""
    error: str = ""


class ResultStore:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or capacity < 1:
            raise ValueError("ttl and capacity must be positive")
        self.ttl = ttl
        self.capacity = capacity
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, SavedSearch]] = OrderedDict()
        # Handlers run in the thread pool: every read also reorders, so reads lock too.
        self._lock = threading.Lock()

    def put(self, search: SavedSearch) -> str:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._purge()
            self._items[token] = (self._clock() + self.ttl, search)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return token

    def get(self, token: str) -> SavedSearch | None:
        """The search, with its lifetime renewed (a result page in use stays alive); None when
        the id is malformed, unknown, dropped or expired."""
        if not TOKEN_RE.fullmatch(token):
            return None
        with self._lock:
            item = self._items.get(token)
            now = self._clock()
            if item is None or item[0] <= now:
                self._items.pop(token, None)
                return None
            self._items[token] = (now + self.ttl, item[1])
            self._items.move_to_end(token)
            return item[1]

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._items)

    def _purge(self) -> None:
        # Oldest-viewed first, so expired entries sit at the front: stop at the first live one.
        now = self._clock()
        while self._items:
            token, (expires, _) = next(iter(self._items.items()))
            if expires > now:
                break
            del self._items[token]


_attach_lock = threading.Lock()


def store_of(state: object) -> ResultStore:
    """The app's store, created on first use (kept on app.state, so each app has its own)."""
    store = getattr(state, "lookup_store", None)
    if store is None:
        with _attach_lock:
            store = getattr(state, "lookup_store", None)
            if store is None:
                store = ResultStore()
                setattr(state, "lookup_store", store)  # noqa: B010 - starlette State is attribute-based
    return store


__all__ = ["DEFAULT_CAPACITY", "DEFAULT_TTL_SECONDS", "TOKEN_RE", "ResultStore", "SavedSearch", "store_of"]
