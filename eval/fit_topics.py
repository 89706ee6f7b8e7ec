"""Fit the topic model (assistant/topics.py) on the labelled training questions and write corpus/topics.json.

    python eval/fit_topics.py [--faq eval/faq.jsonl --faq …]

A multinomial logistic regression over the character n-grams of each in-scope question (the wording model's
vectoriser), its class the first expected chunk. Trained on every training file (eval/tune.py's list): never on the
held-out or sealed files. How far the ranking trusts it (`Weights.wording`) is chosen by eval/tune.py on out-of-fold
probabilities from `out_of_fold` below, and the decision (eval/fit_decision.py) is fitted on rankings that use
out-of-fold probabilities too: no figure either script prints rests on a question the topic model was fitted on.
Re-run after adding labelled questions or changing the corpus, then eval/tune.py and eval/fit_decision.py.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from fit_phrasing import tfidf_matrix
from sklearn.linear_model import LogisticRegression

from assistant import Assistant
from assistant.evaluation import FaqItem, load_faq
from assistant.phrasing import document_frequencies
from assistant.topics import TopicModel, write_topics

# Inverse regularisation: 3, 10 and 30 were tried (eval/tune.py, leave one file out 0.948–0.952 at their best weight);
# 10 was the steadiest across files.
C_TOPICS = 10.0
# Weights smaller than this are left out of the file: it stays reviewable (and small) and the probabilities move by
# less than the folds disagree.
PRUNE = 0.05
# Never fitted on: the held-out and sealed sets are scored, not tuned; the library files need the fixture corpus.
NOT_TRAINING = ("faq_holdout", "faq_sealed", "faq_library")


def training_files(eval_dir: Path = Path("eval")) -> list[Path]:
    return sorted(p for p in eval_dir.glob("faq*.jsonl") if not p.stem.startswith(NOT_TRAINING))


def training_paths(ap: argparse.ArgumentParser, given: list[Path] | None, verb: str) -> list[Path]:
    """The FAQ files a fitting script reads: those given, else every training file; the held-out and sealed ones stop it."""
    paths = given or training_files()
    held = [p for p in paths if p.stem.startswith(NOT_TRAINING[:2])]
    if held:
        ap.error(f"{', '.join(map(str, held))}: held-out and sealed questions are never {verb} on")
    return paths


def labelled(item: FaqItem) -> str | None:
    """The class a question trains: its first expected chunk, for questions asked on their own about the policy."""
    if item.context or item.target != "answer" or not item.expect:
        return None
    return item.expect[0]


def fit_topics(texts: Sequence[str], labels: Sequence[str], c: float = C_TOPICS, prune: float = PRUNE) -> TopicModel:
    idf = document_frequencies(texts)
    x, vocab = tfidf_matrix(texts, idf)
    clf = LogisticRegression(C=c, max_iter=5000).fit(x, list(labels))
    classes = tuple(str(k) for k in clf.classes_)
    coef = clf.coef_
    weights: dict[str, dict[int, float]] = {}
    for j, g in enumerate(vocab):
        ws = {k: float(coef[k, j]) for k in range(len(classes)) if abs(coef[k, j]) >= prune}
        if ws:
            weights[g] = ws
    return TopicModel(classes, idf, weights, tuple(float(b) for b in clf.intercept_))


def out_of_fold(
    texts: Sequence[str], labels: Sequence[str | None], groups: np.ndarray, positions: Mapping[str, int], n: int
) -> np.ndarray:
    """Per question, per chunk: probabilities from a model fitted without the question's group (a fold, or a whole
    file). Unlabelled questions (out of scope) are scored by the model of their group like the rest."""
    out = np.zeros((len(texts), n), dtype=np.float32)
    has = np.array([lab is not None for lab in labels])
    for g in dict.fromkeys(groups.tolist()):
        test = groups == g
        train = ~test & has
        model = fit_topics([texts[i] for i in np.flatnonzero(train)], [labels[i] for i in np.flatnonzero(train)])  # type: ignore[misc]
        for i in np.flatnonzero(test):
            out[i] = model.per_chunk(texts[i], positions, n)
    return out


def with_out_of_fold_wording(bot: Assistant, items: Sequence[FaqItem], evidence: list, folds: int = 5, seed: int = 0) -> list:
    """The evidence with each question's topic-model probabilities replaced by a model fitted without its fold (the
    shipped model has seen the training questions): what a fit downstream of the ranking must read."""
    r = bot.retriever
    if r.topics is None or not r.weights.wording:
        return evidence
    fold = np.random.default_rng(seed).permutation(len(items)) % folds
    positions = {c.id: i for i, c in enumerate(r.chunks)}
    texts = [ev.expansion.normalized for ev in evidence]
    wording = out_of_fold(texts, [labelled(it) for it in items], fold, positions, len(r.chunks))
    return [dataclasses.replace(ev, wording=wording[i]) for i, ev in enumerate(evidence)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faq", type=Path, action="append", help="training FAQ file (repeatable; default: eval/tune.py's)")
    ap.add_argument("--out", type=Path, default=None, help="default: <corpus>/topics.json")
    args = ap.parse_args()
    paths = training_paths(ap, args.faq, "fitted")
    bot = Assistant.load()
    chunks = {c.id: c for c in bot.retriever.chunks}
    texts, labels, per_file = [], [], {}
    for p in paths:
        for it in load_faq(p):
            lab = labelled(it)
            if lab is None or lab not in chunks:
                continue
            texts.append(bot.retriever.lexicon.expand(it.q).normalized)  # what decision.phrasing_text reads
            labels.append(lab)
            per_file[p.name] = per_file.get(p.name, 0) + 1
    model = fit_topics(texts, labels)
    out = args.out or bot.corpus.root / "topics.json"
    meta = {
        "about": "Topic model of the ranking (assistant/topics.py). Regenerate: python eval/fit_topics.py, then eval/tune.py",
        "model": f"multinomial logistic regression over character 1-3-grams (sublinear TF-IDF, L2), C={C_TOPICS},"
        f" weights below {PRUNE} left out",
        "trained_on": per_file,
    }
    write_topics(out, model, {c: chunks[c].label for c in model.classes}, meta)
    kept = sum(len(w) for w in model.weights.values())
    print(f"{len(texts)} questions, {len(model.classes)} classes, {len(model.idf)} n-grams, {kept} weights → {out}")


if __name__ == "__main__":
    main()
