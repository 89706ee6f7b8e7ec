"""The answer/decline decision: a logistic regression over named evidence features, fitted by
cross-validation (`python eval/fit_decision.py`), read from `corpus/decision.json`.

The file is plain data — feature names, coefficients, intercept, threshold, the near-miss band and
the cross-validated figures the fit reported — so a reviewer reads what the decision weighs, and a
diff shows what a refit changed. It is applied here with numpy (a dot product and a sigmoid): the
service needs no scikit-learn at import time, which keeps start-up and the Docker image as they were;
scikit-learn does the fitting only.

Features are computed for the best-ranked chunk (the ranking itself is the weighted sum of
`fusion.Weights`). Every feature is a number a hotline operator can read on the lookup page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import CorpusError
from .phrasing import PhrasingModel, load_phrasing

if TYPE_CHECKING:
    from .fusion import Evidence
    from .subject import SubjectCoverage

# Name → what it measures (for the decision file's reviewers; the fit script writes both).
FEATURES: Mapping[str, str] = {
    "coverage": "IDF share of the question's words found in the best chunk",
    "dense": "cosine similarity of the question and the best chunk (best sentence)",
    "dense_spread": "that cosine minus the median over all chunks",
    "phrase": "verbatim 4-character runs of the question found in the best chunk (0-1)",
    "subject_share": "IDF share of the question's subject (generic and who-words aside) the best chunk covers",
    "subject_best": "the same share for whichever chunk covers most of the subject",
    "subject_hit": "the heaviest subject word the best chunk has (IDF / the rarest word's IDF)",
    "subject_uncovered": "the heaviest subject word the best chunk lacks (IDF / the rarest word's IDF)",
    "subject_unknown": "subject words the corpus never uses (0, 1, 2, 3 or more → 0-1)",
    "no_subject": "1 when nothing is left once generic and who-words are set aside",
    "subject_dense": "cosine of the question and the chunk covering most of the subject (median cosine if none covers it)",
    "neighbour_coverage_gap": "IDF share of the question a neighbouring topic covers minus the best chunk's",
    "neighbour_dense_gap": "cosine to the nearest neighbouring topic minus the best chunk's",
    "neighbour_named": "a neighbouring topic named outright, times the share left once its words are aside",
    "unit": "a department of the policy is named",
    "phrasing": "log-odds of the question's wording model (assistant/phrasing.py), out-of-fold when fitted",
    "hand_rule": "1 when the hand thresholds of fusion.Weights (coverage, cosine, neighbours) would answer"
    " and some chunk covers the question's subject",
}


def features(
    ev: Evidence,
    top: int,
    names: tuple[str, ...] = tuple(FEATURES),
    hand: bool = False,
    phrasing: PhrasingModel | None = None,
) -> np.ndarray:
    """The feature vector (`names`, in that order) of one question's evidence for its best-ranked
    chunk `top`. Without a phrasing model the wording counts as no evidence (0)."""
    dense = ev.dense
    d_top = float(dense[top])
    subj = ev.subject
    nb_cov = ev.neighbour_coverage[0]
    nb_dense = ev.neighbour_dense[0]
    values = {
        "coverage": float(ev.coverage[top]),
        "dense": d_top,
        "dense_spread": d_top - float(np.median(dense)) if dense.max() > 0 else 0.0,
        "phrase": float(ev.phrase[top]),
        "subject_share": float(subj.share[top]) if subj else 1.0,
        "subject_best": float(subj.share.max()) if subj else 1.0,
        "subject_hit": float(subj.covered_max[top]) if subj else 0.0,
        "subject_uncovered": float(subj.uncovered_max[top]) if subj else 0.0,
        "subject_unknown": min(subj.unknown, 3) / 3 if subj else 0.0,
        "no_subject": float(not subj.terms) if subj else 0.0,
        "subject_dense": _subject_dense(ev, top),
        "neighbour_coverage_gap": nb_cov - float(ev.coverage[top]),
        "neighbour_dense_gap": nb_dense - float(dense.max()) if nb_dense > 0 else 0.0,
        "neighbour_named": (1.0 - ev.neighbour_rest) if ev.neighbour_named else 0.0,
        "unit": float(bool(ev.units)),
        # The hand thresholds see the whole question, so 「老人高龄补贴找哪个部门」 clears them on 补贴 and
        # 部门 alone; a verdict that no chunk's words back for the subject (issue 19 §1) is not evidence.
        "hand_rule": float(hand and _subject_covered(subj)),
        "phrasing": phrasing.score(phrasing_text(ev)) if phrasing is not None and "phrasing" in names else 0.0,
    }
    return np.array([values[k] for k in names], dtype=np.float64)


def phrasing_text(ev: Evidence) -> str:
    """What the wording model reads: the question as normalised (繁→简, width, spaces), before
    homophone repair — how it was typed is part of how it was worded."""
    return ev.expansion.normalized


def _subject_covered(subj: SubjectCoverage | None) -> bool:
    """Some chunk covers part of the question's subject (or it has none of its own)."""
    if subj is None or not subj.terms:
        return True
    return float(subj.share.max()) > 0.0


