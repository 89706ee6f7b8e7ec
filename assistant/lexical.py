"""Lexical evidence of `Retriever` (a mixin, as tiers.TierDecision is): what a question's words are, counted as
concepts, weighed for BM25, and which neighbouring service it names.

A glossary word (「外卖」) is one concept, however many policy terms it expands to; the expansion's added tokens weigh
down together in BM25 (`Weights.glossary_exponent`). A neighbouring topic named outright (医保, 公积金) is found by its
own whole phrases, and what is left of the question once its words and the who-words are aside decides whether a
measure still covers it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .fusion import Weights
from .text import Expansion, Lexicon
from .tiers import _Tier

_MAX_UNKNOWN_WORDS = 3


class LexicalEvidence:
    """Reads the retriever's lexicon, weights, primary tier, neighbour names and who-words."""

    lexicon: Lexicon
    weights: Weights
    _primary: _Tier
    _neighbour_names: Sequence[tuple[str, ...]]
    _who_tokens: frozenset[str]

    def _concepts(self, expansion: Expansion, tier: _Tier | None = None) -> tuple[list[tuple[float, frozenset[str]]], float]:
        """What the question talks about, each counted once, with its IDF weight.

        A glossary word ("外卖") is one concept that any of its policy terms can cover — not five
        extra words that would let one colloquialism outweigh the rest of the question. Words the
        corpus never uses count at full weight, but at most a few of them: a long, chatty question
        ("我们是一家做食品的小厂，三十来个人…") says more about the speaker than the topic.
        """
        tier = tier or self._primary
        idf, unknown_w = tier.idf, tier.idf_unknown
        plain = list(dict.fromkeys(self.lexicon.tokens(expansion.repaired)))
        units: list[tuple[float, frozenset[str]]] = []
        for variant, terms in expansion.glossary:
            own = self.lexicon.tokens(variant) or [variant]
            plain = [t for t in plain if t not in own]
            policy_words = frozenset(self.lexicon.tokens(" ".join(terms)))
            alts = frozenset(own) | policy_words
            # The concept weighs as much as the most specific of its names: "都没有工作" is made of
            # common words but means 零就业家庭, a rare and telling term.
            weight = max([idf.get(t, unknown_w) for t in own] + [idf[t] for t in policy_words if t in idf])
            units.append((weight, alts))
        known = [t for t in plain if t in idf]
        unknown = [t for t in plain if t not in idf]
        units += [(idf[t], frozenset((t,))) for t in known]
        units += [(unknown_w, frozenset((t,))) for t in unknown]
        total = sum(idf[t] for t in known) + sum(w for w, _ in units[: len(expansion.glossary)])
        total += unknown_w * min(len(unknown), _MAX_UNKNOWN_WORDS)
        return units, total or 1.0

    def _bm25_query(self, expansion: Expansion, q_tokens: tuple[str, ...]) -> dict[float, list[str]]:
        """The expanded question's tokens grouped by their BM25 weight, a glossary expansion's words weighed down together.

        A glossary word stands for one concept, but its policy terms are many tokens (村里 → 农村劳动力 农民工 返乡
        乡村, split further by search-mode jieba): at full weight they outvote the literal, rarer words of the
        question (以工代赈, 桃源河). Each token an expansion adds weighs 1 / n**Weights.glossary_exponent for its n tokens
        (0: every token counts fully, as before; 1: the expansion counts about as much as one word). The exponent is
        chosen by eval/tune.py on the labelled questions. Tokens the question itself uses keep their full weight.
        Computed once per question; every tier's BM25 reads it."""
        exponent = self.weights.glossary_exponent
        if not exponent:
            return {1.0: list(q_tokens)}
        plain = set(self.lexicon.tokens(expansion.repaired))
        weight: dict[str, float] = {}
        for _variant, terms in expansion.glossary:
            added = [t for t in dict.fromkeys(self.lexicon.tokens(" ".join(terms))) if t not in plain]
            for t in added:
                weight[t] = max(weight.get(t, 0.0), 1.0 / len(added) ** exponent)
        by_weight: dict[float, list[str]] = {}
        for t in q_tokens:
            by_weight.setdefault(weight.get(t, 1.0), []).append(t)
        return by_weight

    @staticmethod
    def _bm25(tier: _Tier, query: dict[float, list[str]]) -> np.ndarray:
        """BM25 is a sum over query tokens: one pass per distinct weight gives the weighted sum."""
        if len(query) == 1 and 1.0 in query:
            return tier.bm25.get_scores(query[1.0])
        total = np.zeros(len(tier.idx), dtype=np.float32)
        for w, toks in query.items():
            total += np.float32(w) * tier.bm25.get_scores(toks)
        return total

    def _named_neighbour(self, expansion: Expansion) -> tuple[str, tuple[str, ...]] | None:
        """The first neighbouring topic named by one of its whole phrases, with the phrases found.

        A phrase inside a glossary variant the question uses is that variant's, not the topic's:
        「工伤险」 is the glossary's word for the policy's 意外伤害保险补贴, not 工伤."""
        text = expansion.repaired
        variants = [v for found, _ in expansion.glossary for v in found.split("、")]
        for nb, names in zip(self.lexicon.neighbours, self._neighbour_names, strict=True):
            found = tuple(x for x in names if x in text and not any(x in v and x != v for v in variants))
            if found:
                return nb.topic, found
        return None

    def _rest_coverage(self, expansion: Expansion, named: tuple[str, tuple[str, ...]], tier: _Tier | None = None) -> float:
        """Best share of the question's weight that a measure covers outside the neighbour's own
        phrases and the who-words. Normalised by the whole question, so a lone common word left
        over ("就业") cannot stand for the subject."""
        tier = tier or self._primary
        units, total = self._concepts(expansion, tier)
        own = {t for phrase in named[1] for t in self.lexicon.tokens(phrase)} | set(named[1])
        kept = [(w, alts) for w, alts in units if not (alts & own) and not (alts & self._who_tokens)]
        if not kept:
            return 0.0
        return min(1.0, float(tier.coverage(kept, total).max(initial=0.0)))
