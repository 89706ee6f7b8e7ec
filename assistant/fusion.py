"""Fusion: one question's per-chunk evidence → a ranking, and whether the policy covers the question.

The second stage of retrieval. `retrieve.Retriever.evidence` measures (lexical, coverage, phrase,
dense, numbers, departments, neighbouring topics, subject coverage, and the topic model's reading of the
wording, assistant/topics.py); `decide` ranks by the weighted
sum of `Weights` and decides answer/decline with the fitted model of `decision.py`
(corpus/decision.json, from eval/fit_decision.py), cheaply enough that the fit re-decides the same
evidence many times.

Hand rules kept, because the model cannot express them (it sees one question's evidence, not what
the question *is*):
  * a greeting is a greeting (lexicon/greetings.txt), whatever it resembles; a question without a
    single word (「？？？」) is about nothing;
  * a measure cited by number (「第十四条」) or a department asked what it does (「区妇联负责什么」)
    is answered: a direct reference is not evidence to weigh;
  * which neighbouring service a decline refers to (12333, 12329…) is the named one, else the one
    nearer than the best measure — the model decides *whether* to decline, not where to send;
  * without the full evidence (the dense-only or lexical-only ablation, or the embedder down) the
    model, fitted on full evidence, does not apply: the hand thresholds of `Weights` decide.
Outside this module: other places (places.py), follow-ups and clarifying (followup.py), group lists
(groups.py via planner.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .corpus import Chunk
from .decision import DecisionModel
from .subject import SubjectCoverage
from .text import Expansion


@dataclass(frozen=True)
class Weights:
    """Fusion weights and match thresholds.

    The ranking weights (lexical, dense, coverage, phrase, glossary_exponent, hire, wording) are chosen by
    `python eval/tune.py`: random search over every training FAQ file (out-of-scope questions counted
    twice), reported by k-fold and leave-one-file-out; the held-out and sealed files are never read.
    Re-run it after changing the corpus, the lexicon, the embedder or the labelled questions (refit the topic
    model first, eval/fit_topics.py), paste its result here, then re-fit the decision (eval/fit_decision.py).
    The thresholds below decide only where the fitted model does not.
    """

    lexical: float = 0.2
    dense: float = 0.2
    coverage: float = 0.1
    phrase: float = 0.3
    # How much a glossary expansion's added tokens weigh in BM25: each 1 / n**exponent for its n tokens (lexical.py
    # LexicalEvidence._bm25); 0 counts each fully. Evidence, not fusion, reads it: tune.py recomputes evidence per value.
    glossary_exponent: float = 0.75
    # A question that hires a group (「饭馆雇了个下岗的大姐」) favours the measures paid to employers for hiring it.
    hire: float = 0.3
    # How far the topic model (assistant/topics.py: which measure questions worded like this were about) moves the ranking.
    wording: float = 1.2
    # Direct references outrank any amount of topical evidence.
    number: float = 2.0
    unit_duty: float = 1.0
    unit_mention: float = 0.1
    # Decision: matched when a direct reference exists or the evidence clears these...
    min_coverage: float = 0.3
    min_dense: float = 0.86
    min_coverage_with_dense: float = 0.1
    # ...unless the question is closer to a neighbouring topic the policy does not cover.
    neighbour_margin: float = 0.03
    neighbour_min_coverage: float = 0.3
    # A question that names an uncovered topic outright (医保, 公积金, 残疾人就业保障金) is declined
    # unless a measure covers at least this much of it once the topic's own words and the words for
    # who is asking (高校毕业生, 残疾人…) are set aside: 「高校毕业生落户」 is about 落户.
    named_neighbour_max_coverage: float = 0.5
    # Hits kept after the first: within this fraction of the best score.
    keep_ratio: float = 0.8


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    lexical: float  # BM25 relative to the best chunk for this question, 0–1
    dense: float  # cosine similarity, best over chunk and its sentences (0 when dense is off)
    coverage: float  # IDF-weighted share of the question's tokens found in the chunk, 0–1
    why: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    """Per-question, per-chunk evidence; `decide` turns it into a ranking (and the tuner
    re-decides it under many weight settings without recomputing anything)."""

    question: str
    expansion: Expansion
    greeting: bool
    q_tokens: tuple[str, ...]
    lexical: np.ndarray  # BM25 relative to the best chunk, 0–1
    coverage: np.ndarray  # IDF-weighted share of question tokens found in the chunk
    phrase: np.ndarray  # verbatim 4-character runs of the question found in the chunk, 0–1
    dense: np.ndarray  # best cosine over the chunk and its sentences (zeros when dense is off)
    cited: tuple[int, ...]  # chunk positions cited by number
    units: tuple[str, ...]  # departments named
    duty: bool  # the question asks what a department is responsible for
    neighbour_coverage: tuple[float, str | None]
    neighbour_dense: tuple[float, str | None]
    neighbour_named: str | None  # a neighbouring topic whose own words the question uses
    lexical_on: bool  # False in the dense-only ablation: coverage is then unknown, not zero
    degraded: str | None
    # Best share of the question a measure covers without the named neighbour's own words and the
    # words for who is asking: what is left of the question once its subject is the neighbour.
    neighbour_rest: float = 0.0
    subject: SubjectCoverage | None = None  # what the question is about, and which chunks cover it
    today: dt.date | None = None  # the day asked: which related rules have lapsed (None: the district's today)
    hired: tuple[int, ...] = ()  # chunk positions paid to an employer for hiring a group the question hires
    wording: np.ndarray | None = None  # per chunk: P(this measure | the wording), assistant/topics.py (0 for the rest)


@dataclass(frozen=True)
class Retrieval:
    question: str
    expansion: Expansion
    kind: str  # "answer" | "no_match" | "greeting"
    hits: tuple[Hit, ...]  # ranked, all chunks with any evidence (the lookup page shows them)
    matched: tuple[Hit, ...]  # the hits that clear the threshold (≤ top_k), best first
    degraded: str | None = None  # why dense retrieval was skipped, if it was
    neighbour: str | None = None  # the uncovered topic the question resembles most, if declined for it
    cited: tuple[str, ...] = ()  # ids of the chunks the question cites by number ("第七条")
    evidence_tokens: tuple[str, ...] = ()  # the question's lexical tokens, glossary terms included
    probability: float | None = None  # the fitted model's P(answer) for the best hit; None: hand rule
    near_miss: bool = False  # declined, but close: the answer names the best hit as a question
    subject: tuple[str, ...] = ()  # the subject words (generic and who-words set aside)
    # The first matched hit is a related rule's chunk that states what was asked (documents/fields.py LeadRule) and
    # leads for that reason: a lapsed document's chunk keeps that place (with its note) over a current chunk that
    # does not state it (documents/attribution.py order_by_document).
    stated_first: bool = False
    # The question hires a group some measure pays employers for (Evidence.hired): the planner answers it by this
    # ranking, not by the group's own list.
    hired: bool = False


def hand_evidence(ev: Evidence, i: int, w: Weights) -> bool:
    """Whether the hand thresholds of `Weights` would answer with chunk `i` (neighbours aside)."""
    # Rounded as a Hit shows them, so that the verdict is the one staff can recompute from the page.
    coverage, dense = round(float(ev.coverage[i]), 4), round(float(ev.dense[i]), 4)
    if not ev.lexical_on:
        return dense >= w.min_dense
    if ev.dense.max() > 0:
        return coverage >= w.min_coverage or (dense >= w.min_dense and coverage >= w.min_coverage_with_dense)
    return coverage >= w.min_coverage_with_dense


def decide(
    ev: Evidence,
    chunks: Sequence[Chunk],
    chunk_tokens: Sequence[frozenset[str]],
    weights: Weights,
    top_k: int = 3,
    model: DecisionModel | None = None,
) -> Retrieval:
    """Fuse the evidence into a ranking and decide whether the policy covers the question."""
    w = weights
    if ev.greeting:
        return Retrieval(ev.question, ev.expansion, "greeting", (), (), ev.degraded, None, (), ev.q_tokens)
    n = len(chunks)
    dense = ev.dense
    # Dense similarity is rescaled within the question so that its spread, not its level
    # (which differs per model), drives the ranking.
    dense_rel = np.zeros(n, dtype=np.float32)
    if dense.max() > 0:
        lo, hi = float(np.median(dense)), float(dense.max())
        dense_rel = np.clip((dense - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    score = w.lexical * ev.lexical + w.dense * dense_rel + w.coverage * ev.coverage + w.phrase * ev.phrase
    direct = np.zeros(n, dtype=bool)
    why: list[list[str]] = [[] for _ in range(n)]
    for i in ev.cited:
        score[i] += w.number
        direct[i] = True
        c = chunks[i]
        why[i].append(f"编号:{c.label.split(' ')[0] if c.kind == 'measure' else c.title}")
    if ev.wording is not None and w.wording:
        score = score + w.wording * ev.wording
        for i in np.flatnonzero(ev.wording >= 0.3):
            why[i].append(f"问法:{float(ev.wording[i]):.0%}")  # labelled questions worded like this were about it
    for i in ev.hired:
        score[i] += w.hire
        why[i].append("招用:用人单位")
    for unit in ev.units:
        for i, c in enumerate(chunks):
            if unit in c.lead_units:
                score[i] += w.unit_duty if ev.duty else w.unit_mention
                direct[i] |= ev.duty
                why[i].append(f"部门:{unit}")
    for i in range(n):
        if ev.lexical[i] > 0:
            shared = [t for t in ev.q_tokens if t in chunk_tokens[i]]
            why[i].append("关键词:" + "、".join(shared[:6]))
        if dense_rel[i] > 0.5:
            why[i].append(f"语义:{dense[i]:.2f}")

    order = np.argsort(-score, kind="stable")
    ranked: list[int] = []  # chunk positions of the hits, best first
    hits = []
    for i in order:
        if score[i] <= 0:
            break
        ranked.append(int(i))
        hits.append(
            Hit(
                chunk=chunks[i],
                score=round(float(score[i]), 4),
                lexical=round(float(ev.lexical[i]), 4),
                dense=round(float(dense[i]), 4),
                coverage=round(float(ev.coverage[i]), 4),
                why=tuple(why[i]),
            )
        )

    matched: list[Hit] = []
    neighbour = None
    probability = None
    near = False
    if hits:
        top = hits[0]
        top_i = ranked[0]
        has_dense = dense.max() > 0
        # The hand thresholds first: they decide without a model, and their verdict is one of the
        # model's features (the fit weighs how far to trust them).
        evidence = hand_evidence(ev, top_i, w)
        # A question nearer to a topic the policy does not cover (医保, 落户…) is declined
        # even when it shares words with a measure.
        nb_cov, nb_cov_topic = ev.neighbour_coverage
        nb_dense, nb_dense_topic = ev.neighbour_dense
        if ev.neighbour_named and ev.neighbour_rest < w.named_neighbour_max_coverage:
            neighbour = ev.neighbour_named
        elif nb_cov > top.coverage and nb_cov >= w.neighbour_min_coverage:
            neighbour = nb_cov_topic
        elif has_dense and nb_dense >= float(dense.max()) + w.neighbour_margin:
            neighbour = nb_dense_topic
        if model is not None and ev.lexical_on and has_dense:
            hand = evidence and neighbour is None
            probability = model.probability(model.features(ev, top_i, hand))
            # No word at all (「？？？」): nothing to be about, whatever the vectors say.
            evidence = probability >= model.threshold and bool(ev.q_tokens)
            near = model.near(probability)
            # The model has weighed the neighbours already; `neighbour` only names the referral.
            if evidence:
                neighbour = None
            elif neighbour is None and ev.neighbour_named:
                neighbour = ev.neighbour_named
        if direct[top_i] or (evidence and neighbour is None):
            near = False
            neighbour = None
            matched = [
                h
                for h, i in zip(hits[:top_k], ranked[:top_k], strict=True)
                if h is top or h.score >= w.keep_ratio * top.score or direct[i]
            ]
    kind = "answer" if matched else "no_match"
    cited = tuple(chunks[i].id for i in ev.cited)
    subject = ev.subject.words if ev.subject else ()
    return Retrieval(
        ev.question,
        ev.expansion,
        kind,
        tuple(hits),
        tuple(matched[:top_k]),
        ev.degraded,
        neighbour,
        cited,
        ev.q_tokens,
        probability,
        near and not matched,
        subject,
        hired=bool(ev.hired),
    )


__all__ = ["Evidence", "Hit", "Retrieval", "Weights", "decide", "hand_evidence"]