def _subject_dense(ev: Evidence, top: int) -> float:
    """Does the chunk that covers the subject also read like the question? The best chunk's cosine
    alone cannot tell 「租房太贵，有没有便宜的地方住」 (第9条 covers 住 and reads like it) from
    「老年人…补贴」 (a chunk matches 补贴, none covers the subject): the cosine of the chunk that covers
    most of the subject can (best cosine among ties). No chunk covering it: the median cosine — no
    evidence for any chunk. No subject of its own: the best chunk's cosine."""
    dense, subj = ev.dense, ev.subject
    if subj is None or not subj.terms:
        return float(dense[top])
    most = float(subj.share.max())
    if most <= 0.0:
        return float(np.median(dense))
    return float(dense[subj.share >= most - 1e-6].max())


@dataclass(frozen=True)
class DecisionModel:
    names: tuple[str, ...]  # the features it was fitted on (a subset of FEATURES, in file order)
    mean: np.ndarray  # standardisation, as fitted
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # answer when the probability is at least this
    near_band: float  # a decline within this much below the threshold names the nearest measure
    embedder: str = ""  # the embedder whose cosines it was fitted on ("" = any)
    phrasing: PhrasingModel | None = None  # the wording model the "phrasing" feature reads
    # Log-odds added for the measure just discussed when a follow-up is weighed against it: in a
    # conversation 「一年能建几个」 after the 就享家 measure is about that measure, though alone it would be
    # answered with another. Fitted on the training files' questions asked with a context (eval/fit_decision.py);
    # 0 = no prior.
    context_prior: float = 0.0

    def features(self, ev: Evidence, top: int, hand: bool) -> np.ndarray:
        return features(ev, top, self.names, hand, self.phrasing)

    def probability(self, x: np.ndarray) -> float:
        z = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def near(self, p: float) -> bool:
        return self.threshold - self.near_band <= p < self.threshold

    def in_conversation(self, p: float, other: float | None = None) -> bool:
        """Answer about the measure just discussed, at probability `p` for it alone, with the prior: rather than
        decline, or — given `other`, the probability of the measure the question alone would be answered with —
        rather than switch to that one."""
        bar = _logit(self.threshold) if other is None else max(_logit(self.threshold), _logit(other))
        return _logit(p) + self.context_prior >= bar


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def load_decision(path: Path, embedder: str = "") -> DecisionModel | None:
    """The fitted decision, or None when the file is missing or was fitted with another embedder:
    cosines of another model (or the tests' character counts) sit on another scale, so its
    coefficients mean nothing there, and the hand thresholds decide."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = tuple(f["name"] for f in data["features"])
        unknown = [n for n in names if n not in FEATURES]
        if unknown:
            raise CorpusError(str(path), None, f"未知特征 {unknown},请重新运行 eval/fit_decision.py")
        fitted = str(data.get("embedder", ""))
        if embedder and fitted and fitted != embedder:
            return None
        return DecisionModel(
            names=names,
            mean=np.array([f["mean"] for f in data["features"]], dtype=np.float64),
            scale=np.array([f["scale"] for f in data["features"]], dtype=np.float64),
            coef=np.array([f["coef"] for f in data["features"]], dtype=np.float64),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            near_band=float(data.get("near_band", 0.0)),
            context_prior=float(data.get("context_prior", {}).get("log_odds", 0.0)),
            embedder=str(data.get("embedder", "")),
            phrasing=load_phrasing(path.parent / str(data["phrasing"])) if data.get("phrasing") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorpusError(str(path), None, f"决策文件格式有误: {exc}") from exc


__all__ = ["FEATURES", "DecisionModel", "features", "load_decision", "phrasing_text"]
