"""The records of an evaluation run: one ItemResult per question, per-kind stats, confusions and
the EvalReport that aggregates them (with its JSON form). Computed by the scoring module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .faq import FaqItem

# Outcomes of one item, worst first within a failure list. "ok" items can still fail on
# must/complete; those are reported as "must_missing" / "incomplete".
PROBLEMS: tuple[str, ...] = (
    "wrong_measure",
    "false_decline",
    "false_accept",
    "greeting_missed",
    "must_missing",
    "incomplete",
)
PROBLEM_LABELS: Mapping[str, str] = {
    "wrong_measure": "答错条目",
    "false_decline": "误拒(应答未答)",
    "false_accept": "误答(政策外却作答)",
    "greeting_missed": "问候未识别",
    "must_missing": "缺少必含内容",
    "incomplete": "答复不完整",
}
PROBLEM_LABELS_EN: Mapping[str, str] = {
    "wrong_measure": "wrong measure",
    "false_decline": "false decline",
    "false_accept": "false accept of out-of-scope",
    "greeting_missed": "greeting not recognised",
    "must_missing": "must substring missing",
    "incomplete": "incomplete answer",
}



@dataclass(frozen=True)
class Evidence:
    """One ranked chunk and the evidence behind its score (as the lookup page shows it)."""

    id: str
    rank: int
    score: float
    lexical: float
    dense: float
    coverage: float
    why: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rank": self.rank,
            "score": round(self.score, 4),
            "lexical": round(self.lexical, 4),
            "dense": round(self.dense, 4),
            "coverage": round(self.coverage, 4),
            "why": list(self.why),
        }


@dataclass(frozen=True)
class ItemResult:
    item: FaqItem
    kind: str  # the answer's kind: answer | no_match | greeting
    matched: bool
    shown: tuple[tuple[str, float], ...]  # (id, score) of the measures in the answer, best first
    top: tuple[Evidence, ...]  # the first few of the full ranking
    expected: Evidence | None  # best-ranked expected chunk in the full ranking, if ranked at all
    outcome: str  # "ok" or one of PROBLEMS[:4]
    must_missing: tuple[str, ...]
    incomplete: tuple[str, ...]  # what a complete answer lacked (units, the phone)
    latency_ms: float
    answer: str

    @property
    def correct(self) -> bool:
        return self.outcome == "ok"

    @property
    def got(self) -> tuple[str, ...]:
        return tuple(i for i, _ in self.shown)

    @property
    def hit3(self) -> bool:
        return any(i in self.item.expect for i in self.got[:3])

    @property
    def rr(self) -> float:
        return 1.0 / self.expected.rank if self.expected else 0.0

    @property
    def problems(self) -> tuple[str, ...]:
        out = [] if self.correct else [self.outcome]
        if self.must_missing:
            out.append("must_missing")
        if self.incomplete:
            out.append("incomplete")
        return tuple(out)

    @property
    def failed(self) -> bool:
        return bool(self.problems)

    @property
    def problem(self) -> str | None:
        """The main problem, for grouping: the answer-level one first."""
        return self.problems[0] if self.problems else None

    def to_failure(self) -> dict[str, Any]:
        return {
            "file": self.item.source,
            "line": self.item.line,
            "q": self.item.q,
            "kind": self.item.kind,
            "problem": self.problem,
            "problems": list(self.problems),
            "expect": list(self.item.expect),
            "got": list(self.got),
            "got_kind": self.kind,
            "scores": [round(s, 4) for _, s in self.shown],
            "expected_rank": self.expected.rank if self.expected else None,
            "expected": self.expected.to_dict() if self.expected else None,
            "top": [e.to_dict() for e in self.top],
            "must_missing": list(self.must_missing),
            "incomplete": list(self.incomplete),
            "latency_ms": round(self.latency_ms, 2),
        }


@dataclass(frozen=True)
class KindStats:
    kind: str
    n: int
    correct: int
    top1: float
    hit3: float | None  # None for oos/greeting
    mrr: float | None
    must: float | None  # None when no item of this kind has must substrings
    failures: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "correct": self.correct,
            "top1": _r(self.top1),
            "hit3": _r(self.hit3),
            "mrr": _r(self.mrr),
            "must": _r(self.must),
            "failures": self.failures,
        }


@dataclass(frozen=True)
class Confusion:
    """Questions expecting ``expected`` that got ``got`` first ("no_match", "greeting" or an id)."""

    expected: str  # "m3", "m9/m3/m7" for several acceptable ids, "oos", "greeting"
    got: str
    count: int
    questions: tuple[str, ...]


@dataclass(frozen=True)
class EvalReport:
    name: str
    embedder: str
    mode: str  # "full" | "lexical" | "dense"
    n: int
    n_in_scope: int
    n_oos: int
    n_greeting: int
    top1: float
    top1_in_scope: float | None
    hit3: float | None
    mrr: float | None
    rank1: float | None
    no_match_precision: float | None
    no_match_recall: float | None
    must: float | None
    complete: float
    p50_ms: float
    p95_ms: float
    by_kind: tuple[KindStats, ...]
    confusions: tuple[Confusion, ...]
    results: tuple[ItemResult, ...] = field(repr=False)
    degraded: str | None = None

    @property
    def failures(self) -> tuple[ItemResult, ...]:
        order = {p: i for i, p in enumerate(PROBLEMS)}
        failed = [r for r in self.results if r.failed]
        return tuple(sorted(failed, key=lambda r: (order[r.problem or ""], r.item.source, r.item.line)))

    def failures_by_problem(self) -> tuple[tuple[str, tuple[ItemResult, ...]], ...]:
        groups: dict[str, list[ItemResult]] = {}
        for r in self.failures:
            groups.setdefault(r.problem or "", []).append(r)
        return tuple((p, tuple(groups[p])) for p in PROBLEMS if p in groups)

    def to_dict(self, failures: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "embedder": self.embedder,
            "mode": self.mode,
            "n": self.n,
            "n_in_scope": self.n_in_scope,
            "n_oos": self.n_oos,
            "n_greeting": self.n_greeting,
            "top1": _r(self.top1),
            "top1_in_scope": _r(self.top1_in_scope),
            "hit3": _r(self.hit3),
            "mrr": _r(self.mrr),
            "rank1": _r(self.rank1),
            "no_match_precision": _r(self.no_match_precision),
            "no_match_recall": _r(self.no_match_recall),
            "must": _r(self.must),
            "complete": _r(self.complete),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "by_kind": {k.kind: k.to_dict() for k in self.by_kind},
            "n_failures": len(self.failures),
            "degraded": self.degraded,
        }
        if failures:
            d["confusions"] = [
                {"expected": c.expected, "got": c.got, "count": c.count, "questions": list(c.questions)}
                for c in self.confusions
            ]
            d["failures"] = [r.to_failure() for r in self.failures]
        return d


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def mean_of(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def ratio_of(num: int, den: int) -> float | None:
    return num / den if den else None


