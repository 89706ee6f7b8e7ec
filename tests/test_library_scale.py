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
