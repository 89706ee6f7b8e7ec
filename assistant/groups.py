"""Target groups ("我是退役军人，能享受哪些政策？") and which measures serve them.

The groups and the words for them are data (`corpus/lexicon/groups.tsv`); which measures serve a
group is computed from the measure texts — a measure serves a group when one of the group's
policy words occurs in it — so an amended document needs no code change, and the table can be
reviewed (`policy-assistant groups`, `GET /api/groups`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .corpus import Chunk, Corpus
from .errors import CorpusError
from .text import normalize


@dataclass(frozen=True)
class Group:
    name: str
    variants: tuple[str, ...]  # how people say it (normalised)
    policy_words: tuple[str, ...]  # how the policy text says it
    measures: tuple[str, ...]  # ids of the measures whose text names the group, in document order
    # Of those, the ones that name the group only as someone's hire (「小微企业招用…高校毕业生」): they
    # benefit the employer, so a group answer lists them after the group's own (lexicon/employers.txt).
    employer_side: tuple[str, ...] = ()

    def sentence_words(self) -> tuple[str, ...]:
        return self.policy_words


_CLAUSE_RE = re.compile(r"[。；;，,：:]")


def employer_addressed(text: str, words: Sequence[str], verbs: Sequence[str]) -> bool:
    """True when every clause of `text` naming the group (any of `words`) names it after one of
    `verbs` (招用, 吸纳…): the group is hired, someone else is paid."""
    clauses = [c for c in _CLAUSE_RE.split(text) if any(w in c for w in words)]
    if not clauses or not verbs:
        return False
    hired = re.compile("(?:" + "|".join(map(re.escape, verbs)) + ")")
    return all(
        any((m := c.find(w)) >= 0 and hired.search(c[:m]) for w in words) for c in clauses
    )


def _hires(measures: Sequence[Chunk], words: Sequence[str], verbs: Sequence[str]) -> bool:
    if not verbs:
        return False
    rx = re.compile(
        "(?:" + "|".join(map(re.escape, words)) + r")[^。；;，,、]{0,12}?(?:" + "|".join(map(re.escape, verbs)) + ")"
    )
    return any(rx.search(c.text) for c in measures)


def read_employer_verbs(path: Path) -> tuple[str, ...]:
    if not path.exists():
        return ()
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(w for ln in lines if ln.strip() and not ln.startswith("#") for w in ln.split())


def read_groups(path: Path, corpus: Corpus) -> tuple[Group, ...]:
    if not path.exists():
        return ()
    verbs = read_employer_verbs(path.parent / "employers.txt")
    measures = [c for d in corpus.documents for c in d.measures]
    groups = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) != 3 or not all(cols):
            raise CorpusError(str(path), n, "需要“群体<TAB>口语说法|…<TAB>政策用语|…”三列")
        name = cols[0]
        variants = tuple(dict.fromkeys([normalize(name), *(normalize(v) for v in cols[1].split("|") if v.strip())]))
        words = tuple(w.strip() for w in cols[2].split("|") if w.strip())
        unused = [w for w in words if not any(w in c.text for c in measures)]
        if unused:
            raise CorpusError(str(path), n, f"政策用语在任何措施中都没有出现: {'、'.join(unused)}")
        served = tuple(c.id for c in measures if any(w in c.text for w in words))
        # A group that does the hiring itself (「小微企业招用…」, 「用人单位…招用」) is the employer side.
        employer = () if _hires(measures, words, verbs) else tuple(
            c.id for c in measures if c.id in served and employer_addressed(c.text, words, verbs)
        )
        groups.append(Group(name, variants, words, served, employer))
    return tuple(groups)


class GroupIndex:
    def __init__(self, groups: tuple[Group, ...]) -> None:
        self.groups = groups
        self.by_name = {g.name: g for g in groups}
        # Longest variant first: "退伍军人" before "军人", "小微企业" before "企业".
        self._variants = sorted(((v, g) for g in groups for v in g.variants), key=lambda vg: -len(vg[0]))

    def named_in(self, text: str) -> tuple[Group, ...]:
        """Groups a question names, in the order it names them (each variant consumed once)."""
        text = normalize(text)
        found: list[tuple[int, Group]] = []
        for variant, group in self._variants:
            pos = text.find(variant)
            if pos >= 0:
                text = text[:pos] + " " * len(variant) + text[pos + len(variant) :]
                if all(g is not group for _, g in found):
                    found.append((pos, group))
        return tuple(g for _, g in sorted(found, key=lambda pg: pg[0]))

    def words(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self._variants)

    def get(self, name: str) -> Group | None:
        return self.by_name.get(name) or self.by_name.get(normalize(name))

    def for_chunk(self, chunk: Chunk) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups if chunk.id in g.measures)


__all__ = ["Group", "GroupIndex", "employer_addressed", "read_groups"]
