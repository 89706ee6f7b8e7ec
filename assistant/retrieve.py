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

import datetime as dt
import re
import threading
from collections.abc import Sequence

import faiss
import numpy as np
from cachetools import LRUCache

from .citations import Citations
from .clock import district_today
from .corpus import Chunk, Corpus
from .decision import DecisionModel, load_decision
from .documents.fields import LeadRule
from .embed import Embedder
from .errors import EmbedderError
from .fusion import Evidence, Retrieval, Weights, hand_evidence
from .groups import employer_addressed, read_employer_verbs, read_groups
from .index import LoadedIndex, lexical_text, topic_of
from .intent import IntentReader
from .lexical import LexicalEvidence
from .subject import SubjectReader
from .text import Lexicon, normalize
from .tiers import TierDecision, _Tier, _tier
from .topics import load_topics

_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")
# Asking what a department is responsible for, rather than about a topic that mentions it.
_DUTY_RE = re.compile(r"负责|管|职责|牵头|分工|哪些(?:措施|工作|事|任务|条)|干什么|做什么|干啥|做啥|涉及")


# Within the related rules, a lapsed or repealed document's lexical and phrase evidence is weighed down so that a
# current one is preferred (Retriever._document_prior); it stays findable. The primary is never weighed against the
# related rules at all: each tier has its own statistics and its own decision (see tiers._Tier, TierDecision.decide).
LAPSED_PRIOR = 0.6


def _flat_vectors(dense: faiss.Index) -> np.ndarray | None:
    """The vectors of a flat index, as a read-only view (no copy): a question's cosines against every row are one
    matrix-vector product, where a search for all ntotal neighbours also sorts them (2–3× the time at 40k rows)."""
    if not isinstance(dense, faiss.IndexFlat) or dense.ntotal == 0:
        return None
    view = faiss.rev_swig_ptr(dense.get_xb(), dense.ntotal * dense.d).reshape(dense.ntotal, dense.d)
    view.setflags(write=False)
    return view


def _ngrams(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(len(text) - n + 1)]


