"""Retrieval on the model-free "chars" embedder: direct references, departments, declines."""

from __future__ import annotations

import pytest

from assistant import Assistant
from assistant.embed import CharEmbedder
from assistant.errors import EmbedderError


@pytest.mark.parametrize(
    ("question", "chunk_id"),
    [
        ("第7条", "m7"),
        ("第七条讲的啥", "m7"),
        ("措施7", "m7"),
        ("7.是什么内容", "m7"),
        ("第十四项措施", "m14"),
        ("第二十条", "m20"),
        ("第7条措施", "m7"),
        ("7条里说的补贴是多少", "m7"),
        ("措施二是关于什么的", "m2"),
        ("组织保障第二点说了什么", "org2"),
        ("组织保障(三)", "org3"),
    ],
)
def test_measure_numbers_in_common_forms(chars_assistant: Assistant, question: str, chunk_id: str) -> None:
    r = chars_assistant.retrieve(question)
    assert r.kind == "answer"
    assert r.matched[0].chunk.id == chunk_id
    assert any(w.startswith("编号") for w in r.matched[0].why)


@pytest.mark.parametrize(
    "question",
    [
        "职业培训补贴政策在哪一条",
        "第一次来城阳",
        "2025年12月31日以后还有吗",
        # A numeral that counts the noun after it (条, 套 as measure words) cites nothing.
        "厂里新上一条生产线缺人",
        "刚需买第一套房 契税 减半吗",
        "村里修两条路招人吗",
    ],
)
def test_numbers_that_are_not_citations(chars_assistant: Assistant, question: str) -> None:
    assert chars_assistant.retriever.numbers_in(chars_assistant.lexicon.expand(question).repaired) == ()


def test_department_duty_question_lists_its_measures(chars_assistant: Assistant) -> None:
    r = chars_assistant.retrieve("区退役军人事务局负责哪些措施")
    ids = [h.chunk.id for h in r.matched]
    led = {c.id for c in chars_assistant.chunks if "区退役军人事务局" in c.lead_units}
    assert ids and set(ids) <= led and len(ids) == len(led)
    # Colloquial names of departments come from the glossary.
    r = chars_assistant.retrieve("妇联管哪些事")
    assert {h.chunk.id for h in r.matched} <= {c.id for c in chars_assistant.chunks if "区妇联" in c.lead_units}


@pytest.mark.parametrize("question", ["城阳哪家火锅好吃", "护照在哪里办", "医保报销需要什么材料", "公积金怎么提取", "asdkjhqwe", "写一首关于大海的诗"])
def test_off_topic_is_declined(chars_assistant: Assistant, question: str) -> None:
    r = chars_assistant.retrieve(question)
    assert r.kind == "no_match" and r.matched == ()


def test_neighbouring_topic_is_named_when_declined(chars_assistant: Assistant) -> None:
    r = chars_assistant.retrieve("失业金申领流程是什么")
    assert r.kind == "no_match"
    assert r.neighbour == "失业保险金"


def test_greeting(chars_assistant: Assistant) -> None:
    assert chars_assistant.retrieve("你好").kind == "greeting"


def test_lexical_words_in_why(chars_assistant: Assistant) -> None:
    (hit, *_) = chars_assistant.search("以工代赈项目清单", k=3)
    assert hit.chunk.id == "m6"
    assert any("以工代赈" in w for w in hit.why)


def test_top_k_is_respected(chars_assistant: Assistant) -> None:
    assert len(chars_assistant.retrieve("区人力资源社会保障局负责哪些", top_k=2).matched) == 2
    assert len(chars_assistant.search("就业", k=5)) == 5


class FailingEmbedder(CharEmbedder):
    """Builds an index fine, then fails every query — as a broken model file would."""

    def queries(self, texts):  # noqa: ANN001, ANN201
        raise EmbedderError("模型文件损坏")


def test_dense_failure_degrades_to_lexical(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    bot = Assistant.load(index_dir=tmp_path, embedder=FailingEmbedder())
    r = bot.retrieve("以工代赈项目清单")
    assert r.kind == "answer" and r.matched[0].chunk.id == "m6"
    assert bot.status()["status"] == "degraded" and "模型文件损坏" in bot.status()["reason"]
    bot.retrieve("创业担保贷款")
    assert sum("dense retrieval disabled" in rec.message for rec in caplog.records) == 1


def test_warming_the_query_vectors_changes_no_answer(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Batch-embedding questions ahead (an evaluation run) is a cache fill: the same hits, in the same order."""
    questions = ["送外卖的有没有保险补贴", "第十四条是什么", "城阳哪家火锅好吃", "以工代赈", "高校毕业生就业见习"]
    cold = Assistant.load(index_dir=tmp_path_factory.mktemp("cold"), embedder="chars")
    warm = Assistant.load(index_dir=tmp_path_factory.mktemp("warm"), embedder="chars")
    assert warm.retriever.warm(questions) == len(questions) and warm.retriever.warm(questions) == 0
    for q in questions:
        a, b = cold.retrieve(q), warm.retrieve(q)
        assert (a.kind, [(h.chunk.id, h.dense) for h in a.hits]) == (b.kind, [(h.chunk.id, h.dense) for h in b.hits]), q
