"""`policy-assistant bench --documents N`: how the library scales — a synthetic library made from the structure
fixtures (each copy's figures shifted so that every copy's chunks are distinct text), built at 1, 10, 100, … documents.

Per size: the time to build the index from scratch (empty embedding cache), the time to add one more document to it
(cache warm: only the new chunks are embedded), peak RSS, and p50 answer latency over FAQ questions.
"""

from __future__ import annotations

import re
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..service import Assistant

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "structures"
_NUMBER_RE = re.compile(r"\d+")


@dataclass(frozen=True)
class LibraryStep:
    documents: int  # related documents besides the primary
    chunks: int
    build_s: float
    add_one_s: float
    rss_mb: float
    p50_ms: float


def synthetic_copy(src: Path, dest: Path, k: int) -> None:
    """A fixture as the k-th document of its kind: every figure shifted by k (amounts, days, phone digits), so the
    copy's chunks are new text to embed, not cache hits."""
    text = src.read_text(encoding="utf-8")
    dest.write_text(_NUMBER_RE.sub(lambda m: str(int(m[0]) + k) if len(m[0]) < 5 else m[0], text), encoding="utf-8")


def make_library(root: Path, n: int, fixtures: Sequence[Path] | None = None) -> Path:
    """The shipped corpus plus `n` synthetic related documents, in `root/corpus`."""
    corpus = root / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    sources = sorted(fixtures or FIXTURES.glob("*.txt"))
    for i in range(n):
        src = sources[i % len(sources)]
        synthetic_copy(src, corpus / f"{src.stem}-{i:04d}.txt", i // len(sources))
    return corpus


def _p50_ms(bot: Assistant, questions: Sequence[str]) -> float:
    samples = []
    for q in questions:
        t = time.perf_counter()
        bot.ask(q)
        samples.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(samples), 2)


def run(sizes: Sequence[int], questions: Sequence[str], embedder: str | None = None) -> list[LibraryStep]:
    steps = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            corpus = make_library(root, n)
            t = time.perf_counter()
            bot = Assistant.load(corpus, root / "index", embedder)
            build = time.perf_counter() - t
            p50 = _p50_ms(bot, questions)
            extra = sorted(FIXTURES.glob("*.txt"))[0]
            synthetic_copy(extra, corpus / "added-one.txt", 10_000)
            t = time.perf_counter()
            bot = Assistant.load(corpus, root / "index", embedder)
            add = time.perf_counter() - t
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            steps.append(LibraryStep(n, len(bot.chunks), round(build, 2), round(add, 2), round(rss, 1), p50))
    return steps


def table(steps: Sequence[LibraryStep]) -> str:
    lines = ["| 相关文件数 | 条目数 | 建立索引 s | 再加一个文件 s | 内存峰值 MB | 答复 p50 ms |", "|---|---|---|---|---|---|"]
    lines += [f"| {s.documents} | {s.chunks} | {s.build_s} | {s.add_one_s} | {s.rss_mb:.0f} | {s.p50_ms} |" for s in steps]
    return "\n".join(lines)


def to_dicts(steps: Sequence[LibraryStep]) -> list[dict[str, float]]:
    return [asdict(s) for s in steps]
