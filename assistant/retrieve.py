"""Question → ranked hits, with a decision whether the policy covers the question at all.

Four kinds of evidence, each cheap and explainable to a hotline operator:
  number   "第七条", "措施7", "7." — a direct reference to a measure;
  unit     a department named in the question ("区妇联负责什么") — the measures it leads;
  lexical  BM25 over jieba tokens of the glossary-expanded question;
  semantic cosine similarity of e5 vectors, best over the chunk and each of its sentences.
They are fused by a weighted sum whose weights were chosen by measurement (eval/tune.py over
eval/faq.jsonl; the held-out file is never used for this). Whether anything matched is decided from
absolute evidence — how much of the question's vocabulary the best chunk covers and how similar it
is — because a relative score always has a "best" chunk, even for 火锅.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .corpus import Chunk, Corpus, cn_to_int
from .embed import Embedder
from .errors import EmbedderError
from .index import LoadedIndex, lexical_text
from .text import Expansion, Lexicon

_NUM = r"([0-9]{1,2}|[一二三四五六七八九十两]{1,3})"
# "第七条", "第14项", "措施7", "7.", "十四条": forms in which callers cite a measure.
_NUMBER_RES = (
    re.compile(rf"第\s*{_NUM}\s*(?:条|项|点|款|个措施|个|项措施|条措施)?(?![次期年批届季月名天位号周])"),
    re.compile(rf"(?:措施|条款|条目|政策条款)\s*{_NUM}(?![0-9])"),
    re.compile(rf"(?<![0-9.])^{_NUM}\s*(?:[.．、]|条|项)"),
    re.compile(rf"(?<![第0-9一二三四五六七八九十]){_NUM}\s*(?:条|项措施)(?!件)"),
)
# Asking what a department is responsible for, rather than about a topic that mentions it.
_DUTY_RE = re.compile(r"负责|管|职责|牵头|分工|哪些(?:措施|工作|事|任务|条)|干什么|做什么|干啥|做啥|涉及")


@dataclass(frozen=True)
class Weights:
    """Fusion weights and match thresholds (see eval/tune.py for how they were chosen)."""

    lexical: float = 0.45
    dense: float = 0.35
    coverage: float = 0.20
    number: float = 1.0
    unit_duty: float = 0.6
    unit_mention: float = 0.1
    # Decision: matched when a direct reference exists or the evidence clears these.
    min_coverage: float = 0.5
    min_dense: float = 0.86
    min_coverage_with_dense: float = 0.25
    # Hits kept after the first: within this fraction of the best score.
    keep_ratio: float = 0.8


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    lexical: float  # BM25 relative to the best chunk for this question, 0–1
    dense: float  # cosine similarity, best over chunk and its sentences (0 when dense is off)
    coverage: float  # IDF-weighted share of the question's tokens found in the chunk, 0–1
    why: tuple[str, ...]
    best_sentences: tuple[int, ...] = ()


@dataclass(frozen=True)
class Retrieval:
    question: str
    expansion: Expansion
    kind: str  # "answer" | "no_match" | "greeting"
    hits: tuple[Hit, ...]  # ranked, all chunks with any evidence (the lookup page shows them)
    matched: tuple[Hit, ...]  # the hits that clear the threshold (≤ top_k), best first
    degraded: str | None = None  # why dense retrieval was skipped, if it was
    notes: tuple[str, ...] = field(default=())


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
    ) -> None:
        self.corpus = corpus
        self.lexicon = lexicon
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        self.use_lexical = use_lexical
        self.use_dense = use_dense and embedder is not None
        self.chunks = corpus.chunks
        self._pos = {c.id: i for i, c in enumerate(self.chunks)}
        self._row_chunk = np.array([self._pos[r.chunk] for r in index.rows])
        self._row_sentence = np.array([r.sentence for r in index.rows])
        self._chunk_tokens = [frozenset(lexicon.tokens(lexical_text(c))) for c in self.chunks]
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
        self.degraded: str | None = None

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

    def numbers_in(self, text: str) -> tuple[int, ...]:
        found: list[int] = []
        for rx in _NUMBER_RES:
            for m in rx.finditer(text):
                n = cn_to_int(m[1])
                if n is not None and n in self._measures_by_number and n not in found:
                    found.append(n)
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

    def _dense_scores(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Per chunk: best cosine, and the row index that achieved it per sentence."""
        n = len(self.chunks)
        best = np.zeros(n, dtype=np.float32)
        row_scores = np.zeros(len(self._row_chunk), dtype=np.float32)
        if not self.use_dense or self.embedder is None:
            return best, row_scores
        try:
            q = self.embedder.queries([text])
        except EmbedderError as exc:
            # Keep answering from lexical evidence; the service reports itself degraded.
            self.degraded = str(exc)
            self.use_dense = False
            return best, row_scores
        scores, ids = self.index.dense.search(q, self.index.dense.ntotal)
        row_scores[ids[0]] = scores[0]
        np.maximum.at(best, self._row_chunk, row_scores)
        return best, row_scores

    def retrieve(self, question: str, top_k: int = 3) -> Retrieval:
        w = self.weights
        expansion = self.lexicon.expand(question)
        if self.lexicon.is_greeting(question):
            return Retrieval(question, expansion, "greeting", (), ())

        text = expansion.text
        q_tokens = list(dict.fromkeys(self.lexicon.tokens(text)))
        n = len(self.chunks)

        lexical = np.zeros(n, dtype=np.float32)
        if self.use_lexical and q_tokens:
            raw = self.index.lexical.get_scores(q_tokens)
            if raw.max() > 0:
                lexical = (raw / raw.max()).astype(np.float32)

        total_idf = sum(self._idf.get(t, self._idf_unknown) for t in q_tokens) or 1.0
        coverage = np.array(
            [sum(self._idf.get(t, 0.0) for t in q_tokens if t in toks) / total_idf for toks in self._chunk_tokens],
            dtype=np.float32,
        )
        if not self.use_lexical:
            coverage[:] = 0.0

        dense, row_scores = self._dense_scores(expansion.repaired)
        # Dense similarity is rescaled within the question so that its spread, not its level
        # (which differs per model), drives the ranking.
        dense_rel = np.zeros(n, dtype=np.float32)
        if self.use_dense and dense.max() > 0:
            lo, hi = float(np.median(dense)), float(dense.max())
            dense_rel = np.clip((dense - lo) / max(hi - lo, 1e-6), 0.0, 1.0)

        score = w.lexical * lexical + w.dense * dense_rel + w.coverage * coverage
        why: list[list[str]] = [[] for _ in range(n)]
        direct = np.zeros(n, dtype=bool)

        for num in self.numbers_in(expansion.repaired):
            i = self._pos[self._measures_by_number[num].id]
            score[i] += w.number
            direct[i] = True
            why[i].append(f"编号:第{num}条")

        units = self.units_in(text)
        duty = bool(_DUTY_RE.search(expansion.normalized))
        for unit in units:
            for i, c in enumerate(self.chunks):
                if unit in c.lead_units:
                    score[i] += w.unit_duty if duty else w.unit_mention
                    direct[i] |= duty
                    why[i].append(f"部门:{unit}")

        for i in range(n):
            if lexical[i] > 0:
                shared = [t for t in q_tokens if t in self._chunk_tokens[i]]
                why[i].append("关键词:" + "、".join(shared[:6]))
            if dense_rel[i] > 0.5:
                why[i].append(f"语义:{dense[i]:.2f}")

        order = np.argsort(-score, kind="stable")
        hits = []
        for i in order:
            if score[i] <= 0:
                break
            chunk_rows = np.where(self._row_chunk == i)[0]
            sent_rows = [r for r in chunk_rows if self._row_sentence[r] >= 0]
            best_sents = sorted(sent_rows, key=lambda r: -row_scores[r])[:2]
            hits.append(
                Hit(
                    chunk=self.chunks[i],
                    score=round(float(score[i]), 4),
                    lexical=round(float(lexical[i]), 4),
                    dense=round(float(dense[i]), 4),
                    coverage=round(float(coverage[i]), 4),
                    why=tuple(why[i]),
                    best_sentences=tuple(int(self._row_sentence[r]) for r in best_sents),
                )
            )

        matched: list[Hit] = []
        if hits:
            top = hits[0]
            top_i = self._pos[top.chunk.id]
            evidence = (
                direct[top_i]
                or top.coverage >= w.min_coverage
                or (top.dense >= w.min_dense and top.coverage >= w.min_coverage_with_dense)
                or (not self.use_dense and top.coverage >= w.min_coverage_with_dense)
            )
            if evidence:
                matched = [h for h in hits[:top_k] if h is top or h.score >= w.keep_ratio * top.score or direct[self._pos[h.chunk.id]]]
        kind = "answer" if matched else "no_match"
        return Retrieval(question, expansion, kind, tuple(hits), tuple(matched[:top_k]), self.degraded)
