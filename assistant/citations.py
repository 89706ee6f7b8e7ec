"""Citations: what a question points at directly — a measure by its number, a department by its name.

A direct reference is not evidence to weigh (assistant/fusion.py): 「第十四条」 is answered with 第十四条 whatever else
the question shares with other measures, and 「区妇联负责什么」 with that department's measures. Read from the primary
document: its measures' numbers, its parts' numbered paragraphs (组织保障第二点), its departments and their short names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from jieba import posseg

from .corpus import Chunk, Corpus, cn_to_int

_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")
_NUM = r"([0-9]{1,2}|[一二三四五六七八九十两]{1,3})"
# "第七条", "第14项", "措施7", "7.", "十四条": forms in which callers cite a measure.
_NUMBER_RES = (
    re.compile(rf"第\s*{_NUM}\s*(?:条|项|点|款|个措施|个|项措施|条措施)?(?![次期年批届季月名天位号周])"),
    re.compile(rf"(?:措施|条款|条目|政策条款)\s*{_NUM}(?![0-9])"),
    re.compile(rf"(?<![0-9.])^{_NUM}\s*(?:[.．、]|条|项)"),
    re.compile(rf"[(（]{_NUM}[)）]"),
    re.compile(rf"(?<![第0-9一二三四五六七八九十哪每这那几]){_NUM}\s*(?:条|项措施)(?!件)"),
)


def _counts_a_noun(rest: str) -> bool:
    """「一条生产线」「第一套房」「两条路」: the numeral counts the noun after it (条 and 套 as measure
    words), it does not cite a measure. A citation is followed by what is asked of it (是/讲/的/里) or
    nothing. jieba's part-of-speech tags tell the two apart; 「7条里」 is cut as the noun 条里, so only a
    noun that starts after the match counts."""
    if not rest or not _HAN_RUN_RE.match(rest):
        return False
    first = next(iter(posseg.cut(rest[:8])), None)
    return first is not None and first.flag.startswith("n") and first.word[0] not in "里中内"


class Citations:
    def __init__(self, corpus: Corpus) -> None:
        self._measures_by_number = {c.number: c for c in corpus.primary_doc.measures}
        self._unit_aliases = self._build_unit_aliases(corpus.units)
        # Numbers said together with a part's name ("组织保障第二点") index that part's paragraphs.
        self._parts: dict[str, dict[int, Chunk]] = {}
        for c in corpus.chunks:
            if c.kind == "org" and c.number is not None and c.doc == corpus.primary:
                name = c.section.split("、", 1)[-1]
                self._parts.setdefault(name, {})[c.number] = c

    @staticmethod
    def _build_unit_aliases(units: Sequence[str]) -> list[tuple[str, str]]:
        aliases: dict[str, str] = {}
        for unit in units:
            aliases[unit] = unit
            for prefix in ("城阳区", "区委", "区", "各"):
                short = unit.removeprefix(prefix)
                if short != unit and len(short) >= 3:
                    aliases.setdefault(short, unit)
        # Longest first so that "区人力资源社会保障局" wins over any shorter alias inside it.
        return sorted(aliases.items(), key=lambda kv: -len(kv[0]))

    def numbers(self, text: str) -> tuple[Chunk, ...]:
        """Chunks cited by number: measures, or a part's paragraphs when the part is named."""
        table: dict[int, Chunk] = self._measures_by_number
        for name, paragraphs in self._parts.items():
            if name in text:
                table = paragraphs
                text = text.replace(name, " ")
        found: list[Chunk] = []
        for rx in _NUMBER_RES:
            for m in rx.finditer(text):
                # 「第7条措施」 cites whatever follows; 「第一套房」「一条生产线」 count.
                cites = m[0].startswith("第") and m[0][-1] in "条项点款施"
                if not cites and _counts_a_noun(text[m.end() :]):
                    continue
                n = cn_to_int(m[1])
                if n is not None and n in table and table[n] not in found:
                    found.append(table[n])
        return tuple(found)

    def units(self, text: str) -> tuple[str, ...]:
        """Departments the text names (by full name or a short alias), longest names first."""
        found: list[str] = []
        rest = text
        for alias, unit in self._unit_aliases:
            if alias in rest:
                rest = rest.replace(alias, " ")
                if unit not in found:
                    found.append(unit)
        return tuple(found)


__all__ = ["Citations"]
