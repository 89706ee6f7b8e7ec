"""The key sentences of a measure for one question: what a hotline operator would read out first.

A measure is a paragraph of four to nine sentences; a citizen who asks 「骑手有没有保险补贴」 needs the
one about 100元 意外伤害保险补贴, not the paragraph's opening slogan. Sentences are chosen from the
question's own evidence — its words and glossary concepts, weighted by rarity — and from what it
asks for: a question about an amount wants a sentence that states an amount (intents.tsv says what
each kind of fact looks like). When it asks for a fact that no sentence states, the answer says
so instead of leading with another measure that happens to contain a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .corpus import Chunk
from .intent import FACT_INTENTS, IntentReader, QuestionIntent
from .text import Lexicon

# A second sentence joins the first only when it is nearly as relevant, and the two together
# stay a minority of the measure: a highlight that is most of the paragraph highlights nothing.
SECOND_RATIO = 0.75
MAX_SHARE = 0.5
MAX_SENTENCES = 2


@dataclass(frozen=True)
class Highlight:
    sentences: tuple[str, ...]  # verbatim, in text order
    not_stated: tuple[str, ...]  # aspects asked for that the measure does not state ("具体金额")


class Highlighter:
    def __init__(self, lexicon: Lexicon, intents: IntentReader, idf: Mapping[str, float]) -> None:
        self.lexicon = lexicon
        self.intents = intents
        self.idf = idf
        self._default_idf = max(idf.values(), default=1.0)

    def _score(self, sentence: str, terms: Sequence[str], phrases: Sequence[str]) -> float:
        toks = frozenset(self.lexicon.tokens(sentence))  # memoised by the lexicon
        score = sum(self.idf.get(t, self._default_idf) for t in terms if t in toks)
        # Glossary phrases ("意外伤害保险补贴") and group words are matched as written: jieba may
        # cut them differently inside a long sentence.
        score += sum(self.idf.get(p, self._default_idf) for p in phrases if p in sentence)
        return score

    def pick(
        self,
        chunk: Chunk,
        terms: Sequence[str],
        intent: QuestionIntent,
        phrases: Sequence[str] = (),
    ) -> Highlight:
        sentences = chunk.sentences
        if not sentences:
            return Highlight((), ())
        scores = [self._score(s, terms, phrases) for s in sentences]
        # The first sentence of a measure repeats its title: a heading, not an answer.
        if chunk.kind == "measure" and len(sentences) > 1 and sentences[0].rstrip("。") == chunk.title:
            scores[0] = 0.0
        wanted = [self.intents.rule(i) for i in intent.facts]
        if intent.asks("validity"):
            wanted.append(self.intents.rule("validity"))
        rules = [r for r in wanted if r is not None and r.evidence is not None]
        candidates = list(range(len(sentences)))
        not_stated: list[str] = []
        if rules:
            stating = [i for i in candidates if any(r.evidence.search(sentences[i]) for r in rules)]  # type: ignore[union-attr]
            if stating:
                candidates = stating
                # A fact sentence with no topical overlap still beats none: the question asked for it.
                scores = [s + 0.01 if i in stating else s for i, s in enumerate(scores)]
            else:
                not_stated = [r.aspect for r in rules if r.aspect and r.name != "validity"]
        if intent.asks("department") and not rules and not terms and not phrases:
            return Highlight((), ())  # the unit clause answers it, not a sentence
        best = max(candidates, key=lambda i: (scores[i], -i))
        if scores[best] <= 0:
            return Highlight((), tuple(not_stated))
        chosen = [best]
        others = sorted((i for i in candidates if i != best), key=lambda i: (-scores[i], i))
        total = len(chunk.text)
        for i in others[: MAX_SENTENCES - 1]:
            length = sum(len(sentences[j]) for j in chosen) + len(sentences[i])
            if scores[i] >= SECOND_RATIO * scores[best] and length <= MAX_SHARE * total:
                chosen.append(i)
        return Highlight(tuple(sentences[i] for i in sorted(chosen)), tuple(not_stated))


def fact_of(chunk: Chunk, intents: IntentReader, name: str) -> bool:
    """Whether the measure states a fact of this kind at all (for suggesting "补多少？")."""
    rule = intents.rule(name)
    if rule is None or rule.evidence is None:
        return False
    return any(rule.evidence.search(s) for s in chunk.sentences[1:] or chunk.sentences)


__all__ = ["FACT_INTENTS", "Highlight", "Highlighter", "fact_of"]
