"""Same-sound typo repair: citizens type on phones with pinyin keyboards, so 以工待赈, 创业代款 and 公易岗 arrive
for 以工代赈, 创业贷款 and 公益岗. A span is repaired to the corpus word (or the glossary's spoken name) that sounds the
same — exactly, or over three characters or more as the keyboard's fuzzy-sound setting hears it (农名工 → 农民工) —
unless the span is a real word itself or cuts through one. Nothing is repaired towards a word the corpus and
glossary do not know, so the repair can only make a question read more like the policy, never invent a term.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property

from pypinyin import lazy_pinyin

_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")
_NUMERAL_RE = re.compile(r"[零〇一二两三四五六七八九十百千万]")
_FUZZY_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
# Longest span tried: the corpus's longest common names (创业担保贷款) are six characters.
MAX_SPAN = 6


def fuzzy_syllable(syllable: str) -> str:
    """A pinyin syllable as the fuzzy-sound setting of pinyin keyboards (模糊音) types it: -ing/-in, -eng/-en,
    -ang/-an and zh/z, ch/c, sh/s are one — the distinctions many northern and southern speakers do not make."""
    for long, short in _FUZZY_INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    for long, short in _FUZZY_FINALS:
        if syllable.endswith(long):
            return syllable[: -len(long)] + short
    return syllable


class TypoRepair:
    def __init__(
        self,
        vocabulary: frozenset[str],
        spoken: frozenset[str],
        word_freq: Mapping[str, int],
        function_chars: frozenset[str],
    ) -> None:
        """`vocabulary`: the corpus's words (the targets, preferred on a tie); `spoken`: the glossary's colloquial
        names; `word_freq`: the tokenizer's dictionary (what counts as a real word); `function_chars`: one-character
        stopwords (是, 的, 了)."""
        self.vocabulary = vocabulary
        self.spoken = spoken
        self.word_freq = word_freq
        self.function_chars = function_chars

    def _table(self, fuzzy: bool) -> dict[tuple[str, ...], str]:
        table: dict[tuple[str, ...], str] = {}
        # The corpus's words first: where a spoken name sounds like one of them, the policy's spelling wins.
        for words in (self.vocabulary, self.spoken):
            for word in sorted(words, key=lambda w: (-len(w), w)):
                if fuzzy and len(word) < 3:
                    continue
                pys = lazy_pinyin(word)
                table.setdefault(tuple(fuzzy_syllable(p) for p in pys) if fuzzy else tuple(pys), word)
        return table

    @cached_property
    def by_pinyin(self) -> dict[tuple[str, ...], str]:
        return self._table(fuzzy=False)

    @cached_property
    def by_fuzzy_pinyin(self) -> dict[tuple[str, ...], str]:
        """Words of three characters or more by their fuzzy pinyin (see `fuzzy_syllable`)."""
        return self._table(fuzzy=True)

    def is_known_word(self, text: str) -> bool:
        return text in self.vocabulary or bool(self.word_freq.get(text))

    def _changes_a_function_char(self, span: str, word: str) -> bool:
        """A two-character span whose changed edge is a function character (是, 的, 了, 也…) is two words, not a
        typo: 「订单班是」 is 订单班|是, not 订单|办事; 「找活的」 is not 获得. (Longer spans are typos of a longer word,
        where such an edge is part of the word: 之播带岗 → 直播带岗.)"""
        if len(span) != 2:
            return False
        chars = self.function_chars
        return (span[0] != word[0] and span[0] in chars) or (span[-1] != word[-1] and span[-1] in chars)

    def _target(self, span: str, py: list[str]) -> str | None:
        word = self.by_pinyin.get(tuple(py))
        if word is None and len(span) >= 3:
            # Pinyin keyboards' fuzzy syllables (农名工 for 农民工: -in/-ing), only over three characters or more,
            # where a same-sounding run that is no word is a typo, not another word.
            word = self.by_fuzzy_pinyin.get(tuple(fuzzy_syllable(p) for p in py))
        # Numbers are typed deliberately: "措施二是…" must not become "二十".
        if word and any(a != b and (_NUMERAL_RE.match(a) or _NUMERAL_RE.match(b)) for a, b in zip(span, word, strict=True)):
            return None
        return word

    def corrections(self, text: str) -> tuple[tuple[str, str], ...]:
        """Same-sound repairs of spans that are not words themselves (longest spans first)."""
        found: list[tuple[str, str]] = []
        known = self.is_known_word
        for run in _HAN_RUN_RE.findall(text):
            py = lazy_pinyin(run)
            i = 0
            while i < len(run):
                for size in range(min(MAX_SPAN, len(run) - i), 1, -1):
                    span = run[i : i + size]
                    word = self._target(span, py[i : i + size])
                    # A span that is itself a real word ("事业" vs 失业) is what the user meant, and
                    # one that cuts through a real word ("是|事业") is not a typo at all.
                    if (
                        word
                        and word != span
                        and not self._changes_a_function_char(span, word)
                        and not known(span)
                        and not (i > 0 and known(run[i - 1 : i + 1]))
                        and not (i + size < len(run) and known(run[i + size - 1 : i + size + 1]))
                    ):
                        found.append((span, word))
                        i += size
                        break
                else:
                    i += 1
        return tuple(found)


__all__ = ["TypoRepair", "fuzzy_syllable"]
