"""`policy-assistant bench --documents N`: how the library scales — a synthetic library made from the structure
fixtures (each copy's figures shifted so that every copy's chunks are distinct text), built at 1, 10, 100, … documents.

Per size: the time to build the index from scratch (empty embedding cache), the time to add one more document to it
(cache warm: only the new chunks are embedded), peak RSS, and p50 answer latency over FAQ questions.

Latency is compared, not just measured: every library stays loaded and each question is asked of all of them in turn
(A/B/A/B, the starting library rotating), so a shared machine's load falls on every size alike; the ratio to the
1-document library (always measured alongside) is the figure the target is set on (≤ 1.5 at 1,000 documents).
"""

from __future__ import annotations

import re
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
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
    ratio: float  # p50_ms / the p50 of the REFERENCE-document library, asked the same questions alternately


# The library the others' latency is compared with (the target: p50 at 1,000 documents ≤ 1.5 × p50 at 1).
REFERENCE = 1


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


def interleaved_p50_ms(bots: Sequence[Assistant], questions: Sequence[str]) -> list[float]:
    """p50 answer latency of each assistant over the same questions, asked of all of them in turn — question by
    question, the first one asked rotating — so that whatever else the machine is doing falls on each alike. Each bot
    answers one untimed question first (models load lazily) and each question once (the answer cache stays cold)."""
    for bot in bots:
        bot.ask("你好，想问一下就业政策")
    samples: list[list[float]] = [[] for _ in bots]
    for i, q in enumerate(questions):
        for j in range(len(bots)):
            k = (i + j) % len(bots)
            t = time.perf_counter()
            bots[k].ask(q)
            samples[k].append((time.perf_counter() - t) * 1000)
    return [round(statistics.median(s), 2) if s else 0.0 for s in samples]


def run(sizes: Sequence[int], questions: Sequence[str], embedder: str | None = None) -> list[LibraryStep]:
    """Build (and add one document to) a library of each size, then measure every size's latency alternately.
    The REFERENCE-document library is built too when it is not among `sizes`: every ratio is to it."""
    sizes = sorted({*sizes, REFERENCE})
    built: list[tuple[int, Assistant, float, float, float]] = []
    with ExitStack() as stack:
        for n in sizes:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            corpus = make_library(root, n)
            t = time.perf_counter()
            bot = Assistant.load(corpus, root / "index", embedder)
            build = time.perf_counter() - t
            extra = min(FIXTURES.glob("*.txt"))
            synthetic_copy(extra, corpus / "added-one.txt", 10_000)
            t = time.perf_counter()
            Assistant.load(corpus, root / "index", embedder)  # timed only; latency is measured on the n documents
            add = time.perf_counter() - t
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            built.append((n, bot, build, add, rss))
        p50 = interleaved_p50_ms([b[1] for b in built], questions)
    ref = p50[sizes.index(REFERENCE)] or 1.0
    return [
        LibraryStep(n, len(bot.chunks), round(build, 2), round(add, 2), round(rss, 1), ms, round(ms / ref, 2))
        for (n, bot, build, add, rss), ms in zip(built, p50, strict=True)
    ]


def table(steps: Sequence[LibraryStep]) -> str:
    lines = [
        f"| 相关文件数 | 条目数 | 建立索引 s | 再加一个文件 s | 内存峰值 MB | 答复 p50 ms | p50 与 {REFERENCE} 个文件之比 |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s.documents} | {s.chunks} | {s.build_s} | {s.add_one_s} | {s.rss_mb:.0f} | {s.p50_ms} | ×{s.ratio:.2f} |"
        for s in steps
    ]
    lines += [
        "",
        "答复 p50 为同一进程中各规模交替回答同一批问题测得(机器负载对各规模相同);目标:1000 个文件时 ≤ 1.5 倍。",
    ]
    return "\n".join(lines)


def to_dicts(steps: Sequence[LibraryStep]) -> list[dict[str, float]]:
    return [asdict(s) for s in steps]
