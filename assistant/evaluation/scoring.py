"""Scoring: is the assistant answering the right measure, declining what the policy does not
cover, and rendering complete answers?

Every question of an FAQ file (see the faq module) goes through the public path (``bot.ask``),
exactly as a citizen's would — with ``context`` when the item has one, as the chat sends the ids
of the previous answer; ``bot.retrieve`` is called as well, untimed, only to explain failures
(ranks and evidence scores).

Metric definitions (eval/README.md has the same, for people):

* **top1** — headline, over *all* items. An item is correct when
  in-scope (non-empty ``expect``): the answer matched and its first measure is in ``expect``;
  with ``expect_all`` as well: every id of it is listed and the first measure is in
  ``expect`` ∪ ``expect_all``;
  ``oos``, ``place_other``, ``neighbour``: the answer did not match (``matched`` is false);
  ``greeting`` / ``clarify``: the answer's kind is ``greeting`` / ``clarify``.
  **top1_in_scope** is the same over in-scope items only.
* **hit3** — in-scope items whose shown answer (``top_k=3``) contains an expected id.
* **mrr** — mean reciprocal rank of the first expected id in the *full ranking* (``Retrieval.hits``),
  before the match decision; 0 when absent. **rank1** is the share ranked first there. Together
  with top1 they separate ranking mistakes from threshold mistakes.
* **no_match_precision / no_match_recall** — the positive class is the decline kinds (``oos``,
  ``place_other``, ``neighbour``); a prediction is positive when the answer did not match. Greeting
  and clarify items are left out of this confusion (they are scored by their own kind). None when
  undefined (nothing declined / no items to decline).
* **must** — share of all ``must`` substrings (over all items) found in the rendered answer text.
* **complete** — share of answers that contain the phone and, when matched, every lead unit of
  every measure shown.
* **p50_ms / p95_ms** — wall time of each ``bot.ask``; one untimed warm-up call first, so that
  loading the model lazily is not counted as a slow question.

The answer-quality metrics of issues 8 and 10 (highlights, follow-ups, lists, other places) are
computed by the metrics module from the same item results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from ..answer import Answer
from ..fusion import Retrieval
from .budget import error_budget
from .faq import KINDS, FaqError, FaqItem, check_ids
from .metrics import answer_metrics, count_sentences
from .results import Confusion, EvalReport, Evidence, ItemResult, KindStats, mean_of, ratio_of


class Bot(Protocol):
    """What evaluate() needs of an Assistant (tests may pass a fake)."""

    @property
    def chunks(self) -> Sequence[Any]: ...

    def ask(self, question: str, top_k: int = 3, *, context: Sequence[str] | None = None) -> Answer: ...

    def retrieve(self, question: str, top_k: int = 3) -> Retrieval: ...



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
        # A list question may lead with any measure it must list: the order of a group's
        # measures is by relevance, which the FAQ line does not fix.
        firsts = (*item.expect, *item.expect_all)
        if not answer.matched:
            outcome = "false_decline"
        elif not got or got[0] not in firsts:
            outcome = "wrong_measure"
        elif item.expect_all and not set(item.expect_all) <= set(got):
            outcome = "list_incomplete"
        else:
            outcome = "ok"
    elif item.target == "decline":
        outcome = "false_accept" if answer.matched else "ok"
    elif item.target == "clarify":
        outcome = "ok" if answer.kind == "clarify" else "clarify_missed"
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
    first = answer.measures[0] if answer.measures else None
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
        highlights=tuple(first.highlights) if first else (),
        quote_chars=len(first.quote) if first else 0,
        quote_sentences=count_sentences(first.quote) if first else 0,
    )


def _expected_label(item: FaqItem) -> str:
    # What was wanted, as the confusion table names it: the ids, or the kind of non-answer
    # ("oos", "place_other", "neighbour", "greeting", "clarify").
    return "/".join(item.expect) if item.target == "answer" else item.kind


def _confusions(results: Sequence[ItemResult]) -> tuple[Confusion, ...]:
    pairs: dict[tuple[str, str], list[str]] = {}
    for r in results:
        if r.correct:
            continue
        expected = _expected_label(r.item)
        # A list that led right but left measures out is confused with what it left out.
        got = "漏列 " + "、".join(r.missing) if r.outcome == "list_incomplete" else (r.got[0] if r.got else r.kind)
        pairs.setdefault((expected, got), []).append(r.item.q)
    out = [Confusion(e, g, len(qs), tuple(qs)) for (e, g), qs in pairs.items()]
    return tuple(sorted(out, key=lambda c: (-c.count, c.expected, c.got)))



def _group_stats(label: str, rs: Sequence[ItemResult]) -> KindStats:
    """Figures for one group of results (a kind, or a document): ranking figures over its in-scope items only."""
    ins = [r for r in rs if r.item.target == "answer"]
    return KindStats(
        kind=label,
        n=len(rs),
        correct=sum(r.correct for r in rs),
        top1=sum(r.correct for r in rs) / len(rs),
        hit3=mean_of([float(r.hit3) for r in ins]),
        mrr=mean_of([r.rr for r in ins]),
        must=ratio_of(sum(len(r.item.must) - len(r.must_missing) for r in rs), sum(len(r.item.must) for r in rs)),
        failures=sum(r.failed for r in rs),
    )

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
    clarifies = [r for r in results if r.item.target == "clarify"]
    # No-match confusion: positives are the items to decline; predicted positive = not matched.
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
        by_kind.append(_group_stats(kind, rs))

    by_doc = []
    docs: dict[str, list[ItemResult]] = {}
    for r in results:
        if r.item.target == "answer" and r.item.expect:
            first = r.item.expect[0]
            docs.setdefault(first.split(":", 1)[0] if ":" in first else "(主文件)", []).append(r)
    for doc, rs in docs.items():
        by_doc.append(_group_stats(doc, rs))

    return EvalReport(
        by_doc=tuple(by_doc),
        name=name,
        embedder=embedder,
        mode=mode,
        n=len(results),
        n_in_scope=len(in_scope),
        n_oos=len(oos),
        n_greeting=len(greetings),
        n_clarify=len(clarifies),
        top1=sum(r.correct for r in results) / len(results),
        top1_in_scope=mean_of([float(r.correct) for r in in_scope]),
        hit3=mean_of([float(r.hit3) for r in in_scope]),
        mrr=mean_of([r.rr for r in in_scope]),
        rank1=mean_of([float(r.expected is not None and r.expected.rank == 1) for r in in_scope]),
        no_match_precision=ratio_of(true_declines, len(declined)),
        no_match_recall=ratio_of(true_declines, len(oos)),
        must=ratio_of(must_found, must_total),
        complete=sum(not r.incomplete for r in results) / len(results),
        p50_ms=float(np.percentile(latencies, 50)),
        p95_ms=float(np.percentile(latencies, 95)),
        by_kind=tuple(by_kind),
        confusions=_confusions(results),
        results=tuple(results),
        degraded=degraded,
        answer_metrics=answer_metrics(results),
        budget=error_budget(results),
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
        # Context only when the item has one: a plain question is asked exactly as before.
        answer = bot.ask(item.q, top_k=3, context=list(item.context)) if item.context else bot.ask(item.q, top_k=3)
        latency = (time.perf_counter() - t0) * 1000.0
        retrieval = bot.retrieve(item.q, top_k=3)
        results.append(score_item(item, answer, retrieval, latency))
    status = getattr(bot, "status", None)
    degraded = status().get("reason") if callable(status) else None
    return summarize(results, name=name, embedder=_embedder_id(bot), mode=_mode(bot), degraded=degraded)

