"""Choose retrieval weights and thresholds by measurement (random search over eval/faq.jsonl).

The held-out file is only *reported*, never searched on: the gap between the two is the measure
of over-fitting. Evidence is computed once per question; each candidate setting only re-runs
the cheap fusion/decision step. Usage:

    python eval/tune.py [--trials 3000] [--faq eval/faq.jsonl] [--holdout eval/faq_holdout.jsonl]

Prints the best setting as a `Weights(...)` literal to paste into assistant/fusion.py. Since issue 19 the
weights rank; whether to answer at all is the fitted decision of eval/fit_decision.py (the thresholds of
`Weights` decide only where that model does not apply, and their verdict is one of its features), so
re-run eval/fit_decision.py after changing the weights.

Only questions the retriever decides on its own are searched over: a follow-up (asked with the
previous answer's ids) and a context-less elliptical question (answered with a clarifying reply)
are resolved by the planner above the retriever, so its weights cannot be judged by them.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
from pathlib import Path

from tqdm import tqdm

from assistant import Assistant
from assistant.evaluation import FaqItem, load_faq
from assistant.fusion import Weights

SPACE = {
    "lexical": [0.2, 0.3, 0.45, 0.6, 0.8],
    "dense": [0.2, 0.35, 0.5, 0.7, 0.9],
    "coverage": [0.0, 0.1, 0.2, 0.35, 0.5],
    "phrase": [0.0, 0.1, 0.2, 0.35, 0.5],
    "unit_mention": [0.0, 0.05, 0.1, 0.2],
    "min_coverage": [0.3, 0.35, 0.4, 0.45, 0.5, 0.6],
    "min_dense": [0.86, 0.87, 0.875, 0.88, 0.885, 0.89, 0.9],
    "min_coverage_with_dense": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25],
    # In-scope questions sit at most ~0.025 closer to a neighbouring topic than to their measure
    # (short meta questions); out-of-scope ones 0.03-0.08. Lexically, in-scope questions share
    # at most ~0.25 of their weight with a neighbour. Search only around those observed gaps.
    "neighbour_margin": [0.025, 0.03, 0.035, 0.04],
    "neighbour_min_coverage": [0.3, 0.35, 0.4],
    "named_neighbour_max_coverage": [0.4, 0.5, 0.6, 0.7],
    "keep_ratio": [0.7, 0.8, 0.9],
}


def load(path: Path) -> list[FaqItem]:
    """The questions of an FAQ file (validated as the eval does) that the retriever alone decides."""
    return [it for it in load_faq(path) if not it.context and it.target != "clarify"]


def correct(item: FaqItem, retrieval) -> bool:  # noqa: ANN001 - Retrieval
    if item.target == "greeting":
        return retrieval.kind == "greeting"
    if item.target == "decline":
        return retrieval.kind == "no_match"
    return bool(retrieval.matched) and retrieval.matched[0].chunk.id in item.expect


def score(bot: Assistant, evidence: list, items: list[FaqItem], weights: Weights) -> float:
    """Top-1 accuracy, with out-of-scope questions counted twice: wrongly answering a question the
    policy does not cover misleads a citizen more than a decline that gives the phone number."""
    decide = bot.retriever.decide
    total = got = 0
    for it, ev in zip(items, evidence, strict=True):
        weight = 2 if it.target == "decline" else 1
        total += weight
        got += weight * correct(it, decide(ev, 3, weights))
    return got / total


def top1(bot: Assistant, evidence: list, items: list[FaqItem], weights: Weights) -> float:
    decide = bot.retriever.decide
    return sum(correct(it, decide(ev, 3, weights)) for it, ev in zip(items, evidence, strict=True)) / len(items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faq", type=Path, default=Path("eval/faq.jsonl"))
    ap.add_argument("--holdout", type=Path, default=Path("eval/faq_holdout.jsonl"))
    ap.add_argument("--trials", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--show-failures", action="store_true")
    args = ap.parse_args()

    bot = Assistant.load()
    items, held = load(args.faq), load(args.holdout)
    ev = [bot.retriever.evidence(it.q) for it in tqdm(items, desc="evidence")]
    ev_held = [bot.retriever.evidence(it.q) for it in tqdm(held, desc="evidence (held-out)")]

    current = bot.retriever.weights
    best_w, best = current, score(bot, ev, items, current)
    print(f"current: faq top1 {top1(bot, ev, items, current):.3f}  held-out top1 {top1(bot, ev_held, held, current):.3f}")
    rng = random.Random(args.seed)
    for _ in tqdm(range(args.trials), desc="search"):
        w = dataclasses.replace(current, **{k: rng.choice(v) for k, v in SPACE.items()})
        s = score(bot, ev, items, w)
        if s > best:
            best_w, best = w, s
    print(f"best:    faq top1 {top1(bot, ev, items, best_w):.3f}  held-out top1 {top1(bot, ev_held, held, best_w):.3f}")
    print(best_w)
    if args.show_failures:
        for it, e in zip(items, ev, strict=True):
            r = bot.retriever.decide(e, 3, best_w)
            if not correct(it, r):
                got = [h.chunk.id for h in r.matched]
                top = [(h.chunk.id, h.coverage, h.dense) for h in r.hits[:3]]
                print("FAIL", it.kind, it.q, it.expect, got, top, r.neighbour)


if __name__ == "__main__":
    main()
