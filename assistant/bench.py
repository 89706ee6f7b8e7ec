"""In-process benchmark: where a question's time goes, stage by stage, against the floor that
cannot be avoided — the bare embedding of the question.

`policy-assistant bench` prints these tables (and the HTTP open-loop figures of `bench_http`).
Every stage is timed on the same questions in the same run, so ratios are meaningful even on a
busy machine; absolute milliseconds are not.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .answer import prepare, render
from .embed import CheckedEmbedder
from .evaluation.faq import load_faq
from .service import Assistant
from .suggest import follow_ups

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stat:
    p50_ms: float
    p95_ms: float
    n: int


def stat(samples: Sequence[float]) -> Stat:
    """Percentiles of samples given in seconds, reported in milliseconds."""
    xs = sorted(samples)
    if not xs:
        return Stat(0.0, 0.0, 0)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return Stat(round(statistics.median(xs) * 1000, 3), round(p95 * 1000, 3), len(xs))


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def faq_questions(paths: Sequence[Path] = (REPO / "eval" / "faq.jsonl",), limit: int = 200) -> list[str]:
    """Distinct in-scope questions from the FAQ files, without context (as first questions are)."""
    seen: dict[str, None] = {}
    for path in paths:
        for item in load_faq(path):
            if item.expect and not item.context:
                seen.setdefault(item.q, None)
    return list(seen)[:limit]


def stage_timings(bot: Assistant, questions: Sequence[str]) -> dict[str, Stat]:
    """Per-stage latency, each question run through the pipeline's stages one at a time.

    Caches are bypassed: every question is embedded afresh, as a new question would be."""
    r = bot.retriever
    names = ("normalise", "lexical", "embed", "faiss", "fusion", "plan", "compose", "render")
    stages: dict[str, list[float]] = {k: [] for k in names}
    for q in questions:
        dt, expansion = _timed(lambda q=q: r.lexicon.expand(q))
        stages["normalise"].append(dt)
        # Lexical evidence alone: the evidence stage with dense retrieval off, minus normalising.
        use_dense = r.use_dense
        r.use_dense = False
        try:
            dt, ev = _timed(lambda q=q: r.evidence(q))
        finally:
            r.use_dense = use_dense
        stages["lexical"].append(max(0.0, dt - stages["normalise"][-1]))
        if r.embedder is not None and r.use_dense:
            dt, vec = _timed(lambda: r.embedder.queries([expansion.repaired]))  # type: ignore[union-attr]
            stages["embed"].append(dt)
            dt, _ = _timed(lambda: r.index.dense.search(vec, r.index.dense.ntotal))
            stages["faiss"].append(dt)
        ev = r.evidence(q)
        dt, retrieval = _timed(lambda ev=ev: r.decide(ev))
        stages["fusion"].append(dt)
        # What the planner adds on top of retrieval (intent, follow-up, group, highlights): both
        # timed with the question's vector already cached, so the difference is the planner's.
        r.retrieve(q)
        dt_retrieve, _ = _timed(lambda q=q: r.retrieve(q))
        dt_plan, plan = _timed(lambda q=q: bot.planner.plan(q))
        stages["plan"].append(max(0.0, dt_plan - dt_retrieve))
        r._vectors.clear()
        dt, draft = _timed(lambda plan=plan: prepare(plan, bot.corpus))
        dt_follow, _ = _timed(lambda plan=plan: follow_ups(plan, bot.corpus, bot.planner.intents, bot.groups))
        stages["compose"].append(dt + dt_follow)
        dt, _ = _timed(lambda draft=draft: render(draft))
        stages["render"].append(dt)
    return {k: stat(v) for k, v in stages.items() if v}


def end_to_end(bot: Assistant, questions: Sequence[str]) -> dict[str, Stat]:
    """`Assistant.ask` as callers see it: fresh questions (caches emptied), the bare embedding of
    the same questions, and repeated questions (answer cache warm)."""
    fresh, bare, repeated = [], [], []
    inner = getattr(bot.embedder, "inner", bot.embedder)
    for q in questions:
        bot._answers.clear()
        bot.retriever._vectors.clear()
        dt, _ = _timed(lambda q=q: bot.ask(q))
        fresh.append(dt)
        text = bot.lexicon.expand(q).repaired
        dt, _ = _timed(lambda text=text: inner.queries([text]))
        bare.append(dt)
    for q in questions:
        bot.ask(q)
        dt, _ = _timed(lambda q=q: bot.ask(q))
        repeated.append(dt)
    return {"answer_fresh": stat(fresh), "embed_bare": stat(bare), "answer_repeated": stat(repeated)}


def parallel_embedding(bot: Assistant, questions: Sequence[str], callers: int = 4) -> dict[str, float]:
    """Fresh questions embedded from `callers` threads at once — one worker holding several requests
    — through the checked embedder with one encoder thread, then with one per core (the default).

    The speed-up is what the per-core encoder threads buy; the tests check the mechanism (two calls
    inside the encoder at once, tests/test_models.py), this measures what it is worth here."""
    inner = getattr(bot.embedder, "inner", bot.embedder)
    texts = [bot.lexicon.expand(q).repaired for q in questions]
    cores = os.cpu_count() or 1
    seconds: dict[int, float] = {}
    for threads in (1, cores):
        emb = CheckedEmbedder(inner, threads=threads, timeout=60.0)
        emb.queries(["预热"])  # the worker threads and the model warm up outside the timing
        with ThreadPoolExecutor(callers) as pool:
            seconds[threads], _ = _timed(lambda emb=emb: list(pool.map(lambda t: emb.queries([t]), texts)))
    return {
        "one_thread_s": round(seconds[1], 3),
        "per_core_s": round(seconds[cores], 3),
        "speedup": round(seconds[1] / seconds[cores], 2) if seconds[cores] else float("nan"),
    }


def cold_start(index_dir: Path | None = None, embedder: str | None = None) -> dict[str, float]:
    """A new process: import, load the built index and model, answer one question; its peak RSS."""
    code = (
        "import time,resource,sys;t=time.perf_counter();"
        "from assistant import Assistant;"
        f"b=Assistant.load(index_dir={str(index_dir)!r} if {index_dir is not None} else None, embedder={embedder!r});"
        "b.ask('送外卖的骑手有没有保险补贴?');"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    seconds, rss_kb = out.stdout.split()
    return {"cold_start_s": round(float(seconds), 3), "rss_mb_after_first_answer": round(int(rss_kb) / 1024, 1)}


def build_time(bot: Assistant) -> float:
    from .index import build_index

    with tempfile.TemporaryDirectory() as tmp:
        embedder = getattr(bot.embedder, "inner", bot.embedder)
        dt, _ = _timed(lambda: build_index(bot.corpus, bot.lexicon, embedder, Path(tmp), progress=False))
    return round(dt, 3)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass(frozen=True)
class InProcess:
    stages: dict[str, Stat]
    end_to_end: dict[str, Stat]
    ratio_answer_to_embed: float
    parallel_embed: dict[str, float]
    cold_start_s: float
    rss_mb_after_first_answer: float
    index_build_s: float
    questions: int
    cpus: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_in_process(bot: Assistant, questions: Sequence[str], rounds: int = 3) -> InProcess:
    bot.ask(questions[0])  # models load lazily: warm up outside the timings
    stages = stage_timings(bot, list(questions) * rounds)
    e2e = end_to_end(bot, list(questions) * rounds)
    ratio = e2e["answer_fresh"].p50_ms / e2e["embed_bare"].p50_ms if e2e["embed_bare"].p50_ms else float("nan")
    parallel = parallel_embedding(bot, questions)
    cold = cold_start()
    return InProcess(
        stages=stages,
        end_to_end=e2e,
        ratio_answer_to_embed=round(ratio, 3),
        parallel_embed=parallel,
        cold_start_s=cold["cold_start_s"],
        rss_mb_after_first_answer=cold["rss_mb_after_first_answer"],
        index_build_s=build_time(bot),
        questions=len(questions),
        cpus=os.cpu_count() or 1,
    )


def to_json(result: Any) -> str:
    return json.dumps(result if isinstance(result, dict) else result.to_dict(), ensure_ascii=False)


__all__ = [
    "InProcess",
    "Stat",
    "end_to_end",
    "faq_questions",
    "parallel_embedding",
    "run_in_process",
    "stage_timings",
    "stat",
]
