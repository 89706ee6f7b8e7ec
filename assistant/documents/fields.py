"""Which field of a related rule a question asks for: whether a guide's 「办理时限」 or a Q&A pair about 材料 should lead
an answer ahead of the primary document's measure.

The primary's measure answers first unless a related chunk's own field (its heading, or a Q&A pair's question) is what
was asked — the amount, the materials, the processing time, the place, the phone — and the measure does not state it.
Fields, their headings and the question cues that ask for them are data (corpus/lexicon/fields.tsv); what a measure
"states" is intents.tsv's sentence evidence, as for highlights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..corpus import Chunk
from ..intent import FACT_INTENTS, IntentReader
from ..text import Lexicon, normalize


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
    """Fields asked for by a question, stated by a chunk's heading, or stated by a measure's sentences."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.fields = read_fields(lexicon.dir / "fields.tsv")
        self.intents = IntentReader(lexicon)

    def asked(self, text: str) -> frozenset[str]:
        """The fields a question (or a Q&A pair's question) asks for."""
        norm = normalize(text)
        read = set(self.intents.read(text).intents)
        return frozenset(
            f.name for f in self.fields if read.intersection(f.intents) or (f.cues is not None and f.cues.search(norm))
        )

    def heads(self, chunk: Chunk) -> frozenset[str]:
        """The fields a related chunk is about: a Q&A pair by what its question asks, anything else by its heading."""
        heading = chunk.ref or chunk.title
        if chunk.kind == "qa":
            return self.asked(heading)
        return frozenset(f.name for f in self.fields if f.heading.search(heading))

    def states(self, chunk: Chunk, question: str) -> bool:
        """Whether a chunk states what the question asks, in a sentence about the question's subject: a sentence
        matching the evidence of a fact asked (intents.tsv), or of a field asked (its own column), that also
        names one of the question's topic words. 「春风行动招聘会在哪里举办」 is not stated by a measure whose sentence
        about some 市场 matches the place evidence but says nothing of 春风行动 or 招聘会."""
        asked = [f for f in self.fields if f.name in self.asked(question)]
        if not asked:
            return False
        read = self.intents.read(question)
        patterns = [f.evidence for f in asked if f.evidence is not None]
        # Every fact the question asks for (an amount question read as a count too, 「开发多少个」, is stated by
        # 「1500个以上」) — except how to apply, whose evidence (申请, 办理) any measure has: materials and procedure are
        # stated by their field, not by a sentence that mentions applying.
        for name in read.intents:
            rule = self.intents.rule(name)
            if name in FACT_INTENTS and name != "how" and rule is not None and rule.evidence is not None:
                patterns.append(rule.evidence)
        if not patterns:
            return False
        topic = [t for t in read.topic if len(t) > 1]
        return any(
            any(p.search(s) for p in patterns) and (not topic or any(t in s for t in topic)) for s in chunk.sentences
        )

    def answers(self, chunk: Chunk, question: str) -> bool:
        """A related chunk answers what was asked: a guide's field or a Q&A pair by its heading (a Q&A answer about
        who may apply mentions 6个月 without stating a processing time); an article or a paragraph by its text."""
        if chunk.kind in ("field", "qa"):
            return bool(self.asked(question) & self.heads(chunk))
        return self.states(chunk, question)

    def leads(self, related: Chunk, primary: Chunk, question: str) -> bool:
        """A related chunk leads when it answers what was asked and the primary's chunk does not state it."""
        return bool(self.asked(question)) and self.answers(related, question) and not self.states(primary, question)


__all__ = ["Field", "LeadRule", "read_fields"]
