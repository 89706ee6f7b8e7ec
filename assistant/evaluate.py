"""Evaluation over FAQ files: is the assistant answering the right measure, declining what the
policy does not cover, and rendering complete answers?

An FAQ file is JSON Lines, one question a line::

    {"q": "送外卖的骑手有没有保险补贴？", "expect": ["m3"], "must": ["100元"], "kind": "colloquial"}

``expect`` lists the acceptable chunk ids (empty for ``oos`` and ``greeting``), ``must`` substrings
the rendered answer has to contain, ``kind`` one of :data:`KINDS`. Every question goes through the
public path (``bot.ask``), exactly as a citizen's would; ``bot.retrieve`` is called as well, untimed,
only to explain failures (ranks and evidence scores).

Metric definitions (eval/README.md has the same, for people):

* **top1** — headline, over *all* items. An item is correct when
  in-scope (non-empty ``expect``): the answer matched and its first measure is in ``expect``;
  ``oos``: the answer did not match (``matched`` is false);
  ``greeting``: the answer's kind is ``greeting``.
  **top1_in_scope** is the same over in-scope items only.
* **hit3** — in-scope items whose shown answer (``top_k=3``) contains an expected id.
* **mrr** — mean reciprocal rank of the first expected id in the *full ranking* (``Retrieval.hits``),
  before the match decision; 0 when absent. **rank1** is the share ranked first there. Together
  with top1 they separate ranking mistakes from threshold mistakes.
* **no_match_precision / no_match_recall** — the positive class is ``oos``; a prediction is
  positive when the answer did not match. Greeting items are left out of this confusion (they are
  scored by their own kind). None when undefined (nothing declined / no oos items).
* **must** — share of all ``must`` substrings (over all items) found in the rendered answer text.
* **complete** — share of answers that contain the phone and, when matched, every lead unit of
  every measure shown.
* **p50_ms / p95_ms** — wall time of each ``bot.ask``; one untimed warm-up call first, so that
  loading the model lazily is not counted as a slow question.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jinja2
import numpy as np
from tqdm.auto import tqdm

from .answer import Answer, template_env
from .errors import PolicyAssistantError
from .retrieve import Retrieval

KINDS: tuple[str, ...] = (
    "direct",
    "colloquial",
    "paraphrase",
    "term",
    "fact",
    "unit",
    "number",
    "meta",
    "group",
    "traditional",
    "typo",
    "oos",
    "greeting",
)
# Kinds whose questions the policy does not answer with a measure; all others need ``expect``.
_NO_EXPECT_KINDS = frozenset({"oos", "greeting"})
_FIELDS = ("q", "expect", "must", "kind")
# Same limit as the service (check_question); kept here so loading needs no service import.
MAX_QUESTION_CHARS = 500

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
KIND_LABELS: Mapping[str, str] = {
    "direct": "原文直问",
    "colloquial": "口语",
    "paraphrase": "换说法",
    "term": "术语",
    "fact": "数字事实",
    "unit": "责任单位",
    "number": "条款编号",
    "meta": "文件信息",
    "group": "人群综合",
    "traditional": "繁体",
    "typo": "错别字",
    "oos": "政策外",
    "greeting": "问候",
}
# Quality bars from issue 4, by FAQ file name. top1 here is the headline (all items).
TARGETS: Mapping[str, Mapping[str, float]] = {
    "faq.jsonl": {"top1": 0.97, "hit3": 0.99, "no_match_recall": 0.96, "must": 0.98, "complete": 1.0},
    "faq_holdout.jsonl": {"top1": 0.93},
}


class FaqError(PolicyAssistantError):
    """An FAQ file cannot be used. Names the file and, where known, the line."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"评测集有误 {where}: {reason}")


class ReportError(PolicyAssistantError):
    """The HTML report cannot be written."""


# -- the FAQ file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaqItem:
    q: str
    expect: tuple[str, ...]
    must: tuple[str, ...]
    kind: str
    source: str = ""  # the file as given, for file:line in failure lists
    line: int = 0

    @property
    def target(self) -> str:
        """What a correct answer is: "answer" (one of expect), "decline" or "greeting"."""
        if self.expect:
            return "answer"
        return "greeting" if self.kind == "greeting" else "decline"

    @property
    def where(self) -> str:
        return f"{Path(self.source).name}:{self.line}" if self.source else f"#{self.line}"


