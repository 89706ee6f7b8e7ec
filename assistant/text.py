"""Question normalisation: 繁→简, width, whitespace, homophone repair, glossary expansion, tokens.

Everything here is driven by the data in `corpus/lexicon/` so that vocabulary work never needs
a code change. Citizens type on phones with pinyin IMEs, so same-sound typos (以工待赈, 创业代款)
are the commonest error; they are repaired against the corpus vocabulary, not a generic one
(`assistant/typos.py` does the repair; the vocabulary it repairs towards is read here).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import jieba
import opencc
from cachetools import LRUCache

from .errors import CorpusError
from .typos import TypoRepair

_WS_RE = re.compile(r"\s+")
# Spaces between two Chinese characters carry no meaning in Chinese; the voice button's transcripts
# put one between every word (「俺 是 就业 困难 人员」), which hid intent cues, group names and typos.
_HAN_GAP_RE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")
_PUNCT_RE = re.compile(r"[\W_]+", re.UNICODE)
_PLACEHOLDER_RE = re.compile(r"\[[\u4e00-\u9fff]{2,6}\]")
# A glossary variant written "欠…工资" matches its parts in order with a few characters between, in
# one clause: Chinese puts aspect, amounts and durations inside a verb–object phrase (欠了三个月工资,
# 工资拖了俩月没发), so a fixed string misses most ways of saying it.
GAP = "..."  # as the file writes "…" once normalised (NFKC)
_GAP_MAX = 6
_CLAUSE_CHAR = r"[^，。？！；、,.?!;\s]"
_converter_lock = threading.Lock()
_t2s: opencc.OpenCC | None = None

# jieba logs its dictionary loading to stderr at INFO level; a CLI user should not see it.
jieba.setLogLevel(60)

# jieba reads its default dictionary (~500k words and prefixes: about 0.9 s of CPU) into every
# tokenizer it initialises. A process that loads several corpora (a publish preview beside the
# served library; a test suite) reads it once; each private tokenizer gets its own copy of the
# table (milliseconds, ~15 MB: the words themselves are shared), so user words stay private.
_default_dict_lock = threading.Lock()
_default_dict: tuple[dict[str, int], int] | None = None


def private_tokenizer() -> jieba.Tokenizer:
    """A jieba tokenizer of its own, initialised with the default dictionary."""
    global _default_dict
    with _default_dict_lock:
        if _default_dict is None:
            first = jieba.Tokenizer()
            first.initialize()
            _default_dict = (first.FREQ, first.total)
        freq, total = _default_dict
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = dict(freq), total, True
    return tokenizer


def _t2s_convert(text: str) -> str:
    global _t2s
    with _converter_lock:  # OpenCC objects are not documented as thread-safe.
        if _t2s is None:
            _t2s = opencc.OpenCC("t2s")
        return _t2s.convert(text)


def normalize(text: str) -> str:
    """Simplified script, half-width forms, single spaces, lower-case Latin."""
    text = unicodedata.normalize("NFKC", text)
    # Redaction placeholders ("[身份证号]") stand for personal data, not for what is asked.
    text = _PLACEHOLDER_RE.sub(" ", text)
    text = join_han(_t2s_convert(text))
    return _WS_RE.sub(" ", text).strip().lower()


def join_han(text: str) -> str:
    """`text` without whitespace between two Chinese characters (see _HAN_GAP_RE)."""
    return _HAN_GAP_RE.sub("", text)


def bare(text: str) -> str:
    """Text with punctuation and spaces removed: for matching greetings and short commands."""
    return _PUNCT_RE.sub("", normalize(text))


def _numbered_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the data lines of a lexicon file: no blanks, no "#" comments."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(n, ln.strip()) for n, ln in enumerate(lines, start=1) if ln.strip() and not ln.startswith("#")]


def _data_lines(path: Path) -> list[str]:
    return [ln for _, ln in _numbered_lines(path)]


@dataclass(frozen=True)
class GlossaryEntry:
    variants: tuple[str, ...]
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Neighbour:
    """A public service next to the policy that it does not cover (lexicon/neighbours.tsv)."""

    topic: str
    names: tuple[str, ...]
    description: str
    # Where to go instead (a hotline such as 12333), shown in the decline; "" when no public
    # service handles the topic (weather, chit-chat, prompt injection).
    referral: str = ""


@dataclass(frozen=True)
class Expansion:
    """What normalisation did to a question; shown to hotline staff as "why it matched"."""

    original: str
    normalized: str
    corrections: tuple[tuple[str, str], ...]  # (as typed, corpus term)
    glossary: tuple[tuple[str, tuple[str, ...]], ...]  # (variants found, "、"-joined; policy terms added)

    @property
    def repaired(self) -> str:
        """The normalised question with same-sound typos replaced by the corpus words."""
        text = self.normalized
        for typo, fix in self.corrections:
            text = text.replace(typo, fix)
        return text

    @property
    def text(self) -> str:
        """The repaired question with the glossary's policy terms appended: what retrieval reads."""
        extra = [t for _, terms in self.glossary for t in terms]
        return " ".join([self.repaired, *extra]) if extra else self.repaired


