"""Subject coverage: is what the question is about in the measure at all?

「孩子上幼儿园有补助吗」 shares 补助 with half the policy, and a ranking always has a best chunk. What
the question is *about* is what is left once two kinds of words are set aside:

* generic words (补贴, 申请, 多少钱, 城阳, 有没有…: `corpus/lexicon/generic.txt`, by their role — they
  could end a question about any benefit), and stopwords;
* words for who is asking (我是宝妈, 高校毕业生, 农民工…: the variants of `groups.tsv` and the words of
  `self_descriptions.txt`) — 「宝妈带娃有育儿补助吗」 is about 育儿补助, not about 妇女.

The rest is the subject: 幼儿园, 二胎, 新能源车. A measure covers a subject term when the term (or, for
a word of the reviewed glossary, one of its policy terms) occurs in the measure's tokens or text.
Every term weighs its IDF over the corpus; a word the corpus never uses weighs like the rarest, so a
subject nobody listed anywhere (幼儿园, 光伏, 托育) is uncovered by construction — no list of
uncovered subjects is needed. The decision model (assistant/decision.py) reads the coverage as
features; nothing here decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .text import Expansion, Lexicon, normalize

_HAN_RE = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class SubjectTerm:
    word: str  # as the question says it (a glossary variant, or a token)
    weight: float  # IDF (unknown words: the rarest word's)
    alts: frozenset[str]  # the tokens that cover it: its own, and its glossary policy terms


@dataclass(frozen=True)
class SubjectCoverage:
    """Per chunk, what share of the subject's weight it covers; and the subject itself."""

    terms: tuple[SubjectTerm, ...]
    share: np.ndarray  # per chunk, 0–1 (1 when the question has no subject of its own)
    uncovered_max: np.ndarray  # per chunk, the heaviest uncovered term's weight / the rarest word's
    covered_max: np.ndarray  # per chunk, the heaviest covered term's weight / the rarest word's
    unknown: int  # subject words the corpus never uses

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(t.word for t in self.terms)


def read_words(path: Path) -> frozenset[str]:
    """Space-separated words of a lexicon file, normalised; "#" lines are comments."""
    if not path.exists():
        return frozenset()
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            words.update(normalize(w) for w in line.split())
    return frozenset(words)