def _str_list(value: object, name: str, path: str, line: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise FaqError(path, line, f"{name} 应为非空字符串的列表,实际是 {json.dumps(value, ensure_ascii=False)}")
    if len(set(value)) != len(value):
        raise FaqError(path, line, f"{name} 中有重复项")
    return tuple(value)


def parse_faq_line(text: str, path: str, line: int) -> FaqItem:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FaqError(path, line, f"不是有效的 JSON({exc.msg},第 {exc.colno} 列)") from exc
    if not isinstance(obj, dict):
        raise FaqError(path, line, '每行应是一个 JSON 对象 {"q", "expect", "must", "kind"}')
    missing = [k for k in _FIELDS if k not in obj]
    if missing:
        raise FaqError(path, line, f"缺少字段 {', '.join(missing)}")
    unknown = sorted(set(obj) - set(_FIELDS))
    if unknown:  # a typo such as "expects" would otherwise silently drop a field
        raise FaqError(path, line, f"未知字段 {', '.join(unknown)}(只允许 {', '.join(_FIELDS)})")
    q = obj["q"]
    if not isinstance(q, str) or not q.strip():
        raise FaqError(path, line, "q(问题)不能为空")
    if len(q.strip()) > MAX_QUESTION_CHARS:
        raise FaqError(path, line, f"q(问题)超过 {MAX_QUESTION_CHARS} 个字")
    kind = obj["kind"]
    if kind not in KINDS:
        raise FaqError(path, line, f"未知的 kind {kind!r}(可用: {', '.join(KINDS)})")
    expect = _str_list(obj["expect"], "expect", path, line) if obj["expect"] != [] else ()
    must = _str_list(obj["must"], "must", path, line) if obj["must"] != [] else ()
    if kind in _NO_EXPECT_KINDS and expect:
        raise FaqError(path, line, f"kind 为 {kind} 的问题 expect 应为空列表")
    if kind not in _NO_EXPECT_KINDS and not expect:
        raise FaqError(path, line, f'kind 为 {kind} 的问题需要 expect(可接受的条目编号);政策外的问题请用 kind "oos"')
    return FaqItem(q=q, expect=expect, must=must, kind=kind, source=path, line=line)


def check_ids(items: Iterable[FaqItem], known_ids: Iterable[str]) -> None:
    """Raise FaqError for the first item expecting a chunk id the corpus does not have."""
    known = list(known_ids)
    known_set = set(known)
    for item in items:
        for cid in item.expect:
            if cid not in known_set:
                raise FaqError(
                    item.source, item.line, f"expect 中的 {cid!r} 不是语料中的条目编号(可用: {', '.join(known)})"
                )


def load_faq(path: str | Path, known_ids: Iterable[str] | None = None) -> tuple[FaqItem, ...]:
    """Read and validate an FAQ file; with known_ids (e.g. ``[c.id for c in bot.chunks]``) also
    check that every expected id exists. Blank lines are skipped; duplicate questions are errors
    (they would count twice)."""
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FaqError(p, None, "文件不存在") from exc
    except UnicodeDecodeError as exc:
        raise FaqError(p, None, f"不是 UTF-8 编码的文本(第 {exc.start} 字节)") from exc
    except OSError as exc:
        raise FaqError(p, None, f"无法读取: {exc.strerror or exc}") from exc
    items: list[FaqItem] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        item = parse_faq_line(raw, p, n)
        key = item.q.strip()
        if key in seen:
            raise FaqError(p, n, f"问题与第 {seen[key]} 行重复")
        seen[key] = n
        items.append(item)
    if not items:
        raise FaqError(p, None, "文件中没有问题")
    if known_ids is not None:
        check_ids(items, known_ids)
    return tuple(items)


# -- results ------------------------------------------------------------------------------------


class Bot(Protocol):
    """What evaluate() needs of an Assistant (tests may pass a fake)."""

    @property
    def chunks(self) -> Sequence[Any]: ...

    def ask(self, question: str, top_k: int = 3) -> Answer: ...

    def retrieve(self, question: str, top_k: int = 3) -> Retrieval: ...


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


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# -- scoring ------------------------------------------------------------------------------------

_TOP_EVIDENCE = 5


def _evidence(hit: Any, rank: int) -> Evidence:
    return Evidence(
        id=hit.chunk.id,
        rank=rank,
        score=float(hit.score),
        lexical=float(hit.lexical),
        dense=float(hit.dense),
        coverage=float(hit.coverage),
        why=tuple(hit.why),
    )


def score_item(item: FaqItem, answer: Answer, retrieval: Retrieval | None, latency_ms: float) -> ItemResult:
    """Score one answer against its FAQ item (pure; evaluate() does the asking)."""
    got = tuple(m.id for m in answer.measures)
    if item.target == "answer":
        if answer.matched and got and got[0] in item.expect:
            outcome = "ok"
        else:
            outcome = "wrong_measure" if answer.matched else "false_decline"
    elif item.target == "decline":
        outcome = "false_accept" if answer.matched else "ok"
    else:
        outcome = "ok" if answer.kind == "greeting" else "greeting_missed"

    text = answer.answer
    must_missing = tuple(m for m in item.must if m not in text)
    incomplete: list[str] = []
    if answer.phone and answer.phone not in text:
        incomplete.append(f"电话 {answer.phone}")
    elif not answer.phone:
        incomplete.append("电话(答复中没有 phone)")
    for m in answer.measures:
        for unit in m.lead_units:
            if unit not in text:
                incomplete.append(f"{m.id} 责任单位 {unit}")

    hits = retrieval.hits if retrieval is not None else ()
    top = tuple(_evidence(h, i) for i, h in enumerate(hits[:_TOP_EVIDENCE], start=1))
    expected = next((_evidence(h, i) for i, h in enumerate(hits, start=1) if h.chunk.id in item.expect), None)
    return ItemResult(
        item=item,
        kind=answer.kind,
        matched=answer.matched,
        shown=tuple((m.id, float(m.score)) for m in answer.measures),
        top=top,
        expected=expected,
        outcome=outcome,
        must_missing=must_missing,
        incomplete=tuple(incomplete),
        latency_ms=latency_ms,
        answer=text,
    )


def _confusions(results: Sequence[ItemResult]) -> tuple[Confusion, ...]:
    pairs: dict[tuple[str, str], list[str]] = {}
    for r in results:
        if r.correct:
            continue
        target = r.item.target
        expected = "/".join(r.item.expect) if target == "answer" else ("oos" if target == "decline" else "greeting")
        got = r.got[0] if r.got else r.kind
        pairs.setdefault((expected, got), []).append(r.item.q)
    out = [Confusion(e, g, len(qs), tuple(qs)) for (e, g), qs in pairs.items()]
    return tuple(sorted(out, key=lambda c: (-c.count, c.expected, c.got)))


def summarize(
    results: Sequence[ItemResult],
    name: str = "",
    embedder: str = "",
    mode: str = "full",
    degraded: str | None = None,
) -> EvalReport:
    """Aggregate item results into the report's metrics (pure)."""
    if not results:
        raise FaqError(name or "<items>", None, "没有可评测的问题")
    in_scope = [r for r in results if r.item.target == "answer"]
    oos = [r for r in results if r.item.target == "decline"]
    greetings = [r for r in results if r.item.target == "greeting"]
    # No-match confusion: positives are oos items; predicted positive = not matched.
    scored = in_scope + oos
    declined = [r for r in scored if not r.matched]
    true_declines = sum(1 for r in declined if r.item.target == "decline")
    must_total = sum(len(r.item.must) for r in results)
    must_found = sum(len(r.item.must) - len(r.must_missing) for r in results)
    latencies = np.array([r.latency_ms for r in results], dtype=np.float64)

    by_kind = []
    for kind in KINDS:
        rs = [r for r in results if r.item.kind == kind]
        if not rs:
            continue
        ins = [r for r in rs if r.item.target == "answer"]
        k_must_total = sum(len(r.item.must) for r in rs)
        by_kind.append(
            KindStats(
                kind=kind,
                n=len(rs),
                correct=sum(r.correct for r in rs),
                top1=sum(r.correct for r in rs) / len(rs),
                hit3=_mean([float(r.hit3) for r in ins]),
                mrr=_mean([r.rr for r in ins]),
                must=_ratio(sum(len(r.item.must) - len(r.must_missing) for r in rs), k_must_total),
                failures=sum(r.failed for r in rs),
            )
        )

    return EvalReport(
        name=name,
        embedder=embedder,
        mode=mode,
        n=len(results),
        n_in_scope=len(in_scope),
        n_oos=len(oos),
        n_greeting=len(greetings),
        top1=sum(r.correct for r in results) / len(results),
        top1_in_scope=_mean([float(r.correct) for r in in_scope]),
        hit3=_mean([float(r.hit3) for r in in_scope]),
        mrr=_mean([r.rr for r in in_scope]),
        rank1=_mean([float(r.expected is not None and r.expected.rank == 1) for r in in_scope]),
        no_match_precision=_ratio(true_declines, len(declined)),
        no_match_recall=_ratio(true_declines, len(oos)),
        must=_ratio(must_found, must_total),
        complete=sum(not r.incomplete for r in results) / len(results),
        p50_ms=float(np.percentile(latencies, 50)),
        p95_ms=float(np.percentile(latencies, 95)),
        by_kind=tuple(by_kind),
        confusions=_confusions(results),
        results=tuple(results),
        degraded=degraded,
    )


def _mode(bot: Any) -> str:
    retriever = getattr(bot, "retriever", None)
    lexical = getattr(retriever, "use_lexical", True)
    dense = getattr(retriever, "use_dense", True)
    return "full" if lexical and dense else ("lexical" if lexical else "dense")


def _embedder_id(bot: Any) -> str:
    manifest = getattr(bot, "manifest", None)
    return str(getattr(manifest, "embedder", "") or getattr(getattr(bot, "embedder", None), "id", ""))


def evaluate(bot: Bot, items: Sequence[FaqItem], progress: bool = False, name: str | None = None) -> EvalReport:
    """Ask every question through ``bot.ask`` (timed) and score it; see the module doc for metrics."""
    if not items:
        raise FaqError(name or "<items>", None, "没有可评测的问题")
    check_ids(items, (c.id for c in bot.chunks))
    if name is None:
        name = ", ".join(dict.fromkeys(i.source for i in items if i.source)) or "<items>"
    # Warm-up: embedders load lazily; the first question would otherwise carry the model load.
    warm = next((i.q for i in items if i.target != "greeting"), items[0].q)
    bot.ask(warm)
    results = []
    for item in tqdm(
        items, desc=Path(name).name or "eval", unit="题", disable=not progress, file=sys.stderr, leave=False
    ):
        t0 = time.perf_counter()
        answer = bot.ask(item.q, top_k=3)
        latency = (time.perf_counter() - t0) * 1000.0
        retrieval = bot.retrieve(item.q, top_k=3)
        results.append(score_item(item, answer, retrieval, latency))
    status = getattr(bot, "status", None)
    degraded = status().get("reason") if callable(status) else None
    return summarize(results, name=name, embedder=_embedder_id(bot), mode=_mode(bot), degraded=degraded)


# -- ablation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AblationConfig:
    label: str
    embedder: str
    use_lexical: bool
    use_dense: bool

    @property
    def mode(self) -> str:
        return "full" if self.use_lexical and self.use_dense else ("lexical" if self.use_lexical else "dense")


@dataclass(frozen=True)
class AblationRow:
    config: AblationConfig
    reports: tuple[EvalReport, ...]  # one per FAQ set, in the order given

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.config.label,
            "embedder": self.config.embedder,
            "mode": self.config.mode,
            "reports": [r.to_dict(failures=False) for r in self.reports],
        }


