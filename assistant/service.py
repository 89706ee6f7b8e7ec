"""The Assistant: one object that owns the corpus, index and retriever, and answers questions.

Edges (CLI, web, eval) call this and nothing below it, so that how an answer is produced can
change without touching them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from .answer import Answer, MeasureAnswer, compose, suggestions
from .clock import district_today
from .config import Settings
from .corpus import Chunk, Corpus, load_corpus
from .documents.attribution import document_summary
from .embed import CheckedEmbedder, Embedder, get_embedder
from .errors import EmbedderError, IndexProblem, InvalidQuestion, UnknownChunk, UnknownGroup
from .fusion import Hit, Retrieval, Weights
from .groups import Group, GroupIndex, read_groups
from .highlight import Highlight
from .index import Manifest, build_index, load_index
from .planner import Plan, Planner, Shown
from .redact import redact_text
from .retrieve import Retriever
from .suggest import follow_ups
from .text import Lexicon, normalize
from .visible import ignorable, visible_text

log = logging.getLogger("policy_assistant")

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_QUESTION_CHARS = 500
# Distinct questions kept with their answers (a few KB each); repeats answer in microseconds.
ANSWER_CACHE_SIZE = 2048


def check_question(question: object) -> str:
    """The question as the pipeline may see it: visible text, not empty, not too long.

    The length limit counts what was typed between the first and the last visible character.
    """
    if not isinstance(question, str):
        raise InvalidQuestion("问题必须是文字")
    start, end = 0, len(question)
    while start < end and ignorable(question[start]):
        start += 1
    while end > start and ignorable(question[end - 1]):
        end -= 1
    if start == end:
        raise InvalidQuestion("问题不能为空,请输入您想咨询的内容")
    if end - start > MAX_QUESTION_CHARS:
        raise InvalidQuestion(f"问题太长了(最多 {MAX_QUESTION_CHARS} 个字),请简要描述您想咨询的内容")
    return visible_text(question[start:end])


class Assistant:
    def __init__(self, corpus: Corpus, lexicon: Lexicon, embedder: Embedder, manifest: Manifest, retriever: Retriever) -> None:
        self.corpus = corpus
        self.lexicon = lexicon
        self.embedder = embedder
        self.manifest = manifest
        self.retriever = retriever
        self.groups = GroupIndex(read_groups(corpus.root / "lexicon" / "groups.tsv", corpus))
        self._answers: LRUCache[tuple[object, ...], Answer] = LRUCache(maxsize=ANSWER_CACHE_SIZE)
        self._answers_lock = threading.Lock()
        self.planner = Planner(corpus, lexicon, retriever, self.groups)

    @classmethod
    def load(
        cls,
        corpus_dir: str | Path | None = None,
        index_dir: str | Path | None = None,
        embedder: str | Embedder | None = None,
        *,
        rebuild: bool = True,
        progress: bool = False,
        weights: Weights | None = None,
        use_lexical: bool = True,
        use_dense: bool = True,
    ) -> Assistant:
        """Load the corpus and index; (re)build the index when missing, stale or damaged.

        With rebuild=False an unusable index raises the IndexProblem instead.
        """
        settings = Settings.from_env()
        corpus = load_corpus(Path(corpus_dir) if corpus_dir else settings.corpus_dir)
        for failure in corpus.failures:  # the others load and answer; the log names what was left out
            log.error("文件未载入,其余文件照常答复: %s", failure)
        lexicon = Lexicon(corpus.root / "lexicon", [c.text for c in corpus.chunks])
        emb = embedder if embedder is not None and not isinstance(embedder, str) else get_embedder(embedder or settings.embedder)
        idx_dir = Path(index_dir) if index_dir else settings.index_dir
        try:
            index = load_index(idx_dir, corpus, emb.id)
        except IndexProblem as problem:
            if not rebuild:
                raise
            # One INFO line, not a warning telling the user to do what is being done already.
            reason = re.sub(r"[(（]请运行 policy-assistant build[)）]", "", str(problem))
            # How much there is to do, not a time: the primary alone takes seconds, a library of 1,000 documents
            # minutes (chunks already embedded once come from the cache).
            log.info("正在建立索引 %s(%s):%d 个文件,%d 个条目……", idx_dir, reason, len(corpus.titles), len(corpus.chunks))
            try:
                build_index(corpus, lexicon, emb, idx_dir, progress=progress)
            except OSError as exc:  # unwritable folder, a file where the folder should be, disk full
                raise IndexProblem(f"索引无法重建: {idx_dir} ({exc.strerror or exc})") from exc
            index = load_index(idx_dir, corpus, emb.id)
        # Questions reach the model through a wrapper that holds it to the index's contract
        # (width, finite values, no exception, a time limit) and raises EmbedderError otherwise,
        # which the retriever answers by switching to lexical evidence only.
        checked = emb if isinstance(emb, CheckedEmbedder) else CheckedEmbedder(emb, dim=index.manifest.dim)
        retriever = Retriever(corpus, lexicon, index, checked, weights, use_lexical=use_lexical, use_dense=use_dense)
        if use_dense:
            try:  # checked at load too: a swapped model is reported at start, not on the first question
                checked.queries(["就业政策"])
            except EmbedderError:
                pass  # the breaker logged it and is open; /healthz says degraded until it closes
        return cls(corpus, lexicon, checked, index.manifest, retriever)

    # -- questions -------------------------------------------------------------------------

    def retrieve(self, question: str, top_k: int = 3) -> Retrieval:
        # Personal data typed by a worried citizen is replaced before retrieval, so no answer,
        # log or copied reply can echo it, whichever edge the question came through.
        return self.retriever.retrieve(redact_text(check_question(question)), top_k=top_k)

    @staticmethod
    def _checked(question: object, top_k: int, context: Sequence[str] | None) -> str:
        """The question as the pipeline may see it, after the caller's arguments are checked."""
        if not 1 <= top_k <= 10:
            raise InvalidQuestion("top_k 应在 1 到 10 之间")
        if context is not None and (
            isinstance(context, str) or not all(isinstance(c, str) for c in context) or len(context) > 25
        ):
            raise InvalidQuestion("context 应为上一轮答复的条目编号列表,如 [\"m7\"]")
        # Personal data typed by a worried citizen is replaced before anything else, so no
        # answer, log or copied reply can echo it, whichever edge the question came through.
        return redact_text(check_question(question))

    def plan(self, question: str, top_k: int = 3, context: Sequence[str] | None = None) -> Plan:
        """What an answer will show and why, before rendering (the eval and staff tools read it)."""
        return self.planner.plan(self._checked(question, top_k, context), top_k, context)

    def ask(
        self,
        question: str,
        top_k: int = 3,
        today: dt.date | None = None,
        context: Sequence[str] | None = None,
    ) -> Answer:
        """Answer a question; `context` = the measure ids of the previous answer, best first.

        Answers are cached: a policy announcement brings the same few questions again and again.
        The key holds everything an answer depends on — the normalised question, the context, the
        date (validity notes change at midnight) and whether dense retrieval is working — and the
        cache belongs to this Assistant, i.e. to one corpus, lexicon and index.
        """
        q = self._checked(question, top_k, context)
        today = today or district_today()
        key = (normalize(q), top_k, tuple(context or ()), today, self.retriever.degraded)
        with self._answers_lock:
            cached = self._answers.get(key)
        if cached is not None:
            # Same question up to width, script and spacing: the answer is the same, the echo is theirs.
            return cached if cached.question == q else replace(cached, question=q)
        plan = self.planner.plan(q, top_k, context, today)
        follow = follow_ups(plan, self.corpus, self.planner.intents, self.groups)
        answer = compose(plan, self.corpus, today, follow)
        with self._answers_lock:
            self._answers[key] = answer
        return answer

    def search(self, question: str, k: int = 10) -> tuple[Hit, ...]:
        """Ranked hits with their evidence, for hotline staff (no threshold applied)."""
        return self.retrieve(question, top_k=k).hits[:k]

    def search_marked(self, question: str, k: int = 10) -> tuple[tuple[Hit, tuple[str, ...]], ...]:
        """Ranked hits, each with the sentences that answer the question (marked on the lookup page)."""
        retrieval = self.retrieve(question, top_k=k)
        return tuple((h, self.planner.highlight(h, retrieval).sentences) for h in retrieval.hits[:k])

    # -- browsing --------------------------------------------------------------------------

    @property
    def chunks(self) -> tuple[Chunk, ...]:
        return self.corpus.chunks

    def chunk(self, chunk_id: str) -> Chunk:
        c = self.corpus.chunk(chunk_id)
        if c is None:
            raise UnknownChunk(chunk_id)
        return c

    def answer_for(self, chunk_id: str, today: dt.date | None = None) -> Answer:
        """The ready answer for one chunk, as the hotline "复制答复" button copies it."""
        c = self.chunk(chunk_id)
        hit = Hit(chunk=c, score=1.0, lexical=0.0, dense=0.0, coverage=0.0, why=("直接查看",))
        retrieval = Retrieval(c.label, self.lexicon.expand(c.label), "answer", (hit,), (hit,))
        intent = self.planner.intents.read("")
        plan = Plan(c.label, "answer", (Shown(hit, Highlight((), ()), "browsed"),), intent, retrieval)
        return compose(plan, self.corpus, today)

    def group(self, name: str) -> Group:
        g = self.groups.get(name)
        if g is None:
            raise UnknownGroup(name)
        return g

    def documents(self, today: dt.date | None = None) -> dict[str, Any]:
        """The library: each document's id, title, 文号, structure, chunk count, dates, status; and the files left out."""
        return {
            "documents": document_summary(self.corpus, today or district_today()),
            "failures": [{"file": f.file, "line": f.line, "reason": f.reason} for f in self.corpus.failures],
        }

    def suggestions(self) -> tuple[str, ...]:
        return suggestions(self.corpus)

    @property
    def phone(self) -> str:
        return self.corpus.primary_doc.meta.phone

    def status(self) -> dict[str, Any]:
        degraded = self.retriever.degraded
        return {
            "status": "degraded" if degraded else "ok",
            "reason": degraded,
            "embedder": self.manifest.embedder,
            "corpus_sha256": self.manifest.corpus_sha256,
            "built_at": self.manifest.built_at,
            "chunks": len(self.manifest.chunk_ids),
            "documents": len(self.corpus.documents),
            "documents_failed": [
                {"file": f.file, "line": f.line, "reason": f.reason} for f in self.corpus.failures
            ],
        }


__all__ = ["Answer", "Assistant", "MeasureAnswer", "Settings", "check_question", "visible_text"]
