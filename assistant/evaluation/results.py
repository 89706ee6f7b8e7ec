"""The records of an evaluation run: one ItemResult per question, per-kind stats, confusions and
the EvalReport that aggregates them (with its JSON form). Computed by the scoring and metrics
modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .budget import BudgetRow, budget_dict
from .faq import FaqItem

# Outcomes of one item, worst first within a failure list. "ok" items can still fail on
# must/complete; those are reported as "must_missing" / "incomplete".
PROBLEMS: tuple[str, ...] = (
    "wrong_measure",
    "false_decline",
    "false_accept",
    "greeting_missed",
    "clarify_missed",
    "list_incomplete",
    "must_missing",
    "incomplete",
)
PROBLEM_LABELS: Mapping[str, str] = {
    "wrong_measure": "答错条目",
    "false_decline": "误拒(应答未答)",
    "false_accept": "误答(政策外却作答)",
    "greeting_missed": "问候未识别",
    "clarify_missed": "没有上文却未追问澄清",
    "list_incomplete": "列举不全",
    "must_missing": "缺少必含内容",
    "incomplete": "答复不完整",
}
PROBLEM_LABELS_EN: Mapping[str, str] = {
    "wrong_measure": "wrong measure",
    "false_decline": "false decline",
    "false_accept": "false accept of out-of-scope",
    "greeting_missed": "greeting not recognised",
    "clarify_missed": "elliptical question without context not clarified",
    "list_incomplete": "not every expected measure listed",
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
    kind: str  # the answer's kind: answer | no_match | greeting | clarify
    matched: bool
    shown: tuple[tuple[str, float], ...]  # (id, score) of the measures in the answer, best first
    top: tuple[Evidence, ...]  # the first few of the full ranking
    expected: Evidence | None  # best-ranked expected chunk in the full ranking, if ranked at all
    outcome: str  # "ok" or one of PROBLEMS[:6]
    must_missing: tuple[str, ...]
    incomplete: tuple[str, ...]  # what a complete answer lacked (units, the phone)
    latency_ms: float
    answer: str
    # The first measure's key sentences and the size of its quote (for the highlight metrics):
    # only the first, because that is the one a citizen reads first.
    highlights: tuple[str, ...] = ()
    quote_chars: int = 0
    quote_sentences: int = 0

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
    def missing(self) -> tuple[str, ...]:
        """Ids of ``expect_all`` the answer did not list."""
        got = set(self.got)
        return tuple(i for i in self.item.expect_all if i not in got)

    @property
    def recall(self) -> float | None:
        """Share of ``expect_all`` listed; None for items without ``expect_all``."""
        n = len(self.item.expect_all)
        return (n - len(self.missing)) / n if n else None

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
        # Conversation and list keys only where they apply, so that the records of plain
        # questions stay as they were.
        extra: dict[str, Any] = {}
        if self.item.context:
            extra["context"] = list(self.item.context)
        if self.item.expect_all:
            extra["expect_all"] = list(self.item.expect_all)
            extra["missing"] = list(self.missing)
        if self.highlights:
            extra["highlights"] = list(self.highlights)
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
            **extra,
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
    """Questions expecting ``expected`` that got ``got`` first ("no_match", "greeting", "clarify",
    an id, or "漏列 m7、m8" when a list lacked measures)."""

    expected: str  # "m3", "m9/m3/m7" for several acceptable ids, a decline kind ("oos"…), "greeting", "clarify"
    got: str
    count: int
    questions: tuple[str, ...]


@dataclass(frozen=True)
class AnswerMetric:
    """One figure of the answer-quality metrics (issue 8/10); value None when no item qualifies."""

    key: str
    value: float | None
    n: int  # the items it is computed over


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
    n_clarify: int = 0
    answer_metrics: tuple[AnswerMetric, ...] = ()
    # Per document of the expected answer (its id's prefix, the primary for bare ids): the library's eval per document.
    by_doc: tuple[KindStats, ...] = ()
    budget: tuple[BudgetRow, ...] = ()  # the error budget: total, then per kind (budget.py)

    def figure(self, key: str) -> float | None:
        """A headline figure or an answer metric by key, for tables that list both."""
        for m in self.answer_metrics:
            if m.key == key:
                return m.value
        return getattr(self, key)  # an unknown key is a programming error: AttributeError

    def figure_n(self, key: str) -> int | None:
        return next((m.n for m in self.answer_metrics if m.key == key), None)

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
            "by_doc": {k.kind: k.to_dict() for k in self.by_doc},
            "n_failures": len(self.failures),
            "degraded": self.degraded,
            "n_clarify": self.n_clarify,
            **{m.key: _r(m.value) for m in self.answer_metrics},
            "answer_metrics_n": {m.key: m.n for m in self.answer_metrics},
            "budget": budget_dict(self.budget),
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


