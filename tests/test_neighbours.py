"""Neighbouring public services (corpus/lexicon/neighbours.tsv): parsed with their referral, and
decided by the question's subject — a named neighbour wins unless a measure covers that very subject."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import CorpusError
from assistant.text import Lexicon

LEXICON = Path(__file__).resolve().parent.parent / "corpus" / "lexicon"
# Where no public service handles the topic, the decline gives our phone only.
NO_REFERRAL = {"天气生活", "金融投资", "娱乐闲聊", "指令注入", "数学常识"}


def test_every_service_has_a_hotline_referral() -> None:
    neighbours = Lexicon(LEXICON).neighbours
    for nb in neighbours:
        if nb.topic in NO_REFERRAL:
            assert nb.referral == "", nb.topic
        else:
            assert re.search(r"\b123\d\d\b", nb.referral), nb.topic
    by_topic = {nb.topic: nb.referral for nb in neighbours}
    assert "12333" in by_topic["社保卡"] and "12333" in by_topic["失业保险金"] and "12333" in by_topic["职称评审"]
    assert "12393" in by_topic["医疗保险"] and "12329" in by_topic["住房公积金"]
    assert "12366" in by_topic["个人所得税"] and "12366" in by_topic["残疾人就业保障金"]


def test_three_or_four_columns_and_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "neighbours.tsv").write_text(
        "# comment\n医保\t医保|报销\t医保报销\t医保服务热线 12393\n天气\t天气\t天气预报\n", encoding="utf-8"
    )
    a, b = Lexicon(tmp_path).neighbours
    assert (a.topic, a.names, a.referral) == ("医保", ("医保", "报销"), "医保服务热线 12393")
    assert b.referral == ""
    (tmp_path / "neighbours.tsv").write_text("医保\t医保\t描述\t12393\t多余\n", encoding="utf-8")
    with pytest.raises(CorpusError) as exc:
        Lexicon(tmp_path)
    assert "neighbours.tsv" in str(exc.value) and "1" in str(exc.value)


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("残疾人就业保障金怎么交", "残疾人就业保障金"),  # 残疾人 and 就业 are policy words; the subject is the levy
        ("企业残疾人就业保障金申报", "残疾人就业保障金"),
        ("高校毕业生落户青岛", "人才引进与落户"),  # 高校毕业生 is who asks (m9), 落户 what
        ("职称评审报名时间", "职称评审"),
        ("山东省就业见习补贴标准", "就业见习"),  # 就业 and 补贴 are policy words; 见习 is not in it
        ("失业补助金申领", "失业保险金"),
        ("农民工失业保险金怎么领", "失业保险金"),
        ("灵活就业人员社保缴费基数", "社保缴费与转移"),
        ("高校毕业生档案转递", "人事档案"),
        ("电工证查询", "职业资格证书查询"),
        ("社保卡怎么办", "社保卡"),
    ],
)
def test_a_named_neighbour_is_declined(chars_assistant: Assistant, question: str, topic: str) -> None:
    r = chars_assistant.retrieve(question)
    assert r.kind == "no_match" and r.matched == ()
    assert r.neighbour == topic


@pytest.mark.parametrize(
    ("question", "expect"),
    [
        ("灵活就业人员社保补贴", {"m3", "m7"}),  # a subsidy the policy grants, not 社保缴费
        ("职业培训补贴怎么报销", {"m5"}),  # 报销 named, but the rest of the question is m5's subject
        ("残疾人就业有什么扶持", {"m11"}),
        ("第十一条 残保金", {"m11"}),  # a measure cited by number wins
    ],
)
def test_a_measure_that_covers_the_subject_wins(chars_assistant: Assistant, question: str, expect: set[str]) -> None:
    r = chars_assistant.retrieve(question)
    assert r.kind == "answer" and r.matched[0].chunk.id in expect


def test_a_name_inside_a_glossary_variant_is_the_variants(chars_assistant: Assistant) -> None:
    # 工伤险 is glossary.tsv's word for the policy's 意外伤害保险补贴, not the 工伤 service.
    retriever = chars_assistant.retriever
    assert retriever.evidence("送外卖的有工伤险补贴吗").neighbour_named is None
    assert retriever.evidence("工伤认定材料").neighbour_named == "工伤"


def test_names_the_policy_uses_are_never_neighbours(chars_assistant: Assistant) -> None:
    # 提档 (提档升级) is in the policy text, so it cannot name the 人事档案 service.
    assert chars_assistant.retriever.evidence("创新创业提档升级").neighbour_named is None
