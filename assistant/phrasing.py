"""How a question is worded, as evidence for the answer/decline decision.

The retrieval features (assistant/decision.py) measure how well the best chunk matches the question.
They miss what labelled questions show plainly: 「找不着活」「工钱」「下岗」 are how people ask
about this policy, and 「幼儿园」「消费券」「农机」 are how they ask about something else, whatever the
chunks say. A character n-gram model, fitted on the same labelled questions by eval/fit_decision.py,
turns the wording into one number (its log-odds of "the policy covers this"), and the decision weighs
that number beside the retrieval evidence (stacked: the decision was fitted on out-of-fold scores, so
it learned how far to trust the wording on questions the wording model had not seen).

Plain data, applied with a dict lookup: the n-grams, their IDF and weights sit in
`corpus/decision_phrasing.json`, sorted by weight so a reviewer sees which wordings pull which way.
Vectorising is the same function at fit time and at run time (`vector`), so the two cannot drift.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .text import join_han

NGRAMS = (1, 2, 3)  # single characters carry 娃/钱/活; three keep 幼儿园, 消费券 whole


def grams(text: str) -> Counter[str]:
    """Character n-grams of the normalised question. Punctuation and other spaces are characters too (a search-box
    fragment is worded differently from a sentence), but a space between two Chinese characters is not: a voice
    transcript that spaces every word (「俺 是 老 党员」) must not read as a keyword search, nor lose the n-grams that
    span its words."""
    text = join_han(text)  # fitting scripts may pass text normalize() has not seen
    out: Counter[str] = Counter()
    for n in NGRAMS:
        out.update(text[i : i + n] for i in range(len(text) - n + 1))
    return out


def vector(text: str, idf: Mapping[str, float]) -> dict[str, float]:
    """Sublinear TF × IDF over the known n-grams, L2-normalised (sparse, as a dict)."""
    raw = {g: (1.0 + math.log(c)) * idf[g] for g, c in grams(text).items() if g in idf}
    norm = math.sqrt(sum(v * v for v in raw.values()))
    return {g: v / norm for g, v in raw.items()} if norm > 0 else {}


def document_frequencies(texts: Iterable[str], min_df: int = 2) -> dict[str, float]:
    """Smoothed IDF of every n-gram used by at least `min_df` questions (rarer ones are noise)."""
    texts = list(texts)
    df: Counter[str] = Counter()
    for t in texts:
        df.update(set(grams(t)))
    n = len(texts)
    return {g: math.log((1 + n) / (1 + d)) + 1.0 for g, d in sorted(df.items()) if d >= min_df}


@dataclass(frozen=True)
class PhrasingModel:
    idf: Mapping[str, float]
    weight: Mapping[str, float]
    intercept: float

    def score(self, text: str) -> float:
        """Log-odds that the policy covers a question worded like this (0 = no evidence either way)."""
        v = vector(text, self.idf)
        return self.intercept + sum(x * self.weight.get(g, 0.0) for g, x in v.items())


def load_phrasing(path: Path) -> PhrasingModel | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        grams_ = data["ngrams"]
        return PhrasingModel(
            idf={g["ngram"]: float(g["idf"]) for g in grams_},
            weight={g["ngram"]: float(g["weight"]) for g in grams_},
            intercept=float(data["intercept"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorpusError(str(path), None, f"措辞模型文件格式有误: {exc}") from exc


__all__ = ["PhrasingModel", "document_frequencies", "grams", "load_phrasing", "vector"]
