"""Fit the conversation prior of the decision (assistant/decision.py `context_prior`).

A follow-up such as 「利息是多少」 right after the loan measure is declined when asked alone: two words, nothing
that names a measure. In a conversation it is about the measure just discussed. The planner therefore weighs a
follow-up that its own retrieval declines against the previous answer's measures, adding a prior to the log-odds
of the fitted decision (`Planner._discussed`). This module fits that prior on the training files' questions asked
with a context — in-scope follow-ups and out-of-scope turns (「那公积金能贷多少？」 after the housing measure) — so
that it is evidence, not a hand-set number:

* a question gains from the prior k when logit(p) + k >= logit(threshold), p being the decision's probability for
  the discussed measure;
* k stays below the smallest gap of the out-of-scope turns (within the budget) and is set midway between that and
  the largest gap of the in-scope follow-ups it can answer, a margin on both sides;
* leave-one-file-out figures show what it does on a file it was not fitted on.
Only questions that the planner would otherwise decline are used: the prior changes nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from assistant import Assistant
from assistant.evaluation import FaqItem


@dataclass(frozen=True)
class ContextCase:
    source: str
    question: str
    in_scope: bool  # its expected measure is one of the context's
    gap: float  # logit(threshold) - logit(p): the prior it needs to be answered about the context


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def context_cases(bot: Assistant, items: list[FaqItem]) -> list[ContextCase]:
    """The training questions asked with a context that the planner declines without a prior."""
    model = bot.retriever.model
    assert model is not None and not model.context_prior, "measure with the fitted decision, without a prior"
    cases = []
    for it in tqdm([it for it in items if it.context], desc="context"):
        plan = bot.planner.plan(it.q, context=list(it.context))
        if plan.kind != "no_match" or plan.place is not None or plan.retrieval.neighbour:
            continue  # answered already, or declined by a rule the prior never overrides
        ev = bot.retriever.evidence(it.q)
        ps = [p for cid in it.context[:3] if (p := bot.retriever.probability_of(ev, cid)) is not None]
        if not ps:
            continue
        in_scope = bool(it.expect) and it.expect[0] in it.context
        if it.expect and not in_scope:
            continue  # a new topic asked after an answer: not the prior's business
        gap = _logit(model.threshold) - _logit(max(ps))
        cases.append(ContextCase(Path(it.source).name, it.q, in_scope, gap))
    return cases


def choose_prior(cases: list[ContextCase], budget: float) -> float:
    """Midway between the in-scope follow-ups it answers and the out-of-scope turns it must not; 0 without any
    out-of-scope turn to bound it (no evidence for how far it may go)."""
    oos = sorted(c.gap for c in cases if not c.in_scope)
    if not oos:
        return 0.0
    allowed = math.floor(budget * len(oos))
    bound = oos[allowed] if allowed < len(oos) else math.inf
    gained = [c.gap for c in cases if c.in_scope and 0 < c.gap < bound]
    if not gained or math.isinf(bound):
        return 0.0
    return (max(gained) + bound) / 2


def answered(cases: list[ContextCase], prior: float) -> tuple[int, int, int, int]:
    """(in-scope follow-ups answered, of; out-of-scope turns answered, of) at this prior."""
    ins = [c for c in cases if c.in_scope]
    oos = [c for c in cases if not c.in_scope]
    return sum(c.gap <= prior for c in ins), len(ins), sum(c.gap <= prior for c in oos), len(oos)


def fit_context_prior(bot: Assistant, items: list[FaqItem], budget: float) -> dict[str, object]:
    cases = context_cases(bot, items)
    prior = choose_prior(cases, budget)
    a, n_in, b, n_oos = answered(cases, prior)
    print(f"conversation prior {prior:+.2f} log-odds: of the follow-ups declined without it, "
          f"in scope answered {a}/{n_in}, out-of-scope turns answered {b}/{n_oos}")
    held: dict[str, object] = {}
    for name in sorted({c.source for c in cases}):
        k = choose_prior([c for c in cases if c.source != name], budget)
        own = [c for c in cases if c.source == name]
        ha, hn, hb, ho = answered(own, k)
        held[name] = {"prior": round(k, 3), "in_scope_answered": f"{ha}/{hn}", "out_of_scope_answered": f"{hb}/{ho}"}
        print(f"    {name:28s} held out: prior {k:+.2f}  in scope answered {ha}/{hn}  out-of-scope answered {hb}/{ho}")
    return {
        "log_odds": round(prior, 4),
        "rule": "midway between the in-scope follow-ups' and the out-of-scope turns' gaps (eval/fit_context.py)",
        "cases": {"in_scope": n_in, "out_of_scope": n_oos, "in_scope_answered": a, "out_of_scope_answered": b},
        "leave_one_file_out": held,
    }
