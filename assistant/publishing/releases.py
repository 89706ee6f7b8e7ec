"""Published versions of the library: each a frozen copy of the corpus with the index built from it.

    <releases>/CURRENT                 the version being served (a small JSON file, replaced atomically)
    <releases>/<version>/corpus/       the library as it was when the version was built
    <releases>/<version>/index/        its index (assistant.index layout)
    <releases>/<version>/passages.npy  every passage vector of the index, with
    <releases>/<version>/passages.json the passages' texts: the next build embeds only texts not in here
    <releases>/STATUS.json             the last build: building / published / failed, and why

A build writes a hidden directory, renames it into place, then replaces CURRENT: a replica reading CURRENT sees either
the old version or the complete new one, never half of one. The corpus is copied into the version so that a version's
index always matches the text it is served with, whatever staff change in the library meanwhile. A build that fails
leaves CURRENT (and every replica's Assistant) as it was, and STATUS.json says why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..corpus import load_corpus
from ..embed import Embedder
from ..index import build_index, passage_texts
from ..text import Lexicon

log = logging.getLogger("policy_assistant")

POINTER = "CURRENT"
STATUS = "STATUS.json"
# Versions kept besides the current one: a replica still loading the previous version finds it.
KEEP = 3


@dataclass(frozen=True)
class Release:
    version: str
    path: Path
    built_at: str
    documents: int
    chunks: int
    embedded: int  # passages embedded by this build (the rest came from the previous version)
    failures: tuple[str, ...]  # files of the library that could not be read (left out)

    @property
    def corpus_dir(self) -> Path:
        return self.path / "corpus"

    @property
    def index_dir(self) -> Path:
        return self.path / "index"


@dataclass(frozen=True)
class BuildStatus:
    state: str  # "building" | "published" | "failed"
    version: str  # the version built (or being built)
    started: str
    finished: str = ""
    reason: str = ""  # why a build failed, in Chinese for staff
    actor: str = ""


def _utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def current_version(releases: Path) -> str | None:
    """The version CURRENT names (None before the first publish, or when it names nothing usable)."""
    try:
        raw = json.loads((Path(releases) / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = raw.get("version") if isinstance(raw, dict) else None
    if not isinstance(version, str) or not version or "/" in version or version.startswith("."):
        return None
    return version if (Path(releases) / version / "index").is_dir() else None


def read_release(releases: Path, version: str) -> Release:
    raw = json.loads((Path(releases) / version / "release.json").read_text(encoding="utf-8"))
    raw["failures"] = tuple(raw["failures"])
    return Release(path=Path(releases) / version, **raw)


def current_release(releases: Path) -> Release | None:
    version = current_version(releases)
    return read_release(releases, version) if version else None


def library_fingerprint(library: Path) -> str:
    """The fingerprint a version built from `library` now would have: documents.library.fingerprint over the files a
    build copies (hidden entries — .versions, .staging, locks — are housekeeping, not content)."""
    root = Path(library)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            h.update(rel.as_posix().encode())
            h.update(b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


def matches_library(release: Release, library: Path) -> bool:
    """Whether the version was built from the library as it is now (not edited since, e.g. by `policy-assistant add`)."""
    try:
        manifest = json.loads((release.index_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("corpus_sha256") == library_fingerprint(library)


def read_status(releases: Path) -> BuildStatus | None:
    try:
        return BuildStatus(**json.loads((Path(releases) / STATUS).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_status(releases: Path, status: BuildStatus) -> None:
    Path(releases).mkdir(parents=True, exist_ok=True)
    _write_atomic(Path(releases) / STATUS, json.dumps(asdict(status), ensure_ascii=False))


class CachingEmbedder:
    """Passages already embedded by the previous version are taken from it; only new texts reach the model.

    Keyed by the exact passage text, so an edited chunk is embedded again and an unchanged one never is."""

    def __init__(self, inner: Embedder, known: dict[str, np.ndarray]) -> None:
        self.inner = inner
        self.known = known
        self.used: dict[str, np.ndarray] = {}
        self.embedded = 0

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.queries(texts)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.known))
        if missing:
            fresh = np.asarray(self.inner.passages(missing), dtype=np.float32)
            self.known.update(zip(missing, fresh, strict=True))
            self.embedded += len(missing)
        rows = [self.known[t] for t in texts]
        self.used.update(zip(texts, rows, strict=True))
        return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), dtype=np.float32)


def seed_from(corpus_chunks: Sequence[Any], dense: Any, embedder_id: str,
              background_texts: Sequence[str] = (), background: Any = None) -> dict[str, Any]:  # fmt: skip
    """The passages an index already serving holds (its faiss vectors, in the order build_index wrote them, and the
    neighbouring topics' vectors), so that even the first publish embeds only the new document's chunks."""
    texts = passages_of(corpus_chunks)
    if getattr(dense, "ntotal", -1) != len(texts):
        return {}
    known = dict(zip(texts, dense.reconstruct_n(0, len(texts)), strict=True))
    if background is not None and len(background) == len(background_texts):
        known.update(zip(background_texts, background, strict=True))
    return {"embedder": embedder_id, "known": known}


def seed_from_assistant(assistant: Any) -> dict[str, Any]:
    """seed_from() for a loaded Assistant (its corpus, lexicon and index)."""
    index = assistant.retriever.index
    topics = [f"{nb.topic}:{nb.description}" for nb in assistant.lexicon.neighbours]
    return seed_from(assistant.corpus.chunks, index.dense, assistant.embedder.id, topics, index.background)


def _known_passages(releases: Path, embedder_id: str, seed: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    release = current_release(releases)
    if release is None:
        return dict(seed["known"]) if seed and seed.get("embedder") == embedder_id else {}
    try:
        meta = json.loads((release.path / "passages.json").read_text(encoding="utf-8"))
        if meta.get("embedder") != embedder_id:
            return {}
        vectors = np.load(release.path / "passages.npy", allow_pickle=False)
        return dict(zip(meta["texts"], vectors, strict=True))
    except (OSError, ValueError, KeyError):
        return {}  # no cache: everything is embedded again, slower but right


@contextlib.contextmanager
def build_lock(releases: Path) -> Iterator[None]:
    """One build at a time per shared releases folder, across every replica (flock on the shared volume)."""
    Path(releases).mkdir(parents=True, exist_ok=True)
    with (Path(releases) / ".build.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _copy_library(library: Path, dest: Path) -> None:
    # Hidden entries (.versions, .staging, locks) are the library's housekeeping, not its content.
    shutil.copytree(library, dest, ignore=lambda _d, names: [n for n in names if n.startswith(".")])


def build_release(library: Path, releases: Path, embedder: Embedder, *, actor: str = "",
                  seed: dict[str, Any] | None = None,
                  before_swap: Callable[[Path], None] | None = None) -> Release:  # fmt: skip
    """Build a version from the library as it is now and make it CURRENT. Raises whatever the build raised
    (after recording it in STATUS.json); CURRENT is then unchanged."""
    releases = Path(releases)
    with build_lock(releases):
        version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        started = _utcnow()
        write_status(releases, BuildStatus("building", version, started, actor=actor))
        tmp = releases / f".build-{version}"
        try:
            _copy_library(Path(library), tmp / "corpus")
            corpus = load_corpus(tmp / "corpus")
            lexicon = Lexicon(corpus.root / "lexicon", [c.text for c in corpus.chunks])
            cache = CachingEmbedder(embedder, _known_passages(releases, embedder.id, seed))
            build_index(corpus, lexicon, cache, tmp / "index", progress=False)
            texts = list(cache.used)
            np.save(tmp / "passages.npy", np.vstack([cache.used[t] for t in texts]).astype(np.float32))
            (tmp / "passages.json").write_text(
                json.dumps({"embedder": embedder.id, "texts": texts}, ensure_ascii=False), encoding="utf-8"
            )
            release = Release(version, releases / version, _utcnow(), len(corpus.documents), len(corpus.chunks),
                              cache.embedded, tuple(str(f) for f in corpus.failures))  # fmt: skip
            info = {k: v for k, v in asdict(release).items() if k != "path"}
            (tmp / "release.json").write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
            if before_swap is not None:
                before_swap(tmp)
            os.rename(tmp, release.path)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            write_status(releases, BuildStatus("failed", version, started, _utcnow(), failure_reason(exc), actor))
            raise
        _write_atomic(releases / POINTER, json.dumps({"version": version, "published": release.built_at}))
        write_status(releases, BuildStatus("published", version, started, _utcnow(), actor=actor))
        prune(releases)
        log.info(
            "已发布新版本 %s(%d 个文件,%d 段,新向量化 %d 段)",
            version,
            release.documents,
            release.chunks,
            release.embedded,
        )
        return release


def failure_reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def prune(releases: Path, keep: int = KEEP) -> None:
    current = current_version(releases)
    versions = sorted(p.name for p in Path(releases).iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in versions[: max(len(versions) - keep, 0)]:
        if name != current:
            shutil.rmtree(Path(releases) / name, ignore_errors=True)


def passages_of(corpus_chunks: Sequence[Any]) -> list[str]:
    """Every passage text an index embeds for these chunks (for tests and the bench)."""
    return [t for c in corpus_chunks for t in passage_texts(c)]


__all__ = [
    "KEEP",
    "BuildStatus",
    "CachingEmbedder",
    "Release",
    "build_release",
    "current_release",
    "current_version",
    "library_fingerprint",
    "matches_library",
    "read_release",
    "read_status",
    "seed_from",
    "seed_from_assistant",
    "write_status",
]
