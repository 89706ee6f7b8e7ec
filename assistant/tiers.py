"""The library's tiers and the per-tier decision: the primary document and the related rules, each decided on its
own statistics, then merged into one Retrieval.

`Retriever` (retrieve.py) measures a question's evidence over every chunk; `TierDecision`, which it inherits, turns
that evidence into the answer: the primary's chunks decided alone (so a related rule cannot change the primary's answer
or decline), the related rules' candidates decided by the hand thresholds, and a related field joined after the
primary's hits — or leading them when it states what was asked and the measure does not, or states it about less of
the question (LeadRule), or when it is about something the primary never names and the measure states nothing asked.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import bm25s
import numpy as np

from .corpus import Chunk
from .decision import DecisionModel
from .documents.fields import NOT, LeadRule
from .fusion import Evidence, Hit, Retrieval, Weights, decide

# How many related chunks (best by BM25, best by similarity) a question weighs: see TierDecision._candidates.
CANDIDATES = 48


@dataclass(frozen=True)
class _Tier:
    """Chunks whose evidence is measured on their own statistics: the primary document, or the related rules.

    BM25 (IDF, length normalisation) and coverage IDF are computed over the tier's chunks only, so adding a related
    rule cannot move the primary's evidence or its answer/decline decision."""

    idx: np.ndarray  # positions in corpus.chunks
    bm25: bm25s.BM25
    idf: dict[str, float]
    idf_unknown: float
    postings: dict[str, np.ndarray]  # token → positions within the tier of the chunks that use it

    def covered(self, alts: frozenset[str]) -> np.ndarray:
        """Per chunk of the tier: whether it uses any of `alts` (an inverted-index lookup, not a scan of chunks)."""
        hit = np.zeros(len(self.idx), dtype=bool)
        for t in alts:
            rows = self.postings.get(t)
            if rows is not None:
                hit[rows] = True
        return hit

    def coverage(self, units: Sequence[tuple[float, frozenset[str]]], total: float) -> np.ndarray:
        out = np.zeros(len(self.idx), dtype=np.float32)
        for w, alts in units:
            out += np.float32(w) * self.covered(alts)
        return out / np.float32(total)


def _document_frequencies(tokens: Sequence[Sequence[str]]) -> dict[str, list[int]]:
    where: dict[str, list[int]] = {}
    for j, toks in enumerate(tokens):
        for t in set(toks):
            where.setdefault(t, []).append(j)
    return where


def _tier(idx: np.ndarray, tokens: Sequence[list[str]], weigh_by: Sequence[Sequence[str]] | None = None) -> _Tier:
    """A tier over `tokens` (its chunks); question words are weighed by their rarity in `weigh_by` (default: the
    tier's own chunks)."""
    bm25 = bm25s.BM25()
    bm25.index([list(t) for t in tokens], show_progress=False)
    where = _document_frequencies(tokens)
    counted = where if weigh_by is None else _document_frequencies(weigh_by)
    n = len(tokens) if weigh_by is None else len(weigh_by)
    idf = {t: math.log((n + 1) / (len(rows) + 0.5)) for t, rows in counted.items()}
    postings = {t: np.array(rows, dtype=np.int64) for t, rows in where.items()}
    # Unknown words weigh like the rarest: "火锅" is strong evidence the question is elsewhere.
    return _Tier(idx, bm25, idf, math.log((n + 1) / 0.5), postings)


