"""Years and "is it still current?" in a question.

The document is dated 2024-07-16 and some measures state deadlines (至2025年12月31日, 2024年年底).
A question about another year (「2020年灵活就业补贴」) or about what is current (「…最新」, 「现在还有吗」)
is still answered from the document, but the answer has to say how the document relates to that
period; this module only reads the question. Written years are parsed here (they are grammar);
the words for "latest" and for relative years (去年, 明年) are data in corpus/lexicon/periods.tsv.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from .clock import district_today
from .corpus import Chunk, Deadline
from .errors import CorpusError
from .text import normalize

# Years a question about an employment policy can mean; outside this, "2000元" or "1500个" are not years.
_FIRST_YEAR, _LAST_YEAR = 1990, 2099
# "2020年", "2021城阳…", "2024-07": four digits not inside a longer number, not followed by a unit.
_UNIT_AFTER = r"元|万|千|百|个|人|名|家|间|处|所|批|次|份|%|％|号|位|分|米|亩|户|套|岁"
_YEAR4_RE = re.compile(rf"(?<![0-9.])((?:19|20)[0-9]{{2}})(?![0-9.]|\s*(?:{_UNIT_AFTER}))")
# "二〇二一年", "二零二四年".
_YEAR_CN_RE = re.compile(r"([一二][〇零一二三四五六七八九]{3})\s*年")
# "21年城阳…": two digits only where a year is meant — at the start, after a space or punctuation,
# or after a preposition — and not a duration ("10年以上", "工作10年了", "离校2年内").
_YEAR2_RE = re.compile(
    r"(?:^|(?<=[\s,，。、;；:：(（]|[在是于从到至自]))([0-9]{2})\s*年(?!内|以上|以下|多|左右|后|以后|前|以前|来|了|起|之内|里)"
)
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}

# Deadlines are the district's: 「至2025年12月31日」 ends at midnight in Chengyang, not in UTC (at
# 07:00 Beijing time on 2026-01-01 the server's UTC date is still 2025-12-31) — hence assistant.clock.


def lapsed(chunk: Chunk, today: dt.date) -> tuple[Deadline, ...]:
    """The deadlines `chunk` states that have passed by `today`, one per sentence, in text order.

    A deadline belongs to the sentence that states it: in 第7条 the tax preference ends
    「至2025年12月31日」 while the sentence after it (the graduates' subsidy) states no end, so
    whatever marks "expired" must mark that sentence, not the measure."""
    seen: dict[str, Deadline] = {}
    for dl in chunk.deadlines:
        if dl.date < today:
            seen.setdefault(dl.sentence, dl)
    return tuple(seen.values())


@dataclass(frozen=True)
class PeriodVerdict:
    """`years`: the calendar years the question names, in order of appearance; `latest`: it asks
    whether something is current or still in force."""

    years: tuple[int, ...]
    latest: bool


@dataclass(frozen=True)
class PeriodWords:
    latest: tuple[str, ...]
    relative: tuple[tuple[str, int], ...]  # (word, offset from the current year), longest word first


def read_period_words(path: Path) -> PeriodWords:
    latest: tuple[str, ...] = ()
    relative: list[tuple[str, int]] = []
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            role, sep, rest = line.partition("\t")
            if not sep or role.strip() not in {"latest", "relative"} or not rest.split():
                raise CorpusError(str(path), n, "需要“latest|relative<TAB>词 词 …”两列")
            if role.strip() == "latest":
                latest = tuple(normalize(w) for w in rest.split())
                continue
            for entry in rest.split():
                word, eq, offset = entry.partition("=")
                if not eq or not re.fullmatch(r"[+-]?[0-9]+", offset):
                    raise CorpusError(str(path), n, f"相对年份应写作“去年=-1”: {entry}")
                relative.append((normalize(word), int(offset)))
    relative.sort(key=lambda wo: -len(wo[0]))
    return PeriodWords(latest, tuple(relative))


class Periods:
    def __init__(self, words: PeriodWords) -> None:
        self.words = words

    @classmethod
    def load(cls, lexicon_dir: Path) -> Periods:
        return cls(read_period_words(Path(lexicon_dir) / "periods.tsv"))

    def read(self, question: str, today: dt.date | None = None) -> PeriodVerdict:
        """Years named in the question (relative ones resolved against `today`) and whether it asks
        what is current."""
        text = normalize(question)
        today = today or district_today()
        found: list[tuple[int, int]] = []  # (position, year)
        for m in _YEAR4_RE.finditer(text):
            found.append((m.start(), int(m[1])))
        for m in _YEAR_CN_RE.finditer(text):
            found.append((m.start(), int("".join(str(_CN_DIGITS[c]) for c in m[1]))))
        for m in _YEAR2_RE.finditer(text):
            found.append((m.start(1), 2000 + int(m[1])))
        rest = text
        for word, offset in self.words.relative:
            pos = rest.find(word)
            while pos != -1:
                found.append((pos, today.year + offset))
                # Blank it out so that 本年度 is not read again as 本年.
                rest = rest[:pos] + " " * len(word) + rest[pos + len(word) :]
                pos = rest.find(word, pos + len(word))
        years = tuple(dict.fromkeys(y for _, y in sorted(found) if _FIRST_YEAR <= y <= _LAST_YEAR))
        latest = any(w in text for w in self.words.latest)
        return PeriodVerdict(years=years, latest=latest)
