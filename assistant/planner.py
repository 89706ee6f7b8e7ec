"""Question (+ the previous answer) → what to show: which measures, why, and their key sentences.

This is where the conversation's stages meet, each in its own module: `intent` (what is asked),
`followup` (about the previous answer?), `groups` ("我是退役军人…"), `multipart` (two questions in
one), `retrieve` (which measures) and `highlight` (which sentences). It decides; `answer` renders.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .clock import district_today
from .corpus import Chunk, Corpus
from .followup import MAX_CONTEXT, clean_context, resolve
from .fusion import Hit, Retrieval
from .groups import Group, GroupIndex
from .highlight import Highlight, Highlighter
from .intent import IntentReader, QuestionIntent
from .multipart import split_parts
from .periods import Periods
from .places import load_places
from .retrieve import Retriever
from .text import Lexicon, normalize

# A group answer lists every measure for the group, but a pathological group (a word that every
# measure uses) must not turn one answer into the whole document.
MAX_GROUP_MEASURES = 12


@dataclass(frozen=True)
class Shown:
    """One measure in an answer, with the sentences that answer this question."""

    hit: Hit
    highlight: Highlight
    via: str  # "retrieved" | "context" | "group" | "part"


@dataclass(frozen=True)
class Plan:
    question: str
    kind: str  # "answer" | "no_match" | "greeting" | "clarify"
    shown: tuple[Shown, ...]
    intent: QuestionIntent
    retrieval: Retrieval
    context_used: bool = False
    groups: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    referral: str = ""  # where to go instead, for a question about a neighbouring service
    place: str | None = None  # another city/province/district the question is about (declined)
    chain_place: str | None = None  # a place of the covered chain named ("青岛"): answered, with a note
    years: tuple[int, ...] = ()  # calendar years the question names


class Planner:
    def __init__(self, corpus: Corpus, lexicon: Lexicon, retriever: Retriever, groups: GroupIndex) -> None:
        self.corpus = corpus
        self.lexicon = lexicon
        self.retriever = retriever
        self.groups = groups
        self.intents = IntentReader(lexicon, groups.words())
        self.highlighter = Highlighter(lexicon, self.intents, retriever.idf)
        self.places = load_places(corpus, lexicon.tokenizer, retriever.chunk_tokens, lexicon.stopwords)
        self.periods = Periods.load(lexicon.dir)

    # -- helpers ---------------------------------------------------------------------------

    def _terms(self, retrieval: Retrieval) -> tuple[list[str], list[str]]:
        """The question's words and the policy phrases its glossary words stand for."""
        terms = list(retrieval.evidence_tokens)
        phrases = [t for _, ts in retrieval.expansion.glossary for t in ts if len(t) >= 3]
        return terms, phrases

    def _show(
        self,
        hit: Hit,
        retrieval: Retrieval,
        intent: QuestionIntent,
        via: str,
        extra_phrases: Iterable[str] = (),
    ) -> Shown:
        terms, phrases = self._terms(retrieval)
        if via == "context":
            terms, phrases = [], []
        hl = self.highlighter.pick(hit.chunk, terms, intent, [*phrases, *extra_phrases])
        return Shown(hit, hl, via)

    def highlight(self, hit: Hit, retrieval: Retrieval) -> Highlight:
        """The key sentences of one hit for the question behind `retrieval` (the lookup page)."""
        return self._show(hit, retrieval, self.intents.read(retrieval.question), "retrieved").highlight

    @staticmethod
    def _direct_hit(chunk: Chunk, why: str) -> Hit:
        return Hit(chunk=chunk, score=1.0, lexical=0.0, dense=0.0, coverage=0.0, why=(why,))

    # -- the decision ----------------------------------------------------------------------

    def plan(
        self, question: str, top_k: int = 3, context: Iterable[str] | None = None, today: dt.date | None = None
    ) -> Plan:
        """`today` resolves relative years (去年, 今年) in the question."""
        retrieval = self.retriever.retrieve(question, top_k=top_k, today=today)
        intent = self.intents.read(question)
        if retrieval.kind == "greeting":
            return Plan(question, "greeting", (), intent, retrieval)
        # Another place's policy is not this district's: answering 「广州灵活就业补贴」 with Chengyang's
        # measures would be misinformation, however verbatim the quote.
        where = self.places.read(question)
        if where.other is not None:
            return Plan(question, "no_match", (), intent, retrieval, place=where.other)
        when = self.periods.read(question, today)
        if when.latest and not intent.asks("validity"):
            # 「…最新」「现在还…吗」: whether it still applies comes first.
            intent = replace(intent, intents=(*intent.intents, "validity"))
        # Naming the district itself needs no note; naming the city or province it belongs to does.
        broader = where.chain if where.chain and where.chain not in self.places.district else None
        scope = {"chain_place": broader, "years": when.years}
        plan = self._decide(question, top_k, context, retrieval, intent, today or district_today())
        return replace(plan, **scope)

    def _decide(
        self,
        question: str,
        top_k: int,
        context: Iterable[str] | None,
        retrieval: Retrieval,
        intent: QuestionIntent,
        today: dt.date,
    ) -> Plan:
        cited = bool(retrieval.cited)
        previous = clean_context(self.corpus, context, limit=None)
        resolution = resolve(intent, previous, cited, normalize(question))
        listing = self._listing_units(retrieval, previous) if resolution.kind == "own" and not cited else ()
        if listing:
            # 「那妇联管哪样？」 after the skills-training measure: a department the measure just discussed lists among
            # its responsible units is asked about in that measure, not about everything the department does.
            resolution = replace(resolution, kind="context", chunks=listing)
        elif resolution.kind == "own" and retrieval.kind == "no_match" and not retrieval.neighbour:
            # 「房子有多少间？」 after the answer on 优徕青年社区: too little on its own, but what it is
            # about is in the previous answer's measure — a conversation, not a new question.
            covering = self._covering(retrieval, previous) or self._discussed(question, previous, today)
            if covering:
                resolution = replace(resolution, kind="context", chunks=covering)
        elif resolution.kind == "own" and not cited and retrieval.matched and retrieval.probability is not None:
            # 「残疾的能参加不」 after the skills-training measure: alone it reads as the disability measure; in the
            # conversation it asks about the one just discussed — unless that is much less likely than the other
            # (「那退役军人呢」 after the gig-work measure turns to the veterans' measure). Nor does a question that hires a
            # group (「那俺要是开店招个刚毕业的，单位这头有补贴不」 after the graduates' measure): the employer asks
            # what the employer gets, and the ranking has put the measure paying for that hire first.
            if retrieval.matched[0].chunk not in previous and not retrieval.hired:
                covering = self._discussed(question, previous, today, other=retrieval.probability)
                if covering:
                    resolution = replace(resolution, kind="context", chunks=covering)
        if resolution.kind == "context":
            shown = tuple(
                self._show(self._direct_hit(c, "上一轮答复"), retrieval, intent, "context") for c in resolution.chunks
            )
            return Plan(question, "answer", shown, intent, retrieval, context_used=True)
        if resolution.kind == "clarify":
            return Plan(question, "clarify", (), intent, retrieval)

        group_plan = self._group_plan(question, retrieval, intent, today)
        if group_plan is not None:
            return group_plan
        multi_plan = self._multi_plan(question, retrieval, intent, top_k, today)
        if multi_plan is not None:
            return multi_plan
        shown = tuple(self._show(h, retrieval, intent, "retrieved") for h in retrieval.matched)
        return Plan(question, retrieval.kind, shown, intent, retrieval, referral=self._referral(retrieval))

    def _listing_units(self, retrieval: Retrieval, previous: tuple[Chunk, ...]) -> tuple[Chunk, ...]:
        """The first measure of the previous answer that lists every department the question names among its
        responsible units, when the question names one and nothing else (「那残联管哪一块」, not
        「那残联的技能培训呢」). Against the measure's own units a short name counts (妇联, 残联): too short to read
        as a department anywhere, but not among the few the measure lists."""
        if not previous:
            return ()
        typed = retrieval.expansion.repaired
        named = set(self.retriever.units_in(retrieval.expansion.text))
        for chunk in previous[:MAX_CONTEXT]:
            # Short names only as typed: the glossary appends 残联 to 「残疾证」, which names no department.
            said = named | {u for u in chunk.lead_units if _short_unit(u) in typed}
            if not said or not said <= set(chunk.lead_units):
                continue
            # Nothing else of its own: a word outside the departments' names (技能培训, 老年食堂) is a topic, and
            # then the question is read on its own; an interrogative left over (哪样, 哪一块) is not one.
            aliases = {found for found, terms in retrieval.expansion.glossary if said & set(terms)}  # 发改局
            if any(w not in aliases and _beyond(w, said) for w in retrieval.subject):
                continue
            return (chunk,)
        return ()

    def _covering(self, retrieval: Retrieval, previous: tuple[Chunk, ...]) -> tuple[Chunk, ...]:
        """The previous answer's measures that cover most of the question's subject (none when the
        question has no subject of its own: that is the elliptical case, resolved already)."""
        if not previous or not retrieval.subject:
            return ()
        # A close decline whose nearest measure is the one just discussed is about it.
        if retrieval.near_miss and retrieval.hits and retrieval.hits[0].chunk in previous:
            return (retrieval.hits[0].chunk,)
        pos = {c.id: i for i, c in enumerate(self.retriever.chunks)}
        # Measured over the previous answer's chunks only: the others are not read.
        coverage = self.retriever.subjects.coverage(retrieval.expansion, [pos[c.id] for c in previous if c.id in pos])
        return tuple(c for c in previous if c.id in pos and coverage.share[pos[c.id]] >= 0.5)[:1]

    def _discussed(
        self, question: str, previous: tuple[Chunk, ...], today: dt.date, other: float | None = None
    ) -> tuple[Chunk, ...]:
        """The measure just discussed, when the fitted decision answers about it once the conversation's prior is
        added (「一年能建几个」 after the 就享家 measure; not 「那公积金能贷多少」, which no measure backs). The prior is
        fitted on the training files' questions asked with a context; without it, nothing is added."""
        model = self.retriever.model
        if not previous or model is None or not model.context_prior:
            return ()
        ev = self.retriever.evidence(question, today)
        scored = [(p, c) for c in previous[:MAX_CONTEXT] if (p := self.retriever.probability_of(ev, c.id)) is not None]
        if not scored:
            return ()
        p, chunk = max(scored, key=lambda pc: pc[0])
        return (chunk,) if model.in_conversation(p, other) else ()

    def _referral(self, retrieval: Retrieval) -> str:
        if retrieval.kind != "no_match" or not retrieval.neighbour:
            return ""
        nb = next((n for n in self.lexicon.neighbours if n.topic == retrieval.neighbour), None)
        return nb.referral if nb is not None else ""

    def _group_plan(
        self, question: str, retrieval: Retrieval, intent: QuestionIntent, today: dt.date
    ) -> Plan | None:
        """「我是退役军人，有哪些政策？」: every measure for the group(s) — the group's own first, then
        those paid to whoever hires them, then those whose deadline has passed; most relevant first
        within each."""
        # A named uncovered service (「退役军人医保有哪些政策」) is declined, not answered with the group's list.
        if not intent.asks("broad") or retrieval.cited or retrieval.neighbour is not None:
            return None
        # So is a subject of its own that no measure covers (「我是宝妈，孩子上幼儿园有补助吗」).
        if retrieval.kind == "no_match" and retrieval.subject:
            return None
        # Read as repaired: a group named with a same-sound typo (残急人, 小微企叶) is still that group.
        said = retrieval.expansion.repaired
        named = self.groups.named_in(said)
        if not named:
            return None
        # An employer hiring the group (「饭馆雇了个下岗的大哥，能拿到啥补贴」) asks what the employer gets, not what the
        # group gets: the ranking, which puts the measure paying employers for that hire first, answers it.
        if retrieval.hired:
            return None
        # Anything the question says beyond the group ("大学生创业贷款有哪些政策") is a topic of its
        # own; then retrieval, not the group list, answers it.
        # The ways people name the group, not its policy words: "创业担保贷款" is one of the
        # entrepreneurs' policy words, but asking about it is asking about that loan.
        group_words = {v for g in named for v in g.variants}
        neutral = self.intents.group_neutral
        # Only words the policy itself uses (those with an IDF) can narrow the question to a topic of
        # its own: 「残疾人朋友」「能用上」 name no measure, and an uncovered service was declined above.
        known = self.retriever.idf
        rest = [
            t
            for t in intent.topic
            if t in known and t not in neutral and not any(t in w or w in t for w in group_words)
        ]
        if rest and self._own_topic(said, group_words, today):
            return None
        rank = {h.chunk.id: i for i, h in enumerate(retrieval.hits)}
        by_id = {h.chunk.id: h for h in retrieval.hits}
        shown: list[Shown] = []
        seen: set[str] = set()
        for group in named:

            def order(cid: str, group: Group = group) -> tuple[bool, bool, int]:
                chunk = self.corpus.chunk(cid)
                expired = chunk is not None and any(d.date < today for d in chunk.deadlines)
                return (expired, cid in group.employer_side, rank.get(cid, len(rank)))

            ids = sorted(group.measures, key=order)
            for cid in ids[:MAX_GROUP_MEASURES]:
                if cid in seen:
                    continue
                seen.add(cid)
                chunk = self.corpus.chunk(cid)
                assert chunk is not None  # groups are computed from this corpus
                hit = by_id.get(cid) or self._direct_hit(chunk, f"群体:{group.name}")
                shown.append(self._show(hit, retrieval, intent, "group", group.policy_words))
        return Plan(question, "answer", tuple(shown), intent, retrieval, groups=tuple(g.name for g in named))

    def _own_topic(self, question: str, group_words: Iterable[str], today: dt.date) -> bool:
        """Whether what a group question says beyond the group leads to a measure on its own: 「大学生创业贷款
        有哪些政策」 without 大学生 still asks about the loan; 「尊敬的领导您好，本人已被认定为就业困难人员，…有哪些
        扶持」 without the group leads nowhere — a salutation and a story are no topic — and 「…有哪些就业方面的
        支持」 is a qualifier. The fitted decision and the hand thresholds must both answer (as for a part of a
        two-part question), instead of any policy word left over (领导, 认定, 居民) counting as a topic."""
        text = normalize(question)
        for w in sorted(group_words, key=len, reverse=True):
            text = text.replace(normalize(w), " ")
        ev = self.retriever.evidence(self.intents.strip(text), today)
        r = self.retriever.decide(ev, 1)
        return r.kind == "answer" and bool(r.matched) and self.retriever.decide(ev, 1, model=None).kind == "answer"

    def _multi_plan(
        self, question: str, retrieval: Retrieval, intent: QuestionIntent, top_k: int, today: dt.date | None = None
    ) -> Plan | None:
        """「A和B分别找哪个部门」: each part answered, in the order asked — but only when every part
        has evidence of its own and they lead to different measures; otherwise "和" was part of
        one topic (退役军人和妇女) and the whole question's ranking stands."""
        parts = split_parts(question, self.intents.asks_something)
        if len(parts) < 2:
            return None
        answers: list[tuple[QuestionIntent, Retrieval]] = []
        # A part with no topic of its own ("这两个政策分别找哪个部门") is the question shared by the
        # others, already read from the whole question.
        topical = [(p, i) for p, i in ((p, self.intents.read(p)) for p in parts) if not i.elliptical]
        if len(topical) < 2:
            return None
        for part, part_intent in topical:
            # A part is a short question the decision model was not fitted on: it must clear the hand
            # thresholds as well, or the whole question's ranking stands.
            ev = self.retriever.evidence(part, today)
            r = self.retriever.decide(ev, top_k)
            if r.kind != "answer" or not r.matched or self.retriever.decide(ev, top_k, model=None).kind != "answer":
                return None
            # Each part's key sentence answers what that part asks ("利率多少" / "补多少钱");
            # a part that asks nothing itself ("创业担保贷款和…") shares the question's intent.
            answers.append((part_intent if part_intent.intents else intent, r))
        tops = [r.matched[0].chunk.id for _, r in answers]
        if len(set(tops)) < len(tops):
            return None
        shown = tuple(self._show(r.matched[0], r, i, "part") for i, r in answers)
        return Plan(question, "answer", shown, intent, retrieval, parts=parts)


_INTERROGATIVE_RE = re.compile(r"哪|啥|什么|谁|几")


def _beyond(word: str, units: set[str]) -> bool:
    """Whether a subject word says more than the departments named: every piece of it (a glossary find is
    「审批局、行政审批」) outside their names, and it is no interrogative."""
    pieces = word.split("、")
    return not _INTERROGATIVE_RE.search(word) and not all(any(p in u for u in units) for p in pieces)


def _short_unit(unit: str) -> str:
    """A department's name without the district's prefix (区妇联 → 妇联)."""
    for prefix in ("城阳区", "区委", "区", "各"):
        if unit.startswith(prefix) and len(unit) - len(prefix) >= 2:
            return unit.removeprefix(prefix)
    return unit


__all__ = ["MAX_GROUP_MEASURES", "Plan", "Planner", "Shown"]
