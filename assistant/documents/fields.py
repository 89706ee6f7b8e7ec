"""Which field of a related rule a question asks for: whether a guide's 「办理时限」 or a Q&A pair about 材料 should lead
an answer ahead of the primary document's measure.

The primary's measure answers first unless a related chunk states what was asked — the amount, the materials, the
processing time, the place, the phone, or any fact of intents.tsv (how many, how long, until when) — and the measure
does not state it, or states it about less of what the question is about (「灵活就业社保补贴按什么标准补」: the measure's
amount is the 意外伤害保险's). Fields, their headings and the question cues that ask for them are data
(corpus/lexicon/fields.tsv); what a sentence "states" is intents.tsv's sentence evidence, as for highlights.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..corpus import Chunk
from ..intent import FACT_INTENTS, IntentReader
from ..subject import SubjectTerm
from ..text import Lexicon, normalize

# The facts a question may ask for that a sentence can state (intents.tsv evidence). Not how to apply, whose
# evidence (申请, 办理) any measure has: materials and procedure are stated by their field. Validity is: a notice's
# 「活动时间为…至2025年3月31日」 says whether the campaign still runs.
_FACTS = frozenset((*FACT_INTENTS, "validity")) - {"how"}

# How strongly a chunk answers what was asked (LeadRule.strength).
HEADED, STATED, NOT = 2, 1, 0


@dataclass(frozen=True)
class Field:
    name: str
    heading: re.Pattern[str]
    intents: tuple[str, ...]
    cues: re.Pattern[str] | None
    evidence: re.Pattern[str] | None = None  # a text stating the field, besides its intents' evidence


def read_fields(path: Path) -> tuple[Field, ...]:
    if not path.exists():
        return ()
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = [*line.split("\t"), "", "", "", ""][:5]
        name, heading, intents, cues, evidence = (c.strip() for c in cols)
        out.append(
            Field(
                name,
                re.compile(heading),
                tuple(intents.split()),
                re.compile(cues) if cues else None,
                re.compile(evidence) if evidence else None,
            )
        )
    return tuple(out)


class LeadRule:
    """Fields asked for by a question, stated by a chunk's heading, or stated by a chunk's sentences."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.fields = read_fields(lexicon.dir / "fields.tsv")
        self.intents = IntentReader(lexicon)
        # A question is read once per related chunk weighed (and a Q&A pair's question once per question): remembered.
        self._read = functools.lru_cache(maxsize=4096)(self.intents.read)
        self._asked_once = functools.lru_cache(maxsize=4096)(self._asked)

    def asked(self, text: str) -> frozenset[str]:
        """The fields a question (or a Q&A pair's question) asks for."""
        return self._asked_once(text)

    def _asked(self, text: str) -> frozenset[str]:
        norm = normalize(text)
        read = set(self._read(text).intents)
        return frozenset(
            f.name for f in self.fields if read.intersection(f.intents) or (f.cues is not None and f.cues.search(norm))
        )

    def facts(self, text: str) -> tuple[str, ...]:
        """The facts of intents.tsv a question asks for that a sentence can state (「每场提供多少个岗位」: a count)."""
        return tuple(i for i in self._read(text).intents if i in _FACTS)

    def asks(self, text: str) -> bool:
        return bool(self.asked(text) or self.facts(text))

    def heads(self, chunk: Chunk) -> frozenset[str]:
        """The fields a related chunk is about: a Q&A pair by what its question asks, anything else by its heading."""
        heading = chunk.ref or chunk.title
        if chunk.kind == "qa":
            return self.asked(heading)
        return frozenset(f.name for f in self.fields if f.heading.search(heading))

    def stating(self, chunk: Chunk, question: str, context: str = "", *, own_only: bool = False) -> tuple[str, ...]:
        """The sentences of a chunk that state what the question asks, about the question's subject: a sentence
        matching the evidence of a field asked (its own column) or of a fact asked (intents.tsv) that also names one
        of the question's topic words — in the sentence, or in `context` (a related chunk is read inside its
        document: 「2025年2月1日至2025年3月31日」 under 「春风行动」's title). 「春风行动招聘会在哪里举办」 is not stated by a
        measure whose sentence about some 市场 matches the place evidence but says nothing of 春风行动 or 招聘会.
        `own_only`: the fields' own evidence only (a phone number), not the facts' looser evidence (「6个月」)."""
        asked = [f for f in self.fields if f.name in self.asked(question)]
        read = self._read(question)
        patterns = [f.evidence for f in asked if f.evidence is not None]
        if not own_only:
            # Every fact the question asks for (an amount question read as a count too, 「开发多少个」, is stated by
            # 「1500个以上」) — by a field's own evidence where a field asked for it has one (a count is not
            # 「10个工作日」), else by the intent's.
            owned = {i for f in asked if f.evidence is not None for i in f.intents}
            for name in read.intents:
                rule = self.intents.rule(name)
                if name in _FACTS and name not in owned and rule is not None and rule.evidence is not None:
                    patterns.append(rule.evidence)
        if not patterns:
            return ()
        topic = [t for t in read.topic if len(t) > 1]
        about = lambda s: not topic or any(t in s or t in context for t in topic)
        return tuple(s for s in chunk.sentences if about(s) and any(p.search(s) for p in patterns))

    def states(self, chunk: Chunk, question: str, context: str = "") -> bool:
        return bool(self.stating(chunk, question, context))

    def strength(self, chunk: Chunk, question: str, context: str = "") -> int:
        """How a related chunk answers what was asked: HEADED, a field or a Q&A pair whose heading is what was asked
        (「申请材料」: a list of documents has none of the words the intents look for in a sentence); STATED, a
        sentence states it; NOT. A chunk headed by another field is read for the facts only when the question asks
        for no field (a Q&A answer about who may apply mentions 6个月 without stating a processing time), and always
        for a field's own evidence (its phone number)."""
        asked = self.asked(question)
        heads = self.heads(chunk)
        if asked & heads:
            return HEADED
        other_field = bool(heads) and bool(asked) and chunk.kind in ("field", "qa")
        return STATED if self.stating(chunk, question, context, own_only=other_field) else NOT

    def answers(self, chunk: Chunk, question: str, context: str = "") -> bool:
        return self.strength(chunk, question, context) > NOT

    def subject(self, terms: Sequence[SubjectTerm], question: str) -> tuple[SubjectTerm, ...]:
        """The question's subject words (subject.py) less the words of what it asks for: 「咨询电话」 names the field,
        not what the phone is for; 「要准备什么材料」's 准备 and 「几月份申请」's 几月份 are inside the cue that asks for
        the field, whatever word the subject reader cut them into."""
        cues = self._asked_cues(question)
        spans = self._asked_spans(question, cues)
        return tuple(
            t for t in terms if not any(c.search(t.word) for c in cues) and not any(t.word in s for s in spans)
        )

    def _asked_cues(self, question: str) -> list[re.Pattern[str]]:
        """The cues of the fields the question asks for."""
        asked = self.asked(question)
        return [f.cues for f in self.fields if f.name in asked and f.cues is not None]

    def _asked_spans(self, question: str, cues: list[re.Pattern[str]] | None = None) -> tuple[str, ...]:
        """The stretches of a question that ask for a field (its cues' matches)."""
        norm = normalize(question)
        cues = self._asked_cues(question) if cues is None else cues
        return tuple(m.group() for c in cues for m in c.finditer(norm) if m.group())

    def topic(self, question: str) -> tuple[str, ...]:
        """The question's topic words (intent.py: what is left once the intents' cues are read) of two or more
        characters, less those inside what it asks for: 「求职创业补贴几月份申请」 → 求职, 创业."""
        spans = self._asked_spans(question)
        return tuple(t for t in self._read(question).topic if len(t) > 1 and not any(t in s for s in spans))

    @staticmethod
    def share(terms: Sequence[SubjectTerm], text: str) -> float:
        """The weighted share of the subject words a text names (1 when the question has none)."""
        total = sum(t.weight for t in terms)
        if not total:
            return 1.0
        named = sum(t.weight for t in terms if any(len(a) >= 2 and a in text for a in (t.word, *t.alts)))
        return named / total

    def leads(
        self,
        related: Chunk,
        primary: Chunk,
        question: str,
        context: str = "",
        terms: Sequence[SubjectTerm] | None = None,
    ) -> bool:
        """A related chunk (read with `context`, its document's title and its heading) leads when it answers what was
        asked and the primary's chunk does not state it — or states it in sentences about less of the question's
        subject (`terms`) than the related chunk is about."""
        if not self.asks(question) or not self.answers(related, question, context):
            return False
        said = self.stating(primary, question)
        if not said:
            return True
        if terms is None:
            return False
        subject = self.subject(terms, question)
        return self.share(subject, f"{context} {related.text}") > max(self.share(subject, s) for s in said)


__all__ = ["HEADED", "NOT", "STATED", "Field", "LeadRule", "read_fields"]