class TierDecision:
    """The per-tier decision of `Retriever` (a mixin: it reads the retriever's tiers, chunks and lead rule)."""

    chunks: Sequence[Chunk]
    weights: Weights
    model: DecisionModel | None
    use_lexical: bool
    _primary: _Tier
    _related: _Tier | None
    _pos: dict[str, int]
    _chunk_texts: list[str]
    _chunk_tokens: list[frozenset[str]]
    _leads: LeadRule
    _primary_text: str

    def _document_prior(self, today: dt.date | None = None) -> np.ndarray: ...  # Retriever's

    def _candidates(self, lexical: np.ndarray, dense: np.ndarray) -> np.ndarray:
        """The related rules' chunks worth weighing for a question: the best by BM25 and the best by similarity. The
        fused ranking, phrases and the decision are then computed over these alone, so a question costs about the
        same with a thousand related documents as with one."""
        tier = self._related
        assert tier is not None
        picked = []
        for scores in (lexical[tier.idx], dense[tier.idx]):
            k = min(CANDIDATES, len(scores))
            top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
            picked.append(top[scores[top] > 0])
        return tier.idx[np.unique(np.concatenate(picked))]

    def _restrict(self, ev: Evidence, tier: _Tier, idx: np.ndarray | None = None) -> Evidence:
        """The evidence of one tier's chunks (or of `idx`, some of them) only, positions renumbered."""
        idx = tier.idx if idx is None else idx
        local = {int(g): j for j, g in enumerate(idx)}
        rest = ev.neighbour_rest
        neighbours = {}
        if tier is not self._primary and ev.neighbour_named and self.use_lexical and ev.q_tokens:
            named = self._named_neighbour(ev.expansion)
            if named and self._library_covers(named[0], idx):
                # The primary does not cover 就业见习, but the library holds a document about it: for the related
                # rules the named topic is theirs, not a neighbour to refer elsewhere.
                neighbours = {"neighbour_named": None, "neighbour_coverage": (0.0, None), "neighbour_dense": (0.0, None)}
            else:
                rest = self._rest_coverage(ev.expansion, named, tier) if named else 0.0
        return replace(
            ev,
            **neighbours,  # type: ignore[arg-type]
            lexical=ev.lexical[idx],
            coverage=ev.coverage[idx],
            phrase=ev.phrase[idx],
            dense=ev.dense[idx],
            cited=tuple(local[i] for i in ev.cited if i in local),
            hired=tuple(local[i] for i in ev.hired if i in local),
            wording=None if ev.wording is None else ev.wording[idx],
            neighbour_rest=rest,
            subject=None
            if ev.subject is None
            else replace(
                ev.subject,
                share=ev.subject.share[idx],
                uncovered_max=ev.subject.uncovered_max[idx],
                covered_max=ev.subject.covered_max[idx],
            ),
        )

    def _library_covers(self, topic: str, idx: np.ndarray) -> bool:
        """Whether a related document among those of `idx` is about a neighbouring topic: its title or a chunk's
        section names one of the topic's names (a 「就业见习补贴申领服务指南」 for 就业见习). A chunk that only mentions
        one (公益性岗位's 「户口簿（或居住证）」) does not make the 办法 a document about 居住证."""
        names = [n for nb, ns in zip(self.lexicon.neighbours, self._neighbour_names, strict=True) if nb.topic == topic for n in ns]
        for i in idx:
            chunk = self.chunks[int(i)]
            about = f"{self.corpus.titles.get(chunk.doc, '')} {chunk.section}"
            if any(n in about for n in names):
                return True
        return False

    def _about_as_much(self, ev: Evidence, related: Hit, primary: Hit, lapsed: bool = False) -> bool:
        """Whether a related chunk, read inside its document, is about as much of the question as the primary's chunk:
        a guide's 办理流程 for 一次性创业补贴 does not answer 「创业贷款怎么申请」, which the loan measure names.

        About more of the subject (subject.py: weighted, glossary terms included) is enough — the notice's 活动地点
        answers 「春风行动专场招聘会在哪里举办」 though only the measure uses the verb 举办. About as much, it must also
        name every topic word the measure names: 「单位招就业困难人员，社保补贴补多少」 is the employer's 社保补贴 of the
        measure, not the 灵活就业人员's of a Q&A page that never says 单位. A lapsed document must be about more: a
        current one is preferred (「城阳的招聘会多久一回」). (Scores of the two tiers are measured on different
        statistics and are not compared.)"""
        if ev.subject is not None and ev.subject.terms:
            theirs = float(ev.subject.share[self._pos[related.chunk.id]])
            ours = float(ev.subject.share[self._pos[primary.chunk.id]])
            if theirs != ours or lapsed:
                return theirs > ours
        topic = [t for t in self._leads.intents.read(ev.expansion.repaired).topic if len(t) > 1]
        named = lambda h: {t for t in topic if t in self._chunk_texts[self._pos[h.chunk.id]]}  # noqa: E731
        return named(related) >= named(primary)

    def _context(self, chunk: Chunk) -> str:
        """What a related chunk is read inside: its document's title, its section and heading (a guide's 办理时限 is
        the 办理时限 of the subsidy its title names)."""
        return f"{self.corpus.titles.get(chunk.doc, '')} {chunk.section} {chunk.title}"

    def _field_first(self, related: Retrieval, question: str, w: Weights) -> Retrieval:
        """Among the related rules' hits, the one that states what was asked first — a field headed by it before a
        chunk whose sentence states it (「在哪里举办」: the notice's 活动地点 before an item that mentions a 市场), then
        by rank: 「多久能办下来」 is answered by the guide's 办理时限, though its 申请对象 shares as many words — taken
        from the best hit's document, or from another hit nearly as good."""
        if not self._leads.asks(question):
            return related
        top = related.matched[0]
        best, strength = None, NOT
        for h in related.hits[:10]:
            if h.chunk.doc != top.chunk.doc and h.score < w.keep_ratio * top.score:
                continue
            s = self._leads.strength(h.chunk, question, self._context(h.chunk))
            if s > strength:
                best, strength = h, s
        if best is None:
            return related
        rest = tuple(m for m in related.matched if m.chunk.id != best.chunk.id)
        return replace(related, matched=(best, *rest), stated_first=True)

    def _names_the_unnamed(self, ev: Evidence, related: Hit, primary: Hit) -> bool:
        """Whether a related chunk, read inside its document, names a subject word of the question that the primary
        document never uses, and is about more of the question than the measure: 「春风行动送岗上门由谁来组织」 is about a
        campaign no measure names, so the measure that shares 组织 is not its answer, the campaign notice's item is."""
        subj = ev.subject
        # A measure cited by number (「第十二条讲的是什么」) or a department named (「区税务局负责什么」) is a direct
        # reference to the primary, answered by its hand rules: a guide's 设定依据 citing some 办法's 第十二条 is not it.
        if subj is None or not subj.terms or ev.cited or ev.units or ev.duty:
            return False
        theirs = float(subj.share[self._pos[related.chunk.id]])
        if theirs <= float(subj.share[self._pos[primary.chunk.id]]):
            return False
        text = f"{self._context(related.chunk)} {related.chunk.text}"
        for t in subj.terms:
            alts = [a for a in (t.word, *t.alts) if len(a) >= 2]
            unnamed = not (t.alts & self._primary.idf.keys()) and not any(a in self._primary_text for a in alts)
            if unnamed and any(a in text for a in alts):
                return True
        return False

    def _names_the_subject(self, ev: Evidence, hit: Hit) -> bool:
        """Whether a related chunk, read inside its document, names every subject word of the question — or, when
        every subject word is a word of what is asked (「求职创业补贴几月份申请」: the subject reader sets 求职 and 创业
        aside as who and what anyone wants), every topic word outside it (LeadRule.topic)."""
        if ev.subject is None:
            return False
        text = f"{self._context(hit.chunk)} {hit.chunk.text}"
        terms = self._leads.subject(ev.subject.terms, ev.question)
        if terms:
            return self._leads.share(terms, text) == 1.0
        if len(terms) == len(ev.subject.terms):
            return False  # no subject at all: nothing says the chunk is about the question
        topic = self._leads.topic(ev.question)
        return bool(topic) and all(t in text for t in topic)

    def decide(
        self,
        ev: Evidence,
        top_k: int = 3,
        weights: Weights | None = None,
        model: DecisionModel | None | bool = True,
    ) -> Retrieval:
        """Fuse the evidence into a ranking and decide whether the policy covers the question.
        `model`: True = this retriever's fitted decision; None/False = the hand thresholds; or another.

        Each tier is decided on its own evidence by the same rule (fusion.decide): the primary's answer is what it
        would be without any related rule. A related chunk that clears the decision joins after the primary's hits,
        and leads only when it states what was asked and the primary's best hit does not, or states it about less of
        the question's subject (LeadRule) — or, the best hit stating nothing asked, when it names what the primary
        never does (_names_the_unnamed)."""
        w = weights or self.weights
        chosen = self.model if model is True else (model or None)
        if self._related is None:
            return decide(ev, self.chunks, self._chunk_tokens, w, top_k, chosen)
        tiers = []
        covers_neighbour = False
        for tier in self._tiers:
            idx = tier.idx if tier is self._primary else self._candidates(ev.lexical, ev.dense)
            if not len(idx):  # no related chunk shares a word or any similarity with the question
                return tiers[0]
            chunks = [self.chunks[i] for i in idx]
            tokens = [self._chunk_tokens[i] for i in idx]
            # The fitted decision was fitted on the primary's evidence; a related rule's chunks are decided by the
            # hand thresholds (their statistics differ, and no labelled questions about them exist to fit on).
            fitted = chosen if tier is self._primary else None
            restricted = self._restrict(ev, tier, idx)
            if tier is not self._primary:
                covers_neighbour = ev.neighbour_named is not None and restricted.neighbour_named is None
            decided = decide(restricted, chunks, tokens, w, top_k, fitted)
            if tier is not self._primary:
                decided = _about_the_subject(decided, restricted, chunks, self.corpus.titles, self._leads)
            tiers.append(decided)
        primary, related = tiers
        if primary.kind == "greeting":
            return primary
        # The lookup's list: the answer's chunks in its order, then the primary's other hits, then the related rules'
        # (scores of the two tiers are measured on different statistics and are not interleaved).
        pool = primary.hits + related.hits

        def hits_after(matched: tuple[Hit, ...]) -> tuple[Hit, ...]:
            ids = {h.chunk.id for h in matched}
            return (*matched, *(h for h in pool if h.chunk.id not in ids))

        hits = hits_after(())
        if related.kind != "answer":
            return replace(primary, hits=hits)
        ranked, related = related, self._field_first(related, ev.question, w)
        extra = related.matched[:1] if primary.kind == "answer" else related.matched
        if primary.kind != "answer":
            # Declined as a topic the service does not cover (医保, 落户), or carried by similarity alone: a short Q&A
            # pair is close in meaning to many questions it does not answer (「社保关系怎么转」 vs 「外地户籍可以申请吗」).
            # A chunk that states what was asked and names the whole subject answers though the question's other
            # words are not the library's (「春风行动什么时候结束」: 结束 is in no document).
            stated = related.stated_first and self._names_the_subject(ev, related.matched[0])
            # A neighbouring topic the primary refers elsewhere is answered by a related rule about it (a 就业见习
            # guide in the library), not by one that merely shares the question's other words.
            referred = primary.neighbour is not None and not covers_neighbour
            if referred:
                return replace(primary, hits=hits)
            if related.matched[0].coverage >= w.min_coverage or stated:
                return replace(related, hits=hits_after(related.matched), cited=primary.cited)
            # A field headed by what was asked but about less of the question (the 办结时限 of a guide, for
            # 「见习期最长能有多久」) does not displace the best hit, which covers the question: that one answers.
            if ranked.matched[0].coverage >= w.min_coverage:
                return replace(ranked, hits=hits_after(ranked.matched), cited=primary.cited)
            return replace(primary, hits=hits)
        first, lead = extra[0], primary.matched[0]
        # A related field leads only when it is about the question's subject at least as much as the measure is
        # (「能贷款吗」 is not answered by a guide's 补贴标准 of another subsidy) and states what the measure does not.
        # The share of the subject decides between two chunks that both state it only for a current document: a
        # lapsed one leads only where the measure does not state what was asked at all (a current document is
        # preferred; 「专场招聘会一周有几场」 keeps the measure's 每周至少…1次 ahead of an expired notice's 每周三).
        lapsed = self._document_prior(ev.today)[self._pos[first.chunk.id]] < 1.0
        terms = ev.subject.terms if ev.subject is not None and not lapsed else None
        leads = self._leads.leads(first.chunk, lead.chunk, ev.question, self._context(first.chunk), terms)
        if self._about_as_much(ev, first, lead, lapsed) and leads:
            return replace(primary, hits=hits_after((first,)), matched=(first, *primary.matched), stated_first=True)
        # Whatever was asked, a measure that does not state it cannot be about what its document never names.
        if not self._leads.states(lead.chunk, ev.question) and self._names_the_unnamed(ev, first, lead):
            return replace(primary, hits=hits_after((first,)), matched=(first, *primary.matched), stated_first=True)
        return replace(primary, hits=hits, matched=(*primary.matched, first))


