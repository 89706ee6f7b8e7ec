"""What keeps a question's cost flat as the library grows must not change any answer: the subject is measured over the
chunks the decision reads (the primary's and the related rules' candidates) instead of every chunk, and place names are
found in the library without cutting all of it again. Each shortcut is checked against the full computation on a
synthetic library of a few hundred chunks — more related chunks than the candidates a question weighs."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.documents.bench import make_library
from assistant.places import Places, load_places, names_in, read_divisions, read_place_words
from assistant.tiers import CANDIDATES

REPO = Path(__file__).resolve().parent.parent
DAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("scale")
    corpus = make_library(root, 40)
    return Assistant.load(corpus, root / "index", "chars")


def _questions() -> list[str]:
    lines = [json.loads(ln) for ln in (REPO / "eval" / "faq_library.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
    faq = [json.loads(ln) for ln in (REPO / "eval" / "faq.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [x["q"] for x in lines[:8]] + [x["q"] for x in faq[:6]] + ["火锅怎么做", "宝妈带娃有育儿补助吗"]


def _ranking(r):  # type: ignore[no-untyped-def]
    return (
        r.kind,
        [(h.chunk.id, h.score) for h in r.hits[:20]],
        [h.chunk.id for h in r.matched],
        r.probability,
        r.neighbour,
        r.subject,
    )


def test_the_library_has_more_related_chunks_than_a_question_weighs(big: Assistant) -> None:
    related = sum(c.doc != big.corpus.primary for c in big.chunks)
    assert related > 2 * CANDIDATES  # else the restriction below would restrict nothing


def test_subject_over_the_candidates_decides_as_the_subject_over_every_chunk(big: Assistant) -> None:
    r = big.retriever
    restricted = 0
    for q in _questions():
        ev = r.evidence(q, DAY)
        full = replace(ev, subject=r.subjects.coverage(ev.expansion))
        assert ev.subject is not None and full.subject is not None
        restricted += bool((ev.subject.share != full.subject.share).any())
        # The ranking, the decision and the model's features are the same.
        for model in (True, None):
            assert _ranking(r.decide(ev, 3, model=model)) == _ranking(r.decide(full, 3, model=model)), q
    assert restricted >= 3  # measured over fewer chunks for these questions: the restriction is real


def test_places_found_without_recutting_the_library_are_the_same(big: Assistant) -> None:
    corpus, lexicon = big.corpus, big.lexicon
    fast = load_places(corpus, lexicon.tokenizer, big.retriever.chunk_tokens, lexicon.stopwords)
    divisions, nations = read_divisions()
    doc = corpus.primary_doc
    text = "\n".join(c.text for c in corpus.chunks)
    words = read_place_words(corpus.root / "lexicon" / "places.tsv")
    full = Places(divisions, nations, doc.meta.issuer or doc.meta.get("政策咨询部门"), text, words, lexicon.tokenizer)
    assert fast.mentioned == full.mentioned and fast.chain == full.chain and fast.mentioned
    for q in ("广州灵活就业补贴标准", "甘肃来青务工有补贴吗", "即墨区有没有创业补贴", "城阳区创业补贴"):
        assert fast.read(q) == full.read(q), q


def test_names_in_finds_what_substring_search_finds() -> None:
    divisions, _ = read_divisions()
    names = {d.name for d in divisions}
    text = "青岛市城阳区人民政府办公室；陇南市成县、定西市渭源县劳务协作；广西壮族自治区；市区县；区"
    assert names_in(text, names) == {n for n in names if n in text}
    assert names_in("", names) == set() and names_in(text, set()) == set()


def test_latency_is_measured_alternately_across_the_libraries() -> None:
    """Each question is asked of every library in turn, the first one rotating, so that a busy moment of a shared
    machine falls on every size alike; each library answers each question once (its answer cache stays cold)."""
    from assistant.documents.bench import interleaved_p50_ms

    calls: list[tuple[str, str]] = []

    class Bot:
        def __init__(self, name: str) -> None:
            self.name = name

        def ask(self, q: str) -> None:
            calls.append((self.name, q))

    p50 = interleaved_p50_ms([Bot("a"), Bot("b")], ["q1", "q2", "q3"])  # type: ignore[list-item]
    timed = calls[2:]  # one untimed warm-up question each
    assert [name for name, _ in calls[:2]] == ["a", "b"]
    assert timed == [("a", "q1"), ("b", "q1"), ("b", "q2"), ("a", "q2"), ("a", "q3"), ("b", "q3")]
    assert len(p50) == 2 and all(ms >= 0 for ms in p50)


def test_the_bench_compares_every_size_with_one_document() -> None:
    from assistant.documents.bench import REFERENCE, run, table

    steps = run([3], ["灵活就业有什么补贴", "公益性岗位每月补贴多少钱"], "chars")
    assert [s.documents for s in steps] == [REFERENCE, 3]  # the reference library is built though not asked for
    assert steps[0].ratio == 1.0 and steps[1].ratio == round(steps[1].p50_ms / steps[0].p50_ms, 2)
    assert steps[1].chunks > steps[0].chunks and all(s.p50_ms > 0 for s in steps)
    assert "p50 与 1 个文件之比" in table(steps)