def ablation_configs(embedder: str = "e5", extra_embedders: Sequence[str] = ()) -> tuple[AblationConfig, ...]:
    """Lexical-only, dense-only and full for the main embedder; dense-only and full for each extra.

    Rule evidence (measure numbers, department names) stays on in every configuration: the
    ablation measures what BM25 and the vectors contribute on top of it.
    """
    main = short_spec(embedder)
    configs = [
        AblationConfig("仅关键词 lexical-only", embedder, True, False),
        AblationConfig(f"仅向量 dense-only ({main})", embedder, False, True),
        AblationConfig(f"完整 full ({main})", embedder, True, True),
    ]
    for spec in dict.fromkeys(extra_embedders):
        if spec == embedder:
            continue
        configs.append(AblationConfig(f"仅向量 dense-only ({short_spec(spec)})", spec, False, True))
        configs.append(AblationConfig(f"完整 full ({short_spec(spec)})", spec, True, True))
    return tuple(configs)


def short_spec(spec: str) -> str:
    """A model spec short enough for a table: "st:/long/path/to/org/model" → "st:org/model"."""
    kind, sep, rest = spec.partition(":")
    if not sep or "/" not in rest:
        return spec
    parts = [p for p in rest.split("/") if p]
    return f"{kind}:{'/'.join(parts[-2:])}"


