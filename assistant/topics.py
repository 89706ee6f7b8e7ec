"""Which measure a question is about, as its wording suggests: evidence for the ranking learned from labelled questions.

BM25 and the embedding compare a question with the policy's own words. People do not use them: 「老师傅手艺好，区里给
奖励不」 is about 高技能人才奖补 (第16条), 「厂里自己给工人评等级」 about 企业技能人才自主评价 (第15条), 「补贴的钱有没有人管着」
about 就业补助资金监督管理 (第20条). Thousands of labelled questions, written by several authors in citizens' voices, show
which wordings go with which measure. A multinomial logistic regression over the character n-grams of the question
(the wording model's vectoriser, assistant/phrasing.py, so fit and use cannot drift) turns that into a probability per
measure, and fusion adds `Weights.wording` times it to each measure's score (stacked: the weight was chosen on
out-of-fold probabilities, eval/tune.py, so it says how far to trust the model on questions it never saw).

Plain data, applied with dict lookups: `corpus/topics.json`, written by eval/fit_topics.py, lists for every n-gram the
measures it pulls towards, so a reviewer sees why 「评等级」 leans to 第15条. Each class carries the label of the chunk
it was fitted for; a class whose chunk is gone or now has another label (the policy was replaced or renumbered) is
dropped at load time rather than pointing at the wrong measure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import Chunk
from .errors import CorpusError
from .phrasing import vector


@dataclass(frozen=True)
class TopicModel:
    classes: tuple[str, ...]  # chunk ids, in the order of `intercept` and of each n-gram's weights
    idf: Mapping[str, float]
    weights: Mapping[str, Mapping[int, float]]  # n-gram → {class index: weight}, small weights pruned
    intercept: tuple[float, ...]

    def probabilities(self, text: str) -> np.ndarray:
        """P(class | wording) for every class, in `classes` order (softmax of the linear scores)."""
        z = np.array(self.intercept, dtype=np.float64)
        for g, x in vector(text, self.idf).items():
            for k, w in self.weights.get(g, {}).items():
                z[k] += x * w
        z -= z.max()
        p = np.exp(z)
        return p / p.sum()

    def per_chunk(self, text: str, positions: Mapping[str, int], n: int) -> np.ndarray:
        """The probabilities placed at the chunks' positions (0 for chunks the model has no class for)."""
        out = np.zeros(n, dtype=np.float32)
        for cls, p in zip(self.classes, self.probabilities(text), strict=True):
            i = positions.get(cls)
            if i is not None:
                out[i] = p
        return out


def write_topics(path: Path, model: TopicModel, labels: Mapping[str, str], meta: Mapping[str, object]) -> None:
    """Write the model as reviewable JSON: n-grams by their strongest pull, each with the measures it favours."""
    # Every n-gram of the vectoriser is listed, weighted or not: all of them count in a question's vector length.
    pull = {g: max((abs(w) for w in model.weights.get(g, {}).values()), default=0.0) for g in model.idf}
    rows = sorted(model.idf, key=lambda g: (-pull[g], g))
    head = {
        **meta,
        "classes": [{"id": c, "label": labels[c], "intercept": round(b, 4)} for c, b in zip(model.classes, model.intercept, strict=True)],
    }
    lines = [
        json.dumps(
            {"ngram": g, "idf": round(model.idf[g], 4), "weights": {model.classes[k]: round(w, 3) for k, w in sorted(model.weights.get(g, {}).items(), key=lambda kw: -kw[1])}},
            ensure_ascii=False,
        )
        for g in rows
    ]
    # One n-gram per line: a reviewer (and a diff) reads it as a table.
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "ngrams": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"
    path.write_text(text, encoding="utf-8")


def load_topics(path: Path, chunks: Sequence[Chunk]) -> TopicModel | None:
    """The fitted model, keeping only the classes whose chunk still exists under the label it was fitted for."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        labels = {c.id: c.label for c in chunks}
        classes = [(c["id"], float(c["intercept"])) for c in data["classes"] if labels.get(c["id"]) == c["label"]]
        if len(classes) < 2:
            return None  # nothing left to choose between: the policy was replaced
        keep = {cid: k for k, (cid, _) in enumerate(classes)}
        weights: dict[str, dict[int, float]] = {}
        idf: dict[str, float] = {}
        for row in data["ngrams"]:
            idf[row["ngram"]] = float(row["idf"])
            ws = {keep[c]: float(w) for c, w in row["weights"].items() if c in keep}
            if ws:
                weights[row["ngram"]] = ws
        if not all(math.isfinite(v) for v in idf.values()):
            raise ValueError("idf")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorpusError(str(path), None, f"主题模型文件格式有误: {exc}") from exc
    return TopicModel(tuple(c for c, _ in classes), idf, weights, tuple(b for _, b in classes))


__all__ = ["TopicModel", "load_topics", "write_topics"]
