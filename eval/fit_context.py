"""Fit the conversation prior of the decision (assistant/decision.py `context_prior`).

A follow-up such as 「利息是多少」 right after the loan measure is declined when asked alone: two words, nothing
that names a measure. 「残疾的能参加不」 right after the skills-training measure reads, alone, as a question for
the disability measure. In a conversation both are about the measure just discussed. The planner therefore weighs
such a follow-up against the previous answer's measures, adding a prior to the log-odds of the fitted decision for
them (`Planner._discussed`): it stays on the measure just discussed when that, with the prior, clears the
threshold — and, when the question alone is answered with another measure, that measure's log-odds too
(「那退役军人呢」 after the gig-work measure still turns to the veterans' measure). This module fits the prior on
the training files' questions asked with a context — follow-ups, out-of-scope turns (「那公积金能贷多少？」 after
the housing measure) and turns to a new topic — so that it is evidence, not a hand-set number:

* a question stays on the context when its gap (the bar above minus the discussed measure's log-odds) <= k;
* k stays below the smallest gap of the turns that must not stay (within the budget) and is set midway between
  that and the largest gap of the follow-ups it keeps, a margin on both sides;
* leave-one-file-out figures show what it does on a file it was not fitted on.
Only questions that the planner would otherwise decline or answer outside the context are used: the prior changes
nothing else.
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
    in_scope: bool  # its expected measure is one of the context's (else: out of scope, or a turn to a new topic)
    gap: float  # logit(threshold) - logit(p): the prior it needs to be answered about the context


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def context_cases(bot: Assistant, items: list[FaqItem]) -> list[ContextCase]:
    """The training questions asked with a context that the planner, without a prior, declines or answers with a
    measure outside the context: what the prior decides. For each, the prior it needs to stay on the context."""
    model = bot.retriever.model
    assert model is not None and not model.context_prior, "measure with the fitted decision, without a prior"
    cases = []
    for it in tqdm([it for it in items if it.context], desc="context"):
        plan = bot.planner.plan(it.q, context=list(it.context))
        retrieval = plan.retrieval
        if plan.place is not None or plan.context_used or retrieval.cited or (retrieval.hired and retrieval.matched):
            continue  # decided by a rule the prior never overrides (a question hiring a group: Planner._decide)
        if plan.kind == "no_match" and not retrieval.neighbour:
            bar = _logit(model.threshold)  # to be answered at all
        elif retrieval.matched and retrieval.probability is not None and retrieval.matched[0].chunk.id not in it.context:
            bar = max(_logit(model.threshold), _logit(retrieval.probability))  # to win over the other measure
        else:
            continue
        ev = bot.retriever.evidence(it.q)
        ps = [p for cid in it.context[:3] if (p := bot.retriever.probability_of(ev, cid)) is not None]
        if not ps:
            continue
        # Right to stay: an expected measure is the context's. Wrong: out of scope, or a new topic.
        in_scope = any(e in it.context for e in it.expect)  # as the eval scores it: any expected id first
        cases.append(ContextCase(Path(it.source).name, it.q, in_scope, bar - _logit(max(ps))))
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
    """(follow-ups kept on the context, of; other turns kept on it wrongly, of) at this prior."""
    ins = [c for c in cases if c.in_scope]
    oos = [c for c in cases if not c.in_scope]
    return sum(c.gap <= prior for c in ins), len(ins), sum(c.gap <= prior for c in oos), len(oos)


def fit_context_prior(bot: Assistant, items: list[FaqItem], budget: float) -> dict[str, object]:
    cases = context_cases(bot, items)
    prior = choose_prior(cases, budget)
    a, n_in, b, n_oos = answered(cases, prior)
    print(f"conversation prior {prior:+.2f} log-odds: of the follow-ups declined or answered with another measure "
          f"without it, kept on the measure just discussed {a}/{n_in}; other turns kept on it wrongly {b}/{n_oos}")
    held: dict[str, object] = {}
    for name in sorted({c.source for c in cases}):
        k = choose_prior([c for c in cases if c.source != name], budget)
        own = [c for c in cases if c.source == name]
        ha, hn, hb, ho = answered(own, k)
        held[name] = {"prior": round(k, 3), "in_scope_answered": f"{ha}/{hn}", "out_of_scope_answered": f"{hb}/{ho}"}
        print(f"    {name:28s} held out: prior {k:+.2f}  follow-ups kept {ha}/{hn}  other turns kept wrongly {hb}/{ho}")
    return {
        "log_odds": round(prior, 4),
        "rule": "midway between the in-scope follow-ups' and the out-of-scope turns' gaps (eval/fit_context.py)",
        "cases": {"in_scope": n_in, "out_of_scope": n_oos, "in_scope_answered": a, "out_of_scope_answered": b},
        "leave_one_file_out": held,
    }
