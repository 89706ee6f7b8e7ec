"""Short-lived searches of the hotline lookup, kept on the server under a random id.

The lookup's search is a POST so that the question never lands in a URL (access logs, proxy logs,
browser history, bookmarks). A page rendered straight from a POST breaks the browser's Back button
("Confirm Form Resubmission"), so the POST stores the search here and answers 303 See Other to
GET /lookup/r/<id>: Back, forward, reload and bookmarks work, and the URL holds only the id.

Bounded on purpose: the question (already redacted) is kept for `ttl` seconds after it was last
viewed, and at most `capacity` searches are kept (least recently viewed dropped first). A lost id
is harmless: the page says the search expired and asks to search again.

Where: in the shared store (assistant/store/shared.py) when the app has one — the question log's
database, so with several workers or replicas any of them shows a result page another created
(issue 22) — otherwise in this process's memory. lookup.js still re-runs a search this tab made
when its id is unknown (expired, or a store that was reset).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from assistant.store import SharedState, SharedStateError

log = logging.getLogger("policy_assistant.web")

DEFAULT_TTL_SECONDS = 30 * 60
DEFAULT_CAPACITY = 2000  # ≈ 2000 × (≤ 1.5 KB question + filters): a few MB at most
SHARED_CAPACITY = 20_000  # in the database, for every worker and replica together
KIND = "lookup"
TRIM_EVERY = 100  # puts per process between two trims of the shared table to its capacity
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
    doc: str = ""  # the 文件 filter (issue 20); last, so entries stored before it still load


class ResultStore:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
        shared: Callable[[], SharedState] | None = None,
    ) -> None:
        if ttl <= 0 or capacity < 1:
            raise ValueError("ttl and capacity must be positive")
        self.ttl = ttl
        self.capacity = capacity
        self._clock = clock
        self._shared = shared  # None: this process's memory
        self._puts = 0
        self._items: OrderedDict[str, tuple[float, SavedSearch]] = OrderedDict()
        # Handlers run in the thread pool: every read also reorders, so reads lock too.
        self._lock = threading.Lock()

    def put(self, search: SavedSearch) -> str:
        token = secrets.token_urlsafe(12)
        if self._shared is not None:
            try:
                store = self._shared()
                store.put(KIND, token, json.dumps(asdict(search), ensure_ascii=False), self.ttl)
                with self._lock:
                    self._puts += 1
                    trim = self._puts % TRIM_EVERY == 0
                if trim:
                    store.trim(KIND, self.capacity)
                return token
            except SharedStateError as exc:  # the database is down: this worker's memory will do
                log.error("检索结果无法存入共享存储,暂存于本进程: %s", exc)
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
        if self._shared is not None:
            try:
                raw = self._shared().get(KIND, token, renew=self.ttl)
            except SharedStateError as exc:
                log.error("共享存储不可用,只查本进程暂存的检索: %s", exc)
                raw = None
            if raw is not None:
                try:
                    return SavedSearch(**json.loads(raw))
                except (TypeError, ValueError):  # written by another version: as if expired
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

    def forget_all(self) -> None:
        """Drop every saved search (what a restart did before they were shared; tests)."""
        if self._shared is not None:
            self._shared().trim(KIND, 0)
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        if self._shared is not None:
            return self._shared().count(KIND)
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
                handle = getattr(state, "shared", None)
                store = ResultStore(capacity=SHARED_CAPACITY, shared=handle.get) if handle else ResultStore()
                setattr(state, "lookup_store", store)  # noqa: B010 - starlette State is attribute-based
    return store


__all__ = ["DEFAULT_CAPACITY", "DEFAULT_TTL_SECONDS", "TOKEN_RE", "ResultStore", "SavedSearch", "store_of"]