class Lexicon:
    """Glossary, jieba user dictionary, stopwords and greetings of one corpus."""

    def __init__(self, lexicon_dir: Path, corpus_texts: Iterable[str] = ()) -> None:
        self.dir = Path(lexicon_dir)
        self.glossary = tuple(self._read_glossary(self.dir / "glossary.tsv"))
        self.stopwords = frozenset(w for ln in _data_lines(self.dir / "stopwords.txt") for w in ln.split())
        self.greetings = frozenset(bare(ln) for ln in _data_lines(self.dir / "greetings.txt"))
        particles = {bare(w) for ln in _data_lines(self.dir / "greeting_particles.txt") for w in ln.split()}
        self._greeting_particles = frozenset(particles - {""})
        self.neighbours = tuple(self._read_neighbours(self.dir / "neighbours.tsv"))
        self._corpus_texts = tuple(corpus_texts)
        # A private tokenizer: jieba's global one would leak our user words into other code.
        self.tokenizer = private_tokenizer()
        userdict = self.dir / "userdict.txt"
        self._user_words = tuple(ln.split()[0] for ln in _data_lines(userdict))
        self._tok_lock = threading.Lock()
        # Tokens of texts seen before: every question re-tokenises the same quote sentences (for
        # highlights) and glossary terms, which was most of the non-embedding CPU of an answer.
        self._token_cache: LRUCache[str, tuple[str, ...]] = LRUCache(maxsize=8192)
        if userdict.exists():
            # jieba leaves a path it opened unclosed (ResourceWarning); hand it a file we close.
            with userdict.open("rb") as fh:
                self.tokenizer.load_userdict(fh)
        # A two-character glossary word must be a word of the question to be read (`_occurs`), but jieba glues one it
        # does not know to a neighbour (干代驾, 找美团): the tokenizer learns them. Longer ones are found as substrings.
        for entry in self.glossary:
            for v in entry.variants:
                if len(v) == 2 and _HAN_RUN_RE.fullmatch(v) and not self.tokenizer.FREQ.get(v):
                    self.tokenizer.add_word(v)

    @staticmethod
    def _read_neighbours(path: Path) -> Iterable[Neighbour]:
        for n, ln in _numbered_lines(path):
            cols = [c.strip() for c in ln.split("\t")]
            # The 4th column (referral) is optional and may be empty; the first three may not.
            if len(cols) not in (3, 4) or not all(cols[:3]):
                raise CorpusError(str(path), n, "需要“主题<TAB>名称|名称<TAB>描述[<TAB>转介去向]”三或四列")
            names = tuple(normalize(x) for x in cols[1].split("|") if x.strip())
            if not names:
                raise CorpusError(str(path), n, "名称列不能为空")
            referral = cols[3] if len(cols) == 4 else ""
            yield Neighbour(topic=cols[0], names=names, description=cols[2], referral=referral)

    @staticmethod
    def _read_glossary(path: Path) -> Iterable[GlossaryEntry]:
        for n, ln in _numbered_lines(path):
            left, sep, right = ln.partition("\t")
            if not sep or not right.strip():
                raise CorpusError(str(path), n, "需要“口语词<TAB>政策用语”两列")
            variants = tuple(normalize(v) for v in left.split("|") if v.strip())
            yield GlossaryEntry(variants=variants, terms=tuple(right.split()))

    def tokens(self, text: str) -> list[str]:
        """Search-mode jieba tokens minus stopwords/punctuation: the lexical vocabulary."""
        with self._tok_lock:  # jieba initialises lazily and is not safe on first concurrent use.
            cached = self._token_cache.get(text)
            if cached is None:
                cached = self._token_cache[text] = tuple(self._tokens(self.tokenizer.lcut_for_search(text)))
        return list(cached)  # a fresh list: callers may change theirs

    def _tokens(self, raw: list[str]) -> list[str]:
        out = []
        for tok in raw:
            tok = tok.strip().lower()
            if tok and not _PUNCT_RE.fullmatch(tok) and tok not in self.stopwords:
                out.append(tok)
        return out

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Multi-character words of the corpus: the targets of homophone repair."""
        words = set(self._user_words)
        for text in self._corpus_texts:
            words.update(t for t in self.tokens(text) if len(t) >= 2 and _HAN_RUN_RE.fullmatch(t))
        for entry in self.glossary:
            words.update(t for t in entry.terms if _HAN_RUN_RE.fullmatch(t))
        return frozenset(words)

    @cached_property
    def _spoken_words(self) -> frozenset[str]:
        """The glossary's own colloquial names of three characters or more (公益岗, 零工市场): typed as often as
        the policy's terms, and as often mistyped (公易岗). Shorter ones are left out: two same-sound characters
        are too often another word."""
        return frozenset(
            v for entry in self.glossary for v in entry.variants if len(v) >= 3 and _HAN_RUN_RE.fullmatch(v)
        ) - self.vocabulary

    @cached_property
    def _typos(self) -> TypoRepair:
        self.tokenizer.check_initialized()
        return TypoRepair(self.vocabulary, self._spoken_words, self.tokenizer.FREQ, frozenset(w for w in self.stopwords if len(w) == 1))

    def corrections(self, text: str) -> tuple[tuple[str, str], ...]:
        """Same-sound repairs of spans that are not words themselves (assistant/typos.py)."""
        return self._typos.corrections(text)

    def expand(self, question: str) -> Expansion:
        normalized = normalize(question)
        corrections = self.corrections(normalized)
        repaired = Expansion(question, normalized, corrections, ()).repaired
        spans = self._word_spans(repaired)
        hits = []
        for entry in self._glossary_candidates(repaired):
            # All variants present ("工钱…包工头…"): each is the same concept, and none of them
            # may be left behind as an unknown word that dilutes the question. A gap variant is
            # reported as the words said (欠了三个月工资), so that none of them is read as a subject.
            said = (self._said(v, repaired, spans) for v in entry.variants)
            found = list(dict.fromkeys(w for w in said if w))
            if found:
                hits.append(("、".join(found), entry.terms))
        return Expansion(question, normalized, corrections, tuple(hits))

    @cached_property
    def _variants_by_first_char(self) -> dict[str, list[tuple[int, str]]]:
        table: dict[str, list[tuple[int, str]]] = {}
        for i, entry in enumerate(self.glossary):
            for v in entry.variants:
                head = v.split(GAP)[0]  # a gap variant is looked for by its first part
                if head:
                    table.setdefault(head[0], []).append((i, head))
        return table

    def _glossary_candidates(self, text: str) -> list[GlossaryEntry]:
        """Glossary entries with at least one variant in `text`, in glossary order.

        Only a prefilter — `_occurs` still decides — but it visits the question's characters
        instead of every variant of every entry, which was the bulk of `expand`."""
        table = self._variants_by_first_char
        found = {i for pos, ch in enumerate(text) for i, v in table.get(ch, ()) if text.startswith(v, pos)}
        return [self.glossary[i] for i in sorted(found)]

    def _word_spans(self, text: str) -> list[tuple[int, int]]:
        with self._tok_lock:
            words = self.tokenizer.lcut(text)
        spans, pos = [], 0
        for w in words:
            spans.append((pos, pos + len(w)))
            pos += len(w)
        return spans

    @staticmethod
    def _said(variant: str, text: str, spans: list[tuple[int, int]]) -> str | None:
        """The words of `text` that say `variant`, or None."""
        if GAP not in variant:
            return variant if Lexicon._occurs(variant, text, spans) else None
        parts = [re.escape(p) for p in variant.split(GAP) if p]
        m = re.search(f"{_CLAUSE_CHAR}{{0,{_GAP_MAX}}}?".join(parts), text)
        return m.group(0) if m else None

    @staticmethod
    def _occurs(variant: str, text: str, spans: list[tuple[int, int]]) -> bool:
        """A two-character variant must not sit inside a longer word: "租房" is not in "公租房".
        (It may straddle two words: jieba cuts "没到账" as 没到|账, and "到账" is still meant.)"""
        if len(variant) > 2:
            return variant in text
        start = text.find(variant)
        while start != -1:
            end = start + len(variant)
            if not any(a <= start and end <= b and b - a > len(variant) for a, b in spans):
                return True
            start = text.find(variant, start + 1)
        return False

    def is_greeting(self, question: str) -> bool:
        """True when the message is nothing but greetings/thanks ("您好，在吗？", "好的，谢谢")."""
        text = bare(question)
        if not text:
            return False
        # Whether the message splits wholly into greeting phrases (greetings.txt) and the particles that surround them
        # (greeting_particles.txt: 太感谢了, 好嘞, 谢谢你啊), with one greeting at least. Split, not replaced phrase by
        # phrase: 「太感谢了」 holds both 感谢 and 谢了, and removing the wrong one first would leave 「太感」.
        # reach[i] is None (position i not reachable), False (reached by particles only) or True (with a greeting).
        reach: list[bool | None] = [None] * (len(text) + 1)
        reach[0] = False
        for i in range(len(text)):
            if reach[i] is None:
                continue
            for words, greeting in ((self.greetings, True), (self._greeting_particles, False)):
                for w in words:
                    if w and text.startswith(w, i):
                        j = i + len(w)
                        reach[j] = bool(reach[j]) or reach[i] or greeting
        return bool(reach[-1])