def ablation(
    faq_sets: Sequence[Sequence[FaqItem]],
    *,
    corpus_dir: str | Path | None = None,
    index_dir: str | Path | None = None,
    embedder: str | None = None,
    extra_embedders: Sequence[str] = (),
    progress: bool = False,
) -> tuple[AblationRow, ...]:
    """Run every FAQ set through each configuration of :func:`ablation_configs`.

    The main embedder uses ``index_dir`` (default: the repo's index); every other embedder gets
    its own temporary index, so that the default index is never rebuilt for another model.
    """
    from .embed import DEFAULT_EMBEDDER
    from .service import Assistant, Settings

    main = embedder or Settings.from_env().embedder or DEFAULT_EMBEDDER
    rows = []
    with tempfile.TemporaryDirectory(prefix="policy-assistant-ablation-") as tmp:
        for config in ablation_configs(main, extra_embedders):
            idx = index_dir if config.embedder == main else Path(tmp) / _slug(config.embedder)
            bot = Assistant.load(
                corpus_dir,
                idx,
                config.embedder,
                progress=progress,
                use_lexical=config.use_lexical,
                use_dense=config.use_dense,
            )
            reports = tuple(evaluate(bot, items, progress=progress) for items in faq_sets)
            rows.append(AblationRow(config, reports))
    return tuple(rows)


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in spec).strip("-")[:60] or "embedder"


