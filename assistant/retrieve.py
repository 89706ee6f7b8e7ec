"""Question → ranked hits, with a decision whether the policy covers the question at all.

Four kinds of evidence, each cheap and explainable to a hotline operator:
  number   "第七条", "措施7", "7." — a direct reference to a measure;
  unit     a department named in the question ("区妇联负责什么") — the measures it leads;
  lexical  BM25 over jieba tokens of the glossary-expanded question;
  semantic cosine similarity of e5 vectors, best over the chunk and each of its sentences.
They are ranked by a weighted sum whose weights were chosen by measurement (eval/tune.py over
eval/faq.jsonl; the held-out file is never used for this). Whether anything matched is decided from
absolute evidence — how much of the question's vocabulary and of its subject (assistant/subject.py)
the best chunk covers, how similar it is, how near a neighbouring service is — by a logistic
regression fitted by cross-validation (assistant/decision.py, eval/fit_decision.py), because a
relative score always has a "best" chunk, even for 火锅.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence

import numpy as np
from cachetools import LRUCache

from .clock import district_today
from .corpus import Chunk, Corpus, cn_to_int
from .decision import DecisionModel, load_decision
from .embed import Embedder
from .errors import EmbedderError
from .fusion import Evidence, Retrieval, Weights, decide
from .groups import read_groups
from .index import LoadedIndex, lexical_text
from .intent import IntentReader
from .subject import SubjectReader
from .text import Expansion, Lexicon, normalize

_NUM = r"([0-9]{1,2}|[一二三四五六七八九十两]{1,3})"
# "第七条", "第14项", "措施7", "7.", "十四条": forms in which callers cite a measure.
_NUMBER_RES = (
    re.compile(rf"第\s*{_NUM}\s*(?:条|项|点|款|个措施|个|项措施|条措施)?(?![次期年批届季月名天位号周])"),
    re.compile(rf"(?:措施|条款|条目|政策条款)\s*{_NUM}(?![0-9])"),
    re.compile(rf"(?<![0-9.])^{_NUM}\s*(?:[.．、]|条|项)"),
    re.compile(rf"[(（]{_NUM}[)）]"),
    re.compile(rf"(?<![第0-9一二三四五六七八九十哪每这那几]){_NUM}\s*(?:条|项措施)(?!件)"),
)
# Asking what a department is responsible for, rather than about a topic that mentions it.
_DUTY_RE = re.compile(r"负责|管|职责|牵头|分工|哪些(?:措施|工作|事|任务|条)|干什么|做什么|干啥|做啥|涉及")


_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")
_MAX_UNKNOWN_WORDS = 3
# Document priors (see Retriever._document_prior): a related rule must show clearly more evidence than the primary's
# best chunk to outrank it; a lapsed one more still. Checked by eval: with the fixtures added to a corpus copy the
# primary's FAQ figures move by no more than the table in the README reports.
RELATED_PRIOR = 0.85
LAPSED_PRIOR = 0.6


def _ngrams(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(len(text) - n + 1)]


class Retriever:
    def __init__(
        self,
        corpus: Corpus,
        lexicon: Lexicon,
        index: LoadedIndex,
        embedder: Embedder | None,
        weights: Weights | None = None,
        use_lexical: bool = True,
        use_dense: bool = True,
        model: DecisionModel | None | bool = True,
    ) -> None:
        """`model`: the fitted decision; True reads corpus/decision.json, False/None uses the hand
        thresholds of `Weights` (what eval/fit_decision.py measures the model against)."""
        self.corpus = corpus
        self.lexicon = lexicon
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        self.use_lexical = use_lexical
        self.use_dense = use_dense and embedder is not None
        self.chunks = corpus.chunks
        self._primary_mask = np.array([c.doc == corpus.primary for c in self.chunks], dtype=bool)
        self._prior_day: object = None
        self._prior = np.ones(len(self.chunks), dtype=np.float32)
        self._pos = {c.id: i for i, c in enumerate(self.chunks)}
        self._row_chunk = np.array([self._pos[r.chunk] for r in index.rows])
        self._chunk_tokens = [frozenset(lexicon.tokens(lexical_text(c))) for c in self.chunks]
        self._chunk_texts = [lexical_text(c) for c in self.chunks]
        n = len(self.chunks)
        df: dict[str, int] = {}
        for toks in self._chunk_tokens:
            for t in toks:
                df[t] = df.get(t, 0) + 1
        self._idf = {t: math.log((n + 1) / (d + 0.5)) for t, d in df.items()}
        # Unknown words weigh like the rarest: "火锅" is strong evidence the question is elsewhere.
        self._idf_unknown = math.log((n + 1) / 0.5)
        self._measures_by_number = {c.number: c for c in corpus.primary_doc.measures}
        self._unit_aliases = self._build_unit_aliases(corpus.units)
        # Numbers said together with a part's name ("组织保障第二点") index that part's paragraphs.
        self._parts: dict[str, dict[int, Chunk]] = {}
        for c in self.chunks:
            if c.kind == "org" and c.number is not None and c.doc == corpus.primary:
                name = c.section.split("、", 1)[-1]
                self._parts.setdefault(name, {})[c.number] = c
        # A neighbour is recognised by its own words (医保, 公积金), not by words several neighbours
        # share (申请, 办理, 补贴), which policy questions use just as often.
        # Only whole names people use for a topic ("医保", "公积金"), not its description or the
        # pieces of a name: "报名", "申请", "办理" are as common in policy questions as anywhere.
        nb_tokens = [frozenset(nb.names) for nb in lexicon.neighbours]
        nb_df: dict[str, int] = {}
        for toks in nb_tokens:
            for t in toks:
                nb_df[t] = nb_df.get(t, 0) + 1
        # The names a neighbour goes by: the "、"-separated phrases of its description, and its
        # topic, when the policy text never uses them ("医保报销", "公积金提取" — not "补贴").
        policy_text = "".join(lexical_text(c) for c in self.chunks)
        self._neighbour_names = [tuple(x for x in nb.names if x not in policy_text) for nb in lexicon.neighbours]
        # Who a question is about (高校毕业生, 残疾人, 灵活就业人员) says nothing about its subject:
        # 「高校毕业生落户」 asks about 落户. The words come from groups.tsv, as reviewed data.
        self._who_tokens = frozenset(
            t
            for g in read_groups(lexicon.dir / "groups.tsv", corpus)
            for w in g.variants  # not its policy words: 创业者's include 创业担保贷款, a subject
            for t in lexicon.tokens(normalize(w))
        )
        # Words the policy itself uses ("贷款", "养老") prove nothing either way.
        self._neighbour_tokens = [
            frozenset(t for t in toks if nb_df[t] == 1 and t not in self._idf) for toks in nb_tokens
        ]
        group_variants = [v for g in read_groups(lexicon.dir / "groups.tsv", corpus) for v in g.variants]
        asked = IntentReader(lexicon)
        self.subjects = SubjectReader(
            lexicon, self._idf, self._idf_unknown, self._chunk_tokens, self._chunk_texts, group_variants, asked.strip
        )
        fitted = load_decision(corpus.root / "decision.json", index.manifest.embedder) if model is True else model
        self.model = fitted or None
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=4096)
        self.skip_dense_when_cited = True
        self._vectors_lock = threading.Lock()

    @property
    def degraded(self) -> str | None:
        """Why dense retrieval is off right now (the embedder's breaker is not closed), or None."""
        if not self.use_dense:
            return None  # switched off on purpose (an ablation), not degraded
        return getattr(self.embedder, "broken", None)

    @property
    def idf(self) -> dict[str, float]:
        """Inverse document frequency of the corpus's tokens (over chunks)."""
        return self._idf

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

    def numbers_in(self, text: str) -> tuple[Chunk, ...]:
        """Chunks cited by number: measures, or a part's paragraphs when the part is named."""
        table: dict[int, Chunk] = self._measures_by_number
        for name, paragraphs in self._parts.items():
            if name in text:
                table = paragraphs
                text = text.replace(name, " ")
        found: list[Chunk] = []
        for rx in _NUMBER_RES:
            for m in rx.finditer(text):
                n = cn_to_int(m[1])
                if n is not None and n in table and table[n] not in found:
                    found.append(table[n])
        return tuple(found)

    def units_in(self, text: str) -> tuple[str, ...]:
        found: list[str] = []
        rest = text
        for alias, unit in self._unit_aliases:
            if alias in rest:
                rest = rest.replace(alias, " ")
                if unit not in found:
                    found.append(unit)
        return tuple(found)

    def _query_vector(self, text: str) -> np.ndarray:
        """The query's vector, cached by its expanded text: embedding is most of a question's CPU."""
        with self._vectors_lock:
            cached = self._vectors.get(text)
        if cached is not None:
            return cached
        q = self.embedder.queries([text])  # type: ignore[union-attr]
        q.setflags(write=False)  # shared between threads from here on
        with self._vectors_lock:
            self._vectors[text] = q
        return q

    def _dense_scores(self, text: str, skip: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Per chunk: best cosine over the chunk and its sentences; and the query vector (None if off)."""
        n = len(self.chunks)
        best = np.zeros(n, dtype=np.float32)
        row_scores = np.zeros(len(self._row_chunk), dtype=np.float32)
        if skip or not self.use_dense or self.embedder is None:
            return best, None
        try:
            q = self._query_vector(text)
        except EmbedderError:
            # Keep answering from lexical evidence; the embedder's circuit breaker has logged the
            # failure once and decides when the model is tried again (assistant/breaker.py).
            return best, None
        scores, ids = self.index.dense.search(q, self.index.dense.ntotal)
        row_scores[ids[0]] = scores[0]
        np.maximum.at(best, self._row_chunk, row_scores)
        return best, q[0]

    def _concepts(self, expansion: Expansion) -> tuple[list[tuple[float, frozenset[str]]], float]:
        """What the question talks about, each counted once, with its IDF weight.

        A glossary word ("外卖") is one concept that any of its policy terms can cover — not five
        extra words that would let one colloquialism outweigh the rest of the question. Words the
        corpus never uses count at full weight, but at most a few of them: a long, chatty question
        ("我们是一家做食品的小厂，三十来个人…") says more about the speaker than the topic.
        """
        idf, unknown_w = self._idf, self._idf_unknown
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

    def evidence(self, question: str) -> Evidence:
        """Everything retrieval knows about a question, before any weight or threshold is applied."""
        expansion = self.lexicon.expand(question)
        n = len(self.chunks)
        q_tokens = tuple(dict.fromkeys(self.lexicon.tokens(expansion.text)))
        lexical = np.zeros(n, dtype=np.float32)
        coverage = np.zeros(n, dtype=np.float32)
        nb_cov, nb_cov_topic = 0.0, None
        if self.use_lexical and q_tokens:
            raw = self.index.lexical.get_scores(list(q_tokens))
            # The primary's chunks relative to the primary's best, so that adding related rules leaves the primary's
            # evidence as it was; related chunks relative to the best of all (then weighed by their document's prior).
            best = float(raw.max())
            top = float(raw[self._primary_mask].max()) if self._primary_mask.any() else 0.0
            if best > 0:
                lexical = np.where(self._primary_mask, np.clip(raw / (top or best), 0.0, 1.0), raw / best).astype(np.float32)
            units, total = self._concepts(expansion)
            coverage = np.array(
                [sum(w for w, alts in units if alts & toks) / total for toks in self._chunk_tokens], dtype=np.float32
            )
            # Same measure for the neighbouring topics, so the two can be compared directly.
            for nb, toks in zip(self.lexicon.neighbours, self._neighbour_tokens, strict=True):
                share = min(1.0, sum(w for w, alts in units if alts & toks) / total)
                if share > nb_cov:
                    nb_cov, nb_cov_topic = share, nb.topic
        named = self._named_neighbour(expansion)
        rest = self._rest_coverage(expansion, named) if named and self.use_lexical and q_tokens else 0.0
        # Verbatim phrases ("农民工之星", "工匠学院") beat word overlap: jieba may split a name the
        # corpus spells out, and a glossary expansion must not outrank the literal source.
        grams = {g for run in _HAN_RUN_RE.findall(expansion.repaired) for g in _ngrams(run, 4)}
        phrase = np.array([min(1.0, sum(g in text for g in grams) / 3) for text in self._chunk_texts], dtype=np.float32)
        cited = tuple(self._pos[c.id] for c in self.numbers_in(expansion.repaired))
        # A measure cited by number outranks any amount of topical evidence (Weights.number), so
        # the embedding could not change the answer: skip it. (Checked by eval: identical figures.)
        dense, dense_q = self._dense_scores(expansion.repaired, skip=bool(cited) and self.skip_dense_when_cited)
        nb_dense, nb_dense_topic = 0.0, None
        if dense_q is not None and len(self.index.background):
            sims = self.index.background @ dense_q
            j = int(np.argmax(sims))
            nb_dense, nb_dense_topic = float(sims[j]), self.lexicon.neighbours[j].topic
        prior = self._document_prior()
        return Evidence(
            question=question,
            expansion=expansion,
            greeting=self.lexicon.is_greeting(question),
            q_tokens=q_tokens,
            lexical=lexical * prior,
            # Coverage also decides whether to answer at all: a lapsed document's chunks are ranked down (above) but
            # stay as findable as any related rule's.
            coverage=coverage * np.where(self._primary_mask, 1.0, RELATED_PRIOR).astype(np.float32),
            phrase=phrase * prior,
            dense=dense,
            cited=cited,
            units=self.units_in(expansion.text),
            duty=bool(_DUTY_RE.search(expansion.normalized)),
            neighbour_coverage=(nb_cov, nb_cov_topic),
            neighbour_dense=(nb_dense, nb_dense_topic),
            neighbour_named=named[0] if named else None,
            lexical_on=self.use_lexical,
            degraded=self.degraded,
            neighbour_rest=rest,
            subject=self.subjects.coverage(expansion) if self.use_lexical else None,
        )

    def _document_prior(self) -> np.ndarray:
        """Per chunk: 1 for the primary document, less for a related rule, less still for a lapsed or repealed one —
        the primary is the authority the assistant is about, and a current document is preferred over an expired one
        (which stays findable). Evaluated per call: a document lapses at the district's midnight."""
        day = district_today()
        if day != self._prior_day:
            lapsed = {d.meta.doc_id for d in self.corpus.documents if d.meta.status(day) != "现行"}
            self._prior = np.array(
                [1.0 if c.doc == self.corpus.primary else LAPSED_PRIOR if c.doc in lapsed else RELATED_PRIOR for c in self.chunks],
                dtype=np.float32,
            )
            self._prior_day = day
        return self._prior

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

    def _rest_coverage(self, expansion: Expansion, named: tuple[str, tuple[str, ...]]) -> float:
        """Best share of the question's weight that a measure covers outside the neighbour's own
        phrases and the who-words. Normalised by the whole question, so a lone common word left
        over ("就业") cannot stand for the subject."""
        units, total = self._concepts(expansion)
        own = {t for phrase in named[1] for t in self.lexicon.tokens(phrase)} | set(named[1])
        kept = [(w, alts) for w, alts in units if not (alts & own) and not (alts & self._who_tokens)]
        if not kept:
            return 0.0
        return max(min(1.0, sum(w for w, alts in kept if alts & toks) / total) for toks in self._chunk_tokens)

    def retrieve(self, question: str, top_k: int = 3) -> Retrieval:
        return self.decide(self.evidence(question), top_k)

    def decide(
        self,
        ev: Evidence,
        top_k: int = 3,
        weights: Weights | None = None,
        model: DecisionModel | None | bool = True,
    ) -> Retrieval:
        """Fuse the evidence into a ranking and decide whether the policy covers the question.
        `model`: True = this retriever's fitted decision; None/False = the hand thresholds; or another."""
        chosen = self.model if model is True else (model or None)
        return decide(ev, self.chunks, self._chunk_tokens, weights or self.weights, top_k, chosen)