class SubjectReader:
    def __init__(
        self,
        lexicon: Lexicon,
        idf: dict[str, float],
        idf_unknown: float,
        chunk_tokens: Sequence[frozenset[str]],
        chunk_texts: Sequence[str],
        group_variants: Iterable[str],
        strip: Callable[[str], str] = lambda text: text,
    ) -> None:
        """`strip` removes what a question asks *for* (多少钱, 什么时候, 找哪个部门: the intent cues
        of intents.tsv) and words pointing back (这个), before the subject is read."""
        self.strip = strip
        self.lexicon = lexicon
        self.idf = idf
        self.idf_unknown = idf_unknown
        self.chunk_tokens = chunk_tokens
        self.chunk_texts = chunk_texts
        generic = read_words(lexicon.dir / "generic.txt")
        self.generic = generic | frozenset(t for w in generic for t in lexicon.tokens(w))
        variants = frozenset(normalize(v) for v in group_variants)
        # Group names set a glossary word aside (宝妈 → 妇女); self-descriptions only plain tokens,
        # since some of them are subjects the glossary maps to a measure (甘肃 → 劳务对接协作).
        self.group_words = variants | frozenset(t for v in variants for t in lexicon.tokens(v))
        described = read_words(lexicon.dir / "self_descriptions.txt")
        self.who = self.group_words | described | frozenset(t for w in described for t in lexicon.tokens(w))
        # One-character function words (有, 没, 吗, 我…: stopwords.txt) that jieba glues to a
        # neighbour in colloquial text (车有, 我刚, 不发): trimmed off a subject word's edges.
        self.function_chars = frozenset(w for w in lexicon.stopwords if len(w) == 1)

    def _trim(self, token: str) -> str:
        if token in self.idf or self.lexicon.tokenizer.FREQ.get(token):
            return token  # a real word (等级, 有效期), not a glued fragment
        while len(token) > 1 and token[0] in self.function_chars:
            token = token[1:]
        while len(token) > 1 and token[-1] in self.function_chars:
            token = token[:-1]
        return token

    def _aside(self, token: str) -> bool:
        return token in self.generic or token in self.who or not _HAN_RE.search(token) and not token.isdigit()

    def terms(self, expansion: Expansion) -> tuple[SubjectTerm, ...]:
        """The question's subject terms, each once, glossary concepts first."""
        tokens = self.lexicon.tokens
        plain = list(dict.fromkeys(tokens(self.strip(expansion.repaired))))
        out: list[SubjectTerm] = []
        for found, policy_terms in expansion.glossary:
            variants = found.split("、")
            own = {t for v in variants for t in (tokens(v) or [v])}
            plain = [t for t in plain if t not in own and not any(t in v or v in t for v in variants)]
            # Set aside when the words said are generic or name the asker's group (宝妈 → 妇女); not
            # when only their pieces are: 「都没有工作」 is made of generic words but means 零就业家庭.
            if all(v in self.group_words or v in self.generic for v in variants):
                continue
            # Covered where the words said or the policy's own terms for them occur, whole: the pieces
            # of 拖欠农民工工资 (农民工, 工资) occur in measures that say nothing of unpaid wages.
            alts = frozenset(variants) | frozenset(policy_terms)
            weight = max(self.idf.get(t, self.idf_unknown) for t in own | {found}) if own else self.idf_unknown
            # A concept the glossary explains weighs like its most specific policy term at least.
            weight = max([weight, *(self.idf[t] for t in alts if t in self.idf)])
            out.append(SubjectTerm(found, weight, alts))
        # Search-mode tokens repeat the pieces of a word (新能源 → 能源, 新能源): the longest stands.
        kept = list(dict.fromkeys(self._trim(t) for t in plain))
        kept = [t for t in kept if not self._aside(t) and t not in self.function_chars]
        kept = [t for t in kept if not any(t != u and t in u for u in kept)]
        for t in kept:
            # One character left over (干, 住, 吃) is a fragment of colloquial phrasing more often
            # than a subject; a real one-character subject comes with a word (养猪, 买车 → 新能源).
            if len(t) == 1 and not t.isdigit():
                continue
            out.append(SubjectTerm(t, self.idf.get(t, self.idf_unknown), self._heads(t)))
        return tuple(out)

    def _heads(self, token: str) -> frozenset[str]:
        """The token and its head: Chinese compounds are head-final, so 「高级技师」 is a 技师 and is
        covered where 技师 is. Only a head the corpus uses, of two characters or more."""
        heads = {token}
        if token not in self.idf:
            for piece in self.lexicon.tokens(token):
                if piece != token and len(piece) >= 2 and token.endswith(piece) and piece in self.idf:
                    heads.add(piece)
        return frozenset(heads)

    def _covered(self, term: SubjectTerm, i: int) -> bool:
        toks, text = self.chunk_tokens[i], self.chunk_texts[i]
        return bool(term.alts & toks) or any(len(a) >= 2 and a in text for a in term.alts)

    def coverage(self, expansion: Expansion, rows: Iterable[int] | None = None) -> SubjectCoverage:
        """Per chunk: the subject's coverage. Only the chunks at `rows` are measured (all by default); the others are
        left at 0 — the retriever weighs the primary's chunks and the related rules' candidates alone, so a question
        costs the same with a thousand related documents as with one."""
        terms = self.terms(expansion)
        n = len(self.chunk_tokens)
        if not terms:
            zeros = np.zeros(n, dtype=np.float32)
            return SubjectCoverage((), np.ones(n, dtype=np.float32), zeros, zeros, 0)
        total = sum(t.weight for t in terms)
        share = np.zeros(n, dtype=np.float32)
        uncovered = np.zeros(n, dtype=np.float32)
        covered = np.zeros(n, dtype=np.float32)
        for i in range(n) if rows is None else (int(r) for r in rows):
            hit = [self._covered(t, i) for t in terms]
            share[i] = sum(t.weight for t, h in zip(terms, hit, strict=True) if h) / total
            uncovered[i] = max((t.weight for t, h in zip(terms, hit, strict=True) if not h), default=0.0)
            covered[i] = max((t.weight for t, h in zip(terms, hit, strict=True) if h), default=0.0)
        unknown = sum(1 for t in terms if not (t.alts & self.idf.keys()))
        return SubjectCoverage(terms, share, uncovered / self.idf_unknown, covered / self.idf_unknown, unknown)


__all__ = ["SubjectCoverage", "SubjectReader", "SubjectTerm", "read_words"]