# -- the HTML report ----------------------------------------------------------------------------


def _html_env() -> jinja2.Environment:
    return template_env(html=True)


_HEADLINE = (
    ("top1", "首位准确率 top-1", "全部题目:政策内答对首条、政策外拒答、问候识别"),
    ("top1_in_scope", "政策内 top-1", "只算有 expect 的题目"),
    ("hit3", "前三命中 hit@3", "答复中的前 3 条含期望条目"),
    ("mrr", "MRR", "完整排序中期望条目的倒数名次(判定前)"),
    ("no_match_recall", "拒答召回", "政策外问题被拒答的比例"),
    ("no_match_precision", "拒答精确率", "拒答中确为政策外的比例"),
    ("must", "必含内容 must", "答复含有每题要求的原文片段"),
    ("complete", "完整性", "答复含电话和每条措施的责任单位"),
    ("p50_ms", "延迟 p50", "每次 ask 的毫秒数"),
    ("p95_ms", "延迟 p95", "每次 ask 的毫秒数"),
)
_ABLATION_COLS = (
    ("top1", "top-1"),
    ("top1_in_scope", "政策内 top-1"),
    ("hit3", "hit@3"),
    ("mrr", "MRR"),
    ("rank1", "排序首位"),
    ("no_match_recall", "拒答召回"),
    ("no_match_precision", "拒答精确率"),
    ("p50_ms", "p50 ms"),
)


def _targets_for(report: EvalReport) -> Mapping[str, float]:
    return TARGETS.get(Path(report.name).name, {})


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    if key.endswith("_ms"):
        return f"{value:.1f}"
    if key == "mrr":
        return f"{value:.3f}"
    return f"{value * 100:.1f}%"


def _heat(count: int, top: int) -> str:
    # Light to strong red by count; readable on white.
    alpha = 0.15 + 0.75 * (count / top if top else 0)
    return f"rgba(200, 40, 40, {alpha:.2f})"


