"""Choose the ranking weights by measurement: random search over the labelled training questions, cross-validated.

Every FAQ file except the held-out, sealed and library ones is searched over (all of them, not faq.jsonl alone:
the weights had been tuned on faq.jsonl only, and citizens' own voices in the other files ranked worse). The
held-out and sealed files are never read here. Evidence is computed once per glossary exponent (the one setting
that changes evidence, see lexical.LexicalEvidence._bm25); each candidate setting only re-runs the cheap fusion step.
Usage:

    python eval/tune.py [--trials 400] [--faq eval/faq.jsonl --faq …] [--folds 5]

Reports, beside the current weights' accuracy on the same questions:
  * k-fold: the whole search re-run on k−1 folds of every file, scored on the fold left out;
  * leave one file out: searched on the other files, scored on the one left out (a new voice's figure);
The topic model's probabilities (assistant/topics.py, `Weights.wording`) are always out of fold: k-fold ones in the
search, and for a file's leave-one-out row a model fitted on the other files.
A setting is only chosen among those that rank no file's questions worse than the current weights do.
and prints the setting chosen on all the questions as a `Weights(...)` literal to paste into assistant/fusion.py.
Since issue 19 whether to answer at all is the fitted decision of eval/fit_decision.py (the thresholds of `Weights`
decide only where that model does not apply): re-run it after changing the weights.

Only questions the retriever decides on its own are searched over: a follow-up (asked with the previous answer's
ids) and a context-less elliptical question (answered with a clarifying reply) are resolved by the planner above
the retriever, so its weights cannot be judged by them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
from pathlib import Path

import numpy as np
from fit_topics import labelled, out_of_fold, training_paths
from tqdm import tqdm

from assistant import Assistant
from assistant.evaluation import FaqItem, load_faq
from assistant.fusion import Retrieval, Weights

# The fitted decision reads evidence computed without the service's 2-second embedding limit (as cli_eval does).
os.environ.setdefault("POLICY_ASSISTANT_EMBED_TIMEOUT", "120")

SPACE = {
    "glossary_exponent": [0.0, 0.5, 0.75, 1.0],
    "lexical": [0.2, 0.3, 0.4, 0.5],
    "dense": [0.05, 0.1, 0.15, 0.2, 0.3],
    "coverage": [0.1, 0.15, 0.2, 0.25, 0.35],
    "phrase": [0.2, 0.3, 0.4, 0.5],
    "hire": [0.0, 0.1, 0.15, 0.3],
    "wording": [0.0, 0.5, 0.8, 1.2, 2.0],
}
def load(path: Path) -> list[FaqItem]:
    """The questions of an FAQ file (validated as the eval does) that the retriever alone decides."""
    return [it for it in load_faq(path) if not it.context and it.target != "clarify"]


def correct(item: FaqItem, retrieval: Retrieval) -> bool:
    if item.target == "greeting":
        return retrieval.kind == "greeting"
    if item.target == "decline":
        return retrieval.kind == "no_match"
    return bool(retrieval.matched) and retrieval.matched[0].chunk.id in item.expect


def outcomes(bot: Assistant, evidence: list, items: list[FaqItem], weights: Weights, wording: np.ndarray) -> np.ndarray:
    """Whether each question is answered right under `weights`, its topic-model probabilities taken from `wording`
    (out of fold: the topic model fitted on corpus/topics.json has seen these questions)."""
    decide = bot.retriever.decide
    return np.array(
        [
            correct(it, decide(dataclasses.replace(ev, wording=wording[i]), 3, weights))
            for i, (it, ev) in enumerate(zip(items, evidence, strict=True))
        ],
        dtype=bool,
    )


def objective(right: np.ndarray, decline: np.ndarray) -> np.ndarray:
    """Accuracy with out-of-scope questions counted twice: wrongly answering a question the policy does not cover
    misleads a citizen more than a decline that gives the phone number. `right`: settings × questions."""
    weight = np.where(decline, 2.0, 1.0)
    return (right * weight).sum(axis=-1) / weight.sum()


def evidence_for(bot: Assistant, items: list[FaqItem], exponent: float) -> list:
    base = bot.retriever.weights
    bot.retriever.weights = dataclasses.replace(base, glossary_exponent=exponent)
    try:
        return [bot.retriever.evidence(it.q) for it in tqdm(items, desc=f"evidence, exponent {exponent}", leave=False)]
    finally:
        bot.retriever.weights = base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faq", type=Path, action="append", help="training FAQ file (repeatable; default: all of eval/ but held-out, sealed, library)")
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    paths = training_paths(ap, args.faq, "tuned")

    bot = Assistant.load()
    items = [(p.stem, it) for p in paths for it in load(p)]
    faq = [it for _, it in items]
    files = np.array([f for f, _ in items])
    decline = np.array([it.target == "decline" for it in faq])
    current = bot.retriever.weights
    rng = random.Random(args.seed)
    settings = [current] + [dataclasses.replace(current, **{k: rng.choice(v) for k, v in SPACE.items()}) for _ in range(args.trials)]
    evidence = {e: evidence_for(bot, faq, e) for e in sorted({w.glossary_exponent for w in settings})}
    order = np.random.default_rng(args.seed).permutation(len(faq))
    fold = np.empty(len(faq), dtype=int)
    for name in dict.fromkeys(files):  # every file spread over the folds
        own = order[files[order] == name]
        fold[own] = np.arange(len(own)) % args.folds
    # The topic model's probabilities, out of fold (k-fold for the search, a whole file left out for that file's row).
    texts = [ev.expansion.normalized for ev in next(iter(evidence.values()))]
    labels = [labelled(it) for it in faq]
    positions = {c.id: i for i, c in enumerate(bot.retriever.chunks)}
    n = len(bot.retriever.chunks)
    wording = out_of_fold(texts, labels, fold, positions, n)
    wording_files = out_of_fold(texts, labels, files, positions, n)
    right = np.stack([outcomes(bot, evidence[w.glossary_exponent], faq, w, wording) for w in tqdm(settings, desc="search")])

    def pick(mask: np.ndarray) -> int:
        """The best setting on the questions in `mask` among those that rank no file's questions worse than the
        current weights: each file is another author's voice, and a gain on some must not be paid for by another
        (the faq.jsonl author's style is also the held-out file's)."""
        score = objective(right[:, mask], decline[mask])
        keeps = np.ones(len(settings), dtype=bool)
        for name in dict.fromkeys(files[mask]):
            own = mask & (files == name)
            keeps &= right[:, own].mean(axis=1) >= right[0, own].mean()
        return int(np.argmax(np.where(keeps, score, -np.inf)))

    cv = np.zeros(len(faq), dtype=bool)
    for k in range(args.folds):
        cv[fold == k] = right[pick(fold != k), fold == k]
    print(f"{len(faq)} questions from {len(paths)} files, {len(settings) - 1} settings tried")
    print(f"current weights: top-1 {right[0].mean():.4f}, objective {objective(right[0], decline):.4f}")
    print(f"{args.folds}-fold (search re-run per fold): top-1 {cv.mean():.4f}, objective {objective(cv, decline):.4f}")
    print(f"{'left out':24s} {'n':>5s} {'current':>8s} {'searched on the rest':>21s}")
    for name in dict.fromkeys(files):
        out = files == name
        items_out = [it for it, o in zip(faq, out, strict=True) if o]

        def on_file(w: Weights, out: np.ndarray = out, items_out: list[FaqItem] = items_out) -> float:
            """The file's top-1 under `w`, its topic-model probabilities from a model fitted on the other files."""
            ev_w = [e for e, o in zip(evidence[w.glossary_exponent], out, strict=True) if o]
            return float(outcomes(bot, ev_w, items_out, w, wording_files[out]).mean())

        print(f"{name:24s} {out.sum():5d} {on_file(current):8.4f} {on_file(settings[pick(~out)]):21.4f}")
    best = settings[pick(np.ones(len(faq), dtype=bool))]
    print(f"chosen on all: top-1 {right[settings.index(best)].mean():.4f}")
    print(best)


if __name__ == "__main__":
    main()