def _about_the_subject(
    r: Retrieval, ev: Evidence, chunks: Sequence[Chunk], titles: Mapping[str, str], leads: LeadRule
) -> Retrieval:
    """Issue 19 §1 for the tiers the fitted decision does not decide (the related rules): a chunk answers only when
    it covers some of what the question is about. 「大学生首次购房有补贴吗」 shares 大学生 and 补贴 with a start-up
    guide, not 购房; the hand thresholds see the shared words only. A chunk is read inside its document: a guide's
    办理时限 is about the subsidy its title names (「创业补贴办下来要几个工作日」). The words of what is asked are not
    the subject (LeadRule.subject): 「求职创业补贴几月份申请」 is about 求职创业补贴, not 几月份."""
    subj = ev.subject
    if r.kind != "answer" or subj is None or not subj.terms:
        return r
    terms = leads.subject(subj.terms, ev.question)
    if not terms:
        return r
    at = {c.id: j for j, c in enumerate(chunks)}

    def about(c: Chunk) -> bool:
        if len(terms) == len(subj.terms) and float(subj.share[at[c.id]]) > 0.0:
            return True
        around = f"{titles.get(c.doc, '')} {c.section} {c.title} {c.text}"
        return any(len(a) >= 2 and a in around for t in terms for a in (t.word, *t.alts))

    kept = tuple(h for h in r.matched if about(h.chunk))
    return replace(r, matched=kept) if kept else replace(r, kind="no_match", matched=())
