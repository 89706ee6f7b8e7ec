"""Build and load the on-disk index: a folder of plain, inspectable files (bm25s style).

    index/manifest.json    corpus fingerprint, embedder, versions, sha256 of every file below
    index/chunks.jsonl     the chunks as indexed (for people and diffs; the corpus stays the source)
    index/rows.json        which chunk / sentence each dense vector belongs to
    index/vectors.npy      normalised float32 vectors
    index/dense.faiss      faiss inner-product index over them
    index/lexical/         bm25s index over jieba tokens of the primary document's chunks
    index/background.npy   vectors of neighbouring topics the policy does not cover (contrast set)
    index/tokens.json      every chunk's jieba tokens (of lexical_text), so that loading does not re-tokenise

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
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePosixPath

import bm25s
import faiss
import numpy as np

# bm25s logs "Building index from tokens" at DEBUG through its own handler; not for our users.
logging.getLogger("bm25s").setLevel(logging.WARNING)

from .build_cache import EmbeddingCache, TokenCache, package_versions
from .corpus import Chunk, Corpus
from .embed import Embedder
from .errors import EmbedderMismatch, IndexCorrupt, IndexMissing, IndexStale
from .text import Lexicon

# Bump when the meaning of the files changes; an index of another format is rebuilt.
INDEX_FORMAT = 7  # 7: the tokenizer learns the glossary's two-character words (tokens.json changes)


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
    tokens: tuple[tuple[str, ...], ...] = ()  # per chunk, Lexicon.tokens of its lexical_text (chunk order)


def topic_of(chunk: Chunk, corpus: Corpus) -> str:
    """What a related rule's chunk is about beyond its own words: its document's title (「灵活就业人员社会保险补贴
    政策问答」), unless its section already says it. A guide's 「办理时限」 or a Q&A pair's 「到哪里办理？」 names no subject
    of its own; questions do (「创业补贴多久能办下来」). Empty for the primary, whose chunks are indexed as they always were."""
    if chunk.doc == corpus.primary:
        return ""
    doc = corpus.document(chunk.doc)
    title = doc.meta.title if doc is not None else ""
    return "" if not title or title in chunk.section else title


def lexical_text(chunk: Chunk, topic: str = "") -> str:
    # The title is repeated because it is the measure's own summary of itself.
    parts = [chunk.title, chunk.title, chunk.section, chunk.text]
    return "\n".join([*parts[:3], topic, parts[3]] if topic else parts)


def passage_texts(chunk: Chunk, topic: str = "") -> list[str]:
    """Whole chunk plus each sentence: a question usually targets one sentence of a long measure. A related rule's
    passages are prefixed with its subject (topic_of), which its field names and questions leave out."""
    head = f"{chunk.section} {chunk.title}" if topic or chunk.kind in _SUBJECTLESS else chunk.title
    head = f"{topic} {head}".strip() if topic else head
    whole = f"{head}。{chunk.text}"
    return [whole, *(f"{head}:{s}" for s in chunk.sentences)]


# Chunks labelled by a field name or a question, not by their subject: their section (a guide's 事项名称, a Q&A
# page's title) says what they are about. The primary's kinds (measure, org, notice, guiding) are not among them.
_SUBJECTLESS = frozenset({"field", "qa"})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def _clear(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


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
            for i, t in enumerate(passage_texts(c, topic_of(c, corpus))):
                rows.append(Row(c.id, i - 1))
                texts.append(t)
        cache = EmbeddingCache(index_dir / "cache", embedder.id)
        vectors = cache.passages(embedder, texts, progress)
        background = np.asarray(
            cache.passages(embedder, [f"{nb.topic}:{nb.description}" for nb in lexicon.neighbours], False)
            if lexicon.neighbours
            else np.zeros((0, vectors.shape[1])),
            dtype=np.float32,
        )
        cache.save()
        np.save(tmp / "background.npy", background)
        np.save(tmp / "vectors.npy", vectors)
        dense = faiss.IndexFlatIP(vectors.shape[1])
        dense.add(vectors)
        faiss.write_index(dense, str(tmp / "dense.faiss"))

        # Every chunk's tokens, as the retriever reads them (its BM25 tiers and coverage are built from these).
        token_cache = TokenCache(index_dir / "cache", lexicon)
        tokens = token_cache.tokens([lexical_text(c, topic_of(c, corpus)) for c in chunks])
        token_cache.save()
        (tmp / "tokens.json").write_text(json.dumps([" ".join(t) for t in tokens], ensure_ascii=False), encoding="utf-8")

        lex = bm25s.BM25()
        # Over the primary document's chunks: its evidence is computed on its own statistics (tiers._Tier); the
        # related rules' BM25 is built when the retriever loads, from the tokens above.
        lex.index([list(t) for c, t in zip(chunks, tokens, strict=True) if c.doc == corpus.primary], show_progress=False)
        lex.save(str(tmp / "lexical"), show_progress=False)

        (tmp / "rows.json").write_text(json.dumps([{"chunk": r.chunk, "sentence": r.sentence} for r in rows], ensure_ascii=False), encoding="utf-8")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for c in chunks:
                # Field by field, not asdict: its deep copy of every chunk was seconds over a thousand documents.
                record = {f.name: getattr(c, f.name) for f in fields(c)}
                record["deadlines"] = [d.phrase for d in c.deadlines]
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

        files = {p.relative_to(tmp).as_posix(): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = Manifest(
            format=INDEX_FORMAT,
            corpus_sha256=corpus.fingerprint,
            embedder=embedder.id,
            dim=int(vectors.shape[1]),
            chunk_ids=tuple(c.id for c in chunks),
            n_vectors=int(vectors.shape[0]),
            built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            versions=package_versions(),
            files=files,
        )
        # Replace the old index only once the new one is complete: the manifest goes last.
        _clear(index_dir / "manifest.json")
        for rel in files:
            dest = index_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            _clear(dest)  # a damaged index may have a folder where a file belongs
            os.replace(tmp / rel, dest)
        (index_dir / "manifest.json").write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), encoding="utf-8")
        shutil.rmtree(tmp, ignore_errors=True)
        return manifest


# The manifest's exact shape: each field and the type its value must have. Anything else — a
# missing or extra field, a list where a mapping belongs, null — is a damaged manifest, which
# load_index reports as IndexCorrupt so that Assistant.load rebuilds, never an AttributeError.
_MANIFEST_FIELDS: dict[str, type] = {
    "format": int,
    "corpus_sha256": str,
    "embedder": str,
    "dim": int,
    "chunk_ids": list,
    "n_vectors": int,
    "built_at": str,
    "versions": dict,
    "files": dict,
}
# What every index holds; a manifest that does not list them cannot vouch for them.
_REQUIRED_FILES = ("vectors.npy", "dense.faiss", "rows.json", "background.npy", "chunks.jsonl", "tokens.json")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _safe_relative(rel: str) -> bool:
    # Listed files must stay inside the index folder: no absolute paths, no "..".
    path = PurePosixPath(rel)
    return bool(rel) and not path.is_absolute() and ".." not in path.parts and "\\" not in rel


def _manifest_shape_problem(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return f"应为 JSON 对象,实为 {type(raw).__name__}"
    if set(raw) != set(_MANIFEST_FIELDS):
        missing, extra = set(_MANIFEST_FIELDS) - set(raw), set(raw) - set(_MANIFEST_FIELDS)
        return f"字段不符(缺少 {sorted(missing)},多出 {sorted(extra)})"
    for name, kind in _MANIFEST_FIELDS.items():
        value = raw[name]
        # bool is an int to Python, never to this manifest.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"字段 {name} 应为 {kind.__name__},实为 {type(value).__name__}"
    if raw["dim"] <= 0 or raw["n_vectors"] < 0:
        return "dim 或 n_vectors 的值不合理"
    if not all(isinstance(c, str) for c in raw["chunk_ids"]):
        return "chunk_ids 应为字符串列表"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in raw["versions"].items()):
        return "versions 应为字符串到字符串的映射"
    files = raw["files"]
    for rel, digest in files.items():
        if not _safe_relative(rel) or not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
            return f"files 中的条目 {rel!r} 不合规"
    absent = [f for f in _REQUIRED_FILES if f not in files]
    if absent or not any(rel.startswith("lexical/") for rel in files):
        return f"files 未列出 {absent or ['lexical/']}"
    return None


def read_manifest(index_dir: Path) -> Manifest:
    path = Path(index_dir) / "manifest.json"
    if not path.exists():
        raise IndexMissing(f"索引不存在: {path}(请运行 policy-assistant build)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # a directory, unreadable, not UTF-8, not JSON
        raise IndexCorrupt(f"索引清单无法读取: {path} ({exc})") from None
    problem = _manifest_shape_problem(raw)
    if problem is not None:
        raise IndexCorrupt(f"索引清单已损坏: {path}({problem})")
    raw["chunk_ids"] = tuple(raw["chunk_ids"])
    return Manifest(**raw)


def _file_ok(path: Path, digest: str) -> bool:
    try:
        return path.is_file() and not path.is_symlink() and _sha256(path) == digest
    except OSError:
        return False


def _row(raw: object) -> Row:
    if not isinstance(raw, dict) or set(raw) != {"chunk", "sentence"}:
        raise ValueError(f"rows.json 的条目形状不对: {raw!r:.60}")
    chunk, sentence = raw["chunk"], raw["sentence"]
    if not isinstance(chunk, str) or not isinstance(sentence, int) or isinstance(sentence, bool):
        raise ValueError(f"rows.json 的条目类型不对: {raw!r:.60}")
    return Row(chunk, sentence)


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
        if not _file_ok(path, digest):
            raise IndexCorrupt(f"索引文件损坏或缺失: {path}")
    try:
        rows = tuple(_row(r) for r in json.loads((index_dir / "rows.json").read_text(encoding="utf-8")))
        dense = faiss.read_index(str(index_dir / "dense.faiss"))
        background = np.load(index_dir / "background.npy", allow_pickle=False)
        lexical = bm25s.BM25.load(str(index_dir / "lexical"), show_progress=False)
        joined = json.loads((index_dir / "tokens.json").read_text(encoding="utf-8"))
        if not isinstance(joined, list) or not all(isinstance(t, str) for t in joined):
            raise ValueError("tokens.json 应为字符串列表")
        tokens = tuple(tuple(t.split(" ")) if t else () for t in joined)
    except Exception as exc:  # faiss/bm25s raise assorted types on damaged files
        raise IndexCorrupt(f"索引文件无法读取: {exc}") from None
    if dense.ntotal != len(rows) or tuple(manifest.chunk_ids) != tuple(c.id for c in corpus.chunks) or len(tokens) != len(corpus.chunks):
        raise IndexCorrupt("索引与语料的条目不一致")
    return LoadedIndex(manifest=manifest, rows=rows, dense=dense, lexical=lexical, background=background, tokens=tokens)
