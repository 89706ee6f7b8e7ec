"""HTTP benchmark in open loop: questions arrive at a fixed rate whether or not earlier ones were
answered, as citizens do — a closed loop of N clients waiting on each other hides queueing.

For each rate a fresh server (`policy-assistant serve --workers N`, rate limit off, throwaway data
directory, loopback) is started, warmed up, and sent `rate × seconds` questions on a schedule.
Latency counts from the scheduled send time, so a generator that falls behind cannot flatter the
server (no coordinated omission). The highest rate whose p99 ≤ the target is reported, for fresh
questions and for a mix where most questions repeat. The generator runs on the same machine:
its own CPU share is reported beside the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from . import serveproc


@dataclass(frozen=True)
class Step:
    rate: float
    sent: int
    ok: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    generator_cpu_share: float  # of the whole machine (all cores)
    passed: bool


@dataclass(frozen=True)
class Sweep:
    mix: str
    target_p99_ms: float
    best_rate: float
    steps: tuple[Step, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def served(workers: int = 2) -> Iterator[str]:
    """A fresh `policy-assistant serve` (throwaway data directory, rate limit off); its URL."""
    with tempfile.TemporaryDirectory() as run_dir, serveproc.served(Path(run_dir), workers) as server:
        yield server.url


def _percentile(xs: Sequence[float], q: float) -> float:
    if not xs:
        return float("inf")
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _open_loop(url: str, questions: Sequence[str], rate: float, seconds: float) -> tuple[list[float], int, int]:
    n = max(1, round(rate * seconds))
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=url, timeout=10.0, limits=limits) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def send(i: int) -> None:
            nonlocal errors
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - loop.time()))
            try:
                resp = await client.post("/api/ask", json={"question": questions[i % len(questions)]})
                if resp.status_code != 200:
                    errors += 1
                    return
            except httpx.HTTPError:
                errors += 1
                return
            latencies.append(loop.time() - at)

        await asyncio.gather(*(send(i) for i in range(n)))
    return latencies, n, errors


def run_step(url: str, questions: Sequence[str], rate: float, seconds: float, target_p99_ms: float) -> Step:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    latencies, sent, errors = asyncio.run(_open_loop(url, questions, rate, seconds))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    p99 = _percentile(latencies, 0.99) * 1000
    return Step(
        rate=rate,
        sent=sent,
        ok=len(latencies),
        errors=errors,
        p50_ms=round(_percentile(latencies, 0.5) * 1000, 1),
        p95_ms=round(_percentile(latencies, 0.95) * 1000, 1),
        p99_ms=round(p99, 1),
        generator_cpu_share=round(cpu / wall / (os.cpu_count() or 1), 3),
        passed=errors == 0 and p99 <= target_p99_ms,
    )


def repeating_mix(fresh: Sequence[str], share: float = 0.7, hot: int = 20, n: int = 20000, seed: int = 7) -> list[str]:
    """`share` of the questions drawn from a small hot set (as after an announcement), the rest fresh."""
    rng = random.Random(seed)
    hot_set = list(fresh[:hot])
    rest = list(fresh[hot:]) or hot_set
    out, j = [], 0
    for _ in range(n):
        if rng.random() < share:
            out.append(rng.choice(hot_set))
        else:
            out.append(rest[j % len(rest)])
            j += 1
    return out


def sweep(
    questions: Sequence[str],
    rates: Sequence[float],
    mix: str,
    seconds: float = 6.0,
    workers: int = 2,
    target_p99_ms: float = 100.0,
    # Questions that need the embedding model: each worker loads it lazily on its first such question,
    # and that second must not land inside the measured step.
    warmup: Sequence[str] = ("送外卖的骑手有没有保险补贴?", "创业担保贷款怎么申请", "退役军人有什么就业扶持"),
) -> Sweep:
    """Step the rate up, a fresh server per step (its answer cache empty), until a step fails."""
    steps: list[Step] = []
    for rate in rates:
        with served(workers) as url:
            with httpx.Client(base_url=url, timeout=30.0) as c:
                for w in list(warmup) * (3 * workers):  # every worker loads its model (caches are per worker)
                    c.post("/api/ask", json={"question": w})
            step = run_step(url, questions, rate, seconds, target_p99_ms)
        steps.append(step)
        if not step.passed:
            break
    best = max((s.rate for s in steps if s.passed), default=0.0)
    return Sweep(mix=mix, target_p99_ms=target_p99_ms, best_rate=best, steps=tuple(steps))


__all__ = ["Step", "Sweep", "repeating_mix", "run_step", "served", "sweep"]