class Retriever(TierDecision, LexicalEvidence):
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
        self._priors: dict[dt.date, np.ndarray] = {}
        self._leads = LeadRule(lexicon)
        self._pos = {c.id: i for i, c in enumerate(self.chunks)}
        self._row_chunk = np.array([self._pos[r.chunk] for r in index.rows])
        # Each chunk's rows contiguous and in chunk order (as build_index writes them): max per chunk by reduceat.
        grouped = len(self._row_chunk) and bool(np.all(np.diff(self._row_chunk) >= 0)) and len(set(self._row_chunk)) == len(self.chunks)
        self._row_starts = np.searchsorted(self._row_chunk, np.arange(len(self.chunks))) if grouped else None
        self._chunk_texts = [lexical_text(c, topic_of(c, corpus)) for c in self.chunks]
        self._matrix = _flat_vectors(index.dense)
        # The index holds every chunk's tokens (build_cache.TokenCache): loading a thousand documents does not re-run jieba.
        stored = index.tokens if len(index.tokens) == len(self.chunks) else None
        token_lists = [list(t) for t in stored] if stored is not None else [lexicon.tokens(t) for t in self._chunk_texts]
        self._chunk_tokens = [frozenset(t) for t in token_lists]
        primary_idx = np.flatnonzero(self._primary_mask)
        related_idx = np.flatnonzero(~self._primary_mask)
        self._primary = _tier(primary_idx, [token_lists[i] for i in primary_idx])
        # The related rules' coverage weighs a question's words by their rarity in the whole library: a few related
        # documents alone would make any word they share with a stray question (外地, 社保) look telling.
        self._related = _tier(related_idx, [token_lists[i] for i in related_idx], token_lists) if len(related_idx) else None
        # The vocabulary questions are weighed by, and "words the policy uses", are the primary's: the related
        # rules must not change how the primary's evidence or the neighbouring topics are measured.
        self._idf = self._primary.idf
        self._idf_unknown = self._primary.idf_unknown
        self.citations = Citations(corpus)
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
        policy_text = "".join(lexical_text(self.chunks[i]) for i in primary_idx)
        self._primary_text = policy_text  # what the primary names at all (tiers.TierDecision._names_the_unnamed)
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
        groups = read_groups(lexicon.dir / "groups.tsv", corpus)
        group_variants = [v for g in groups for v in g.variants]
        # Groups some measure pays an employer for hiring (Group.employer_side), and the words people use for hiring
        # someone (lexicon/hiring.txt): 「饭馆雇了个下岗的大姐」 asks about the employer's measure.
        self._hire_groups = tuple(g for g in groups if g.employer_side)
        self._hiring = read_employer_verbs(lexicon.dir / "hiring.txt")
        asked = IntentReader(lexicon)
        self.subjects = SubjectReader(
            lexicon, self._idf, self._idf_unknown, self._chunk_tokens, self._chunk_texts, group_variants, asked.strip
        )
        fitted = load_decision(corpus.root / "decision.json", index.manifest.embedder) if model is True else model
        self.model = fitted or None
        # Which measure questions worded like this were about (fitted on labelled questions; the primary's chunks only).
        self.topics = load_topics(corpus.root / "topics.json", [self.chunks[i] for i in primary_idx])
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
    def chunk_tokens(self) -> list[frozenset[str]]:
        """Per chunk (corpus order): the jieba search-mode tokens of its lexical_text (title, section, topic, text)."""
        return self._chunk_tokens

    @property
    def idf(self) -> dict[str, float]:
        """Inverse document frequency of the primary document's tokens (over its chunks)."""
        return self._idf

    def numbers_in(self, text: str) -> tuple[Chunk, ...]:
        """Chunks cited by number: measures, or a part's paragraphs when the part is named."""
        return self.citations.numbers(text)

    def units_in(self, text: str) -> tuple[str, ...]:
        """Departments the text names (by full name or a short alias), longest names first."""
        return self.citations.units(text)

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

    def warm(self, questions: Sequence[str], batch: int = 64) -> int:
        """Embed many questions' query texts in batches ahead of asking them (an evaluation run, a warm-up
        from the question log): one encoder call per batch instead of one per question. Returns how many
        vectors were added to the cache. Answers do not change; only the time the first asking takes."""
        texts = list(dict.fromkeys(self.lexicon.expand(q).repaired for q in questions))
        with self._vectors_lock:
            todo = [t for t in texts if self._vectors.get(t) is None]
        if not todo or not self.use_dense or self.embedder is None:
            return 0
        # Past the circuit breaker (assistant/breaker.py): its per-call deadline is for one live question, and
        # a batch is meant to take longer; an error here reaches the caller instead of opening the circuit.
        encoder = getattr(self.embedder, "inner", self.embedder)
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            vectors = encoder.queries(part)
            with self._vectors_lock:
                for t, v in zip(part, vectors, strict=True):
                    row = np.array(v[None, :])
                    row.setflags(write=False)
                    self._vectors[t] = row
        return len(todo)

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
        if self._matrix is not None:  # every row's cosine in one product: no ranking of all rows needed
            row_scores = self._matrix @ q[0]
        else:
            scores, ids = self.index.dense.search(q, self.index.dense.ntotal)
            row_scores[ids[0]] = scores[0]
        if self._row_starts is not None:  # rows are grouped by chunk (index.build_index): one vectorised max
            best[:] = np.maximum.reduceat(row_scores, self._row_starts)
        else:
            np.maximum.at(best, self._row_chunk, row_scores)
        return best, q[0]

    def hired(self, text: str) -> tuple[int, ...]:
        """Positions of the measures paid to whoever hires a group the question speaks of hiring (「单位招用
        就业困难人员」, 「雇了个下岗多年的大姐」), in the question's own voice: the group after a hiring verb."""
        found: list[int] = []
        for g in self._hire_groups:
            if any(v in text for v in g.variants) and employer_addressed(text, g.variants, self._hiring):
                found += [self._pos[c] for c in g.employer_side if c in self._pos]
        return tuple(dict.fromkeys(found))

    def evidence(self, question: str, today: dt.date | None = None) -> Evidence:
        """Everything retrieval knows about a question, before any weight or threshold is applied.

        Each chunk's lexical and coverage evidence is measured on its tier's statistics (the primary's chunks on the
        primary's alone); `today` decides which related rules have lapsed (the district's day when not given)."""
        expansion = self.lexicon.expand(question)
        n = len(self.chunks)
        q_tokens = tuple(dict.fromkeys(self.lexicon.tokens(expansion.text)))
        lexical = np.zeros(n, dtype=np.float32)
        coverage = np.zeros(n, dtype=np.float32)
        nb_cov, nb_cov_topic = 0.0, None
        if self.use_lexical and q_tokens:
            query = self._bm25_query(expansion, q_tokens)
            for tier in self._tiers:
                raw = self._bm25(tier, query)
                best = float(raw.max()) if len(raw) else 0.0
                if best > 0:
                    lexical[tier.idx] = raw / best
                units, total = self._concepts(expansion, tier)
                coverage[tier.idx] = tier.coverage(units, total)
            units, total = self._concepts(expansion)
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
        phrase = np.zeros(n, dtype=np.float32)
        cited = tuple(self._pos[c.id] for c in self.numbers_in(expansion.repaired))
        # A measure cited by number outranks any amount of topical evidence (Weights.number), so
        # the embedding could not change the answer: skip it. (Checked by eval: identical figures.)
        dense, dense_q = self._dense_scores(expansion.repaired, skip=bool(cited) and self.skip_dense_when_cited)
        nb_dense, nb_dense_topic = 0.0, None
        if dense_q is not None and len(self.index.background):
            sims = self.index.background @ dense_q
            j = int(np.argmax(sims))
            nb_dense, nb_dense_topic = float(sims[j]), self.lexicon.neighbours[j].topic
        # Phrases over the primary's chunks and the related rules' candidates (the rest are never weighed).
        where = self._primary.idx if self._related is None else np.concatenate([self._primary.idx, self._candidates(lexical, dense)])
        texts = self._chunk_texts
        phrase[where] = [min(1.0, sum(g in texts[i] for g in grams) / 3) for i in where]
        prior = self._document_prior(today)
        # The subject over the chunks the decision reads: the primary's and the candidates `decide` picks, which it
        # picks by the lexical evidence with the lapsed documents' prior applied (the phrases above are measured over
        # the candidates before it, as they always were). Every other chunk's subject is never read.
        subject_rows = where if self._related is None else np.union1d(where, self._candidates(lexical * prior, dense))
        return Evidence(
            question=question,
            expansion=expansion,
            greeting=self.lexicon.is_greeting(question),
            q_tokens=q_tokens,
            lexical=lexical * prior,
            # Coverage also decides whether to answer at all: a lapsed document's chunks are ranked down (above) but
            # stay as findable as any current one's.
            coverage=coverage,
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
            hired=self.hired(expansion.repaired),
            wording=self.topics.per_chunk(expansion.normalized, self._pos, n) if self.topics and self.weights.wording else None,
            subject=self.subjects.coverage(expansion, subject_rows) if self.use_lexical else None,
            today=today,
        )

    @property
    def _tiers(self) -> tuple[_Tier, ...]:
        return (self._primary,) if self._related is None else (self._primary, self._related)

    def _document_prior(self, today: dt.date | None = None) -> np.ndarray:
        """Per chunk: 1, or LAPSED_PRIOR for a related rule that has lapsed or been repealed by `today` — a current
        document is preferred over an expired one, which stays findable. A document lapses at the district's
        midnight, so the day is the caller's (Assistant.ask's `today`), else the district's."""
        day = today or district_today()
        prior = self._priors.get(day)
        if prior is None:
            lapsed = {d.meta.doc_id for d in self.corpus.documents if d.meta.status(day) != "现行"}
            prior = np.array(
                [LAPSED_PRIOR if c.doc in lapsed and c.doc != self.corpus.primary else 1.0 for c in self.chunks],
                dtype=np.float32,
            )
            prior.setflags(write=False)
            if len(self._priors) > 8:
                self._priors.clear()  # a long-running server sees one new day at a time
            self._priors[day] = prior  # a dict store is atomic; two threads computing the same day agree
        return prior

    def probability_of(self, ev: Evidence, chunk_id: str) -> float | None:
        """The fitted decision's P(answer) were `chunk_id` the best hit: how a follow-up is weighed against the
        measure just discussed. None without the model or the full evidence, and for a related rule's chunk (the
        model was fitted on the primary's evidence; related chunks are decided by the hand thresholds)."""
        model = self.model
        if model is None or not ev.lexical_on or not ev.q_tokens or float(ev.dense.max()) <= 0:
            return None
        tier = self._primary
        local = {int(g): j for j, g in enumerate(tier.idx)}
        i = local.get(self._pos.get(chunk_id, -1))
        if i is None:
            return None
        primary = self._restrict(ev, tier) if self._related is not None else ev
        return model.probability(model.features(primary, i, hand_evidence(primary, i, self.weights)))

    def retrieve(self, question: str, top_k: int = 3, today: dt.date | None = None) -> Retrieval:
        return self.decide(self.evidence(question, today), top_k)
