"""Fit the wording model (assistant/phrasing.py) and stack it under the decision (eval/fit_decision.py).

Stacking, so that no figure is in-sample: the decision learns how far to trust the wording from
*out-of-fold* wording scores (each question scored by a wording model fitted without it), and every
cross-validated or held-out-file figure refits the wording model on that split's training side only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from assistant.phrasing import PhrasingModel, document_frequencies, vector

C_TEXT = 1.0  # inverse regularisation of the wording model (0.3–3 gave the same held-out-file figures)


def tfidf_matrix(texts: Sequence[str], idf: dict[str, float]) -> tuple[csr_matrix, list[str]]:
    """The questions' wording vectors (assistant/phrasing.vector) as one sparse matrix, columns the sorted n-grams."""
    vocab = sorted(idf)
    col = {g: j for j, g in enumerate(vocab)}
    rows, cols, vals = [], [], []
    for i, t in enumerate(texts):
        for g, v in vector(t, idf).items():
            rows.append(i)
            cols.append(col[g])
            vals.append(v)
    return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(vocab))), vocab


def fit_phrasing(texts: Sequence[str], y: np.ndarray) -> PhrasingModel:
    idf = document_frequencies(texts)
    m, vocab = tfidf_matrix(texts, idf)
    clf = LogisticRegression(C=C_TEXT, class_weight="balanced", max_iter=3000).fit(m, y)
    weight = dict(zip(vocab, (float(w) for w in clf.coef_[0]), strict=True))
    return PhrasingModel(idf=idf, weight=weight, intercept=float(clf.intercept_[0]))


def out_of_fold(texts: Sequence[str], y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each question's wording score from a model fitted on the other folds."""
    out = np.zeros(len(texts))
    arr = np.array(texts, dtype=object)
    for a, b in StratifiedKFold(folds, shuffle=True, random_state=seed).split(arr, y):
        model = fit_phrasing(list(arr[a]), y[a])
        out[b] = [model.score(t) for t in arr[b]]
    return out


def stacked_column(texts: Sequence[str], y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The phrasing feature for one split: out-of-fold scores on its training side, the training side's
    model's scores on its test side."""
    col = np.zeros(len(texts))
    tr = [texts[i] for i in train]
    col[train] = out_of_fold(tr, y[train])
    model = fit_phrasing(tr, y[train])
    col[test] = [model.score(texts[i]) for i in test]
    return col


def write_phrasing(model: PhrasingModel, path: Path, trained_on: dict[str, int]) -> None:
    """Reviewable: every n-gram with its IDF and weight, the strongest pulls first."""
    grams = sorted(model.weight, key=lambda g: (-abs(model.weight[g]), g))
    data = {
        "about": "Wording model of the decision (assistant/phrasing.py). Regenerate: python eval/fit_decision.py",
        "model": f"logistic regression over character 1-3-grams (sublinear TF-IDF, L2), C={C_TEXT}, balanced classes",
        "trained_on": trained_on,
        "intercept": round(model.intercept, 4),
        "ngrams": [
            {"ngram": g, "weight": round(model.weight[g], 4), "idf": round(model.idf[g], 4)}
            for g in grams  # all of them: every known n-gram counts in the L2 norm
        ],
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


__all__ = ["fit_phrasing", "out_of_fold", "stacked_column", "tfidf_matrix", "write_phrasing"]