def report_context(
    reports: Sequence[EvalReport],
    ablation_rows: Sequence[AblationRow] = (),
    labels: Mapping[str, str] | None = None,
    meta: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, precomputed (the template only lays it out)."""
    labels = dict(labels or {})
    labels.setdefault("no_match", "(拒答)")
    labels.setdefault("greeting", "(当作问候)")
    labels.setdefault("oos", "(政策外)")
    labels.setdefault("answer", "(作答)")
    files = [Path(r.name).name for r in reports]

    headline = []
    for key, title, hint in _HEADLINE:
        values = []
        for r in reports:
            v = getattr(r, key)
            target = _targets_for(r).get(key)
            ok = None if target is None or v is None else v >= target - 1e-9
            values.append({"text": _fmt(key, v), "target": _fmt(key, target) if target is not None else None, "ok": ok})
        gap = None
        if len(reports) >= 2 and not key.endswith("_ms"):
            a, b = getattr(reports[0], key), getattr(reports[1], key)
            if a is not None and b is not None:
                d = b - a
                gap = {"text": (f"{d:+.3f}" if key == "mrr" else f"{d * 100:+.1f}"), "bad": d < -0.02}
        headline.append({"key": key, "title": title, "hint": hint, "values": values, "gap": gap})

    kinds = []
    for kind in KINDS:
        per = []
        for r in reports:
            ks = next((k for k in r.by_kind if k.kind == kind), None)
            per.append(
                None
                if ks is None
                else {
                    "top1": ks.top1,
                    "pct": f"{ks.top1 * 100:.0f}",
                    "n": ks.n,
                    "correct": ks.correct,
                    "fail": ks.failures,
                }
            )
        if any(per):
            kinds.append({"kind": kind, "label": KIND_LABELS[kind], "per": per})

    confusion = []
    for r in reports:
        cs = r.confusions
        rows = list(dict.fromkeys(c.expected for c in cs))
        cols = list(dict.fromkeys(c.got for c in sorted(cs, key=lambda c: c.got)))
        counts = {(c.expected, c.got): c.count for c in cs}
        top = max((c.count for c in cs), default=0)
        matrix = [
            {
                "expected": e,
                "cells": [
                    {"count": counts.get((e, g), 0), "color": _heat(counts.get((e, g), 0), top)}
                    if counts.get((e, g))
                    else None
                    for g in cols
                ],
            }
            for e in rows
        ]
        sections = []
        for title, keep in (
            (
                "答错条目:期望的条目 → 排在第一的条目",
                lambda c: c.expected not in ("oos", "greeting") and c.got not in ("no_match", "greeting"),
            ),
            (
                "误拒:期望的条目 → 拒答",
                lambda c: c.expected not in ("oos", "greeting") and c.got in ("no_match", "greeting"),
            ),
            ("误答:政策外问题 → 给出的条目", lambda c: c.expected == "oos"),
            ("问候未识别", lambda c: c.expected == "greeting"),
        ):
            chosen = [c for c in cs if keep(c)]
            if chosen:
                sections.append({"title": title, "pairs": chosen})
        confusion.append(
            {"file": Path(r.name).name, "pairs": cs, "sections": sections, "rows": rows, "cols": cols, "matrix": matrix}
        )

    ablation_view = []  # one table per FAQ set: rows = configurations
    if ablation_rows:
        for i, first in enumerate(ablation_rows[0].reports):
            best: dict[str, float] = {}
            for key, _ in _ABLATION_COLS:
                vals = [v for v in (getattr(row.reports[i], key) for row in ablation_rows) if v is not None]
                if vals:
                    best[key] = min(vals) if key.endswith("_ms") else max(vals)
            table = []
            for row in ablation_rows:
                rep = row.reports[i]
                cells = [
                    {"text": _fmt(key, v), "best": v is not None and key in best and math.isclose(v, best[key])}
                    for key, _ in _ABLATION_COLS
                    for v in [getattr(rep, key)]
                ]
                table.append(
                    {
                        "label": row.config.label,
                        "embedder": row.config.embedder,
                        "full": row.config.mode == "full",
                        "cells": cells,
                    }
                )
            ablation_view.append({"file": Path(first.name).name, "rows": table})

    failures = []
    for r in reports:
        groups = [
            {"problem": p, "label": PROBLEM_LABELS[p], "en": PROBLEM_LABELS_EN[p], "items": items}
            for p, items in r.failures_by_problem()
        ]
        failures.append({"file": Path(r.name).name, "n": len(r.failures), "groups": groups})

    return {
        "files": files,
        "reports": reports,
        "headline": headline,
        "kinds": kinds,
        "confusion": confusion,
        "ablation_cols": [label for _, label in _ABLATION_COLS],
        "ablation": ablation_view,
        "failures": failures,
        "labels": labels,
        "kind_labels": KIND_LABELS,
        "meta": dict(meta or {}),
        "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def render_report(
    reports: Sequence[EvalReport],
    ablation_rows: Sequence[AblationRow] = (),
    labels: Mapping[str, str] | None = None,
    meta: Mapping[str, str] | None = None,
) -> str:
    """The self-contained HTML report (no external resources, no scripts)."""
    if not reports:
        raise ReportError("没有评测结果,无法生成报告")
    context = report_context(reports, ablation_rows, labels, meta)
    return _html_env().get_template("report.html.j2").render(**context)


def write_report(path: str | Path, html: str) -> Path:
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"无法写入报告 {p}: {exc.strerror or exc}") from exc
    return p


__all__ = [
    "KINDS",
    "TARGETS",
    "AblationConfig",
    "AblationRow",
    "Confusion",
    "EvalReport",
    "Evidence",
    "FaqError",
    "FaqItem",
    "ItemResult",
    "KindStats",
    "ReportError",
    "ablation",
    "ablation_configs",
    "check_ids",
    "evaluate",
    "load_faq",
    "parse_faq_line",
    "render_report",
    "report_context",
    "score_item",
    "summarize",
    "write_report",
]
