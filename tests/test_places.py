"""Place names in questions (assistant/places.py): other places, the covered chain, and the ordinary
words and street names that must not be taken for places. Module-level: no index, no model."""

from __future__ import annotations

import time
from pathlib import Path

import jieba
import pytest

from assistant.corpus import load_corpus
from assistant.errors import CorpusError
from assistant.places import (
    PlaceVerdict,
    Places,
    load_places,
    read_divisions,
    read_place_words,
    short_name,
)

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def places() -> Places:
    return load_places(load_corpus(CORPUS), jieba.Tokenizer())


@pytest.mark.parametrize(
    ("question", "place"),
    [
        ("广州灵活就业补贴标准", "广州"),
        ("杭州2019年大学生创业补贴", "杭州"),
        ("成都市就业困难人员怎么认定", "成都市"),
        ("黄岛区高校毕业生就业补贴", "黄岛区"),
        ("即墨灵活就业社保补贴", "即墨"),  # a sibling district, by its short name
        ("即墨市灵活就业补贴", "即墨市"),  # its superseded suffix
        ("胶州市职业技能培训补贴", "胶州市"),
        ("江苏省高技能人才奖补", "江苏省"),
        ("新疆就业补贴", "新疆"),
        ("海淀区大学生就业补贴申请", "海淀区"),
        ("和平区就业补贴", "和平区"),  # an ambiguous short name still counts with its suffix
        ("西安外卖骑手意外伤害保险补贴", "西安"),  # 西安市 outranks the two 西安区
        ("廣州靈活就業補貼", "广州"),  # traditional script, reported simplified
    ],
)
def test_other_places_are_found_as_written(places: Places, question: str, place: str) -> None:
    assert places.read(question).other == place


@pytest.mark.parametrize(
    ("question", "chain"),
    [
        ("青岛灵活就业补贴", "青岛"),
        ("青岛市创业担保贷款贴息", "青岛市"),
        ("山东省重点群体创业税收优惠", "山东省"),
        ("城阳区以工代赈项目有哪些", "城阳区"),
        ("国家稳岗扩岗专项贷款利率", "国家"),
        ("城阳新区招聘会", "城阳"),  # jieba cuts 城|阳新|区; 阳新 (Hubei) must not win
    ],
)
def test_the_covered_chain_is_not_another_place(places: Places, question: str, chain: str) -> None:
    assert places.read(question) == PlaceVerdict(other=None, chain=chain)


@pytest.mark.parametrize(
    "question",
    [
        "流亭街道就享家乐业服务站",
        "铁骑山路农民工市场",
        "重庆路招聘会",  # a Qingdao street named after a city
        "中山大学毕业生就业",
        "我是河南人在城阳打工",  # where the asker comes from
        "陇南市成县劳务对接",  # named by the document itself (m11)
        "甘肃劳务协作",  # …and so is the province those lie in
        "朝阳行业就业岗位多吗",
        "祝您安康",
        "和平年代也要就业",
        "长安汽车招工",
        "开发区就业",
        "新区有什么岗位",
        "京津冀",  # one character of a name (北京, 天津) is never a name
    ],
)
def test_ordinary_words_and_streets_are_not_other_places(places: Places, question: str) -> None:
    assert places.read(question).other is None


def test_chain_and_covered_area_come_from_the_issuing_office(places: Places) -> None:
    assert places.covered == "山东省青岛市城阳区"
    assert places.district == "城阳区"
    # Another issuer, another chain: nothing about Chengyang is written into the code.
    divisions, nations = read_divisions()
    words = read_place_words(CORPUS / "lexicon" / "places.tsv")
    tianhe = Places(divisions, nations, "广州市天河区人民政府办公室", "", words, places.tokenizer)
    assert tianhe.covered == "广东省广州市天河区"
    assert tianhe.read("广州灵活就业补贴") == PlaceVerdict(other=None, chain="广州")
    assert tianhe.read("城阳区灵活就业补贴").other == "城阳区"


def test_unknown_issuer_is_a_corpus_error(places: Places) -> None:
    divisions, nations = read_divisions()
    with pytest.raises(CorpusError):
        Places(divisions, nations, "某某办公室", "", places.words, places.tokenizer)


@pytest.mark.parametrize(
    ("name", "short"),
    [("广州市", "广州"), ("新疆维吾尔自治区", "新疆"), ("内蒙古自治区", "内蒙古"), ("恩施土家族苗族自治州", "恩施"), ("即墨区", "即墨")],
)
def test_short_names(name: str, short: str) -> None:
    _, nations = read_divisions()
    assert short_name(name, nations) == short


def test_gazetteer_has_every_level() -> None:
    divisions, _ = read_divisions()
    by_rank = {r: sum(d.rank == r for d in divisions) for r in (0, 1, 2)}
    assert by_rank[0] >= 34 and by_rank[1] >= 330 and by_rank[2] >= 2800
    assert any(d.name == "城阳区" and d.code == "370214" for d in divisions)


def test_malformed_place_words_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "places.tsv"
    path.write_text("# comment\nnational\t国家\nplaces 广州\n", encoding="utf-8")
    with pytest.raises(CorpusError) as exc:
        read_place_words(path)
    assert str(path) in str(exc.value) and "3" in str(exc.value)


def test_reading_a_question_is_cheap(places: Places) -> None:
    questions = ["广州灵活就业补贴标准", "城阳 创业担保贷款 贴息", "我是河南人在城阳打工，有什么政策"] * 100
    # This thread's CPU time, not wall time: other processes keeping the cores busy do not count.
    start = time.thread_time()
    for q in questions:
        places.read(q)
    assert (time.thread_time() - start) / len(questions) < 0.002
