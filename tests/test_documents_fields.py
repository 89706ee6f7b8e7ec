"""The lead rule's reading of fields (corpus/lexicon/fields.tsv): which field or fact a question asks for, and whether
a related chunk states it — by its heading, or by a sentence about the question's subject."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.documents.fields import HEADED, NOT, STATED, LeadRule
from assistant.documents.model import Chunk, ChunkKind
from assistant.text import Lexicon

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rule() -> LeadRule:
    return LeadRule(Lexicon(REPO / "corpus" / "lexicon"))


def chunk(kind: ChunkKind, ref: str, text: str) -> Chunk:
    return Chunk(f"doc:{ref}", "doc", kind, None, ref, "政策问答（示例）", text, (), 1, ref=ref)


QA_HOW = chunk(
    "qa", "灵活就业社会保险补贴怎么申请？", "灵活就业后缴纳社会保险费的，可在每年6月和12月向户籍所在街道申请。"
)


def test_a_qa_pair_about_applying_states_when_to_apply(rule: LeadRule) -> None:
    assert "when" in rule.asked("灵活就业社保补贴每年什么时候申请")
    assert rule.strength(QA_HOW, "灵活就业社保补贴每年什么时候申请") == STATED
    # Its heading is 怎么申请: asked how to apply, it is headed by what was asked.
    assert rule.strength(QA_HOW, "灵活就业社保补贴怎么申请") == HEADED


def test_a_chunk_headed_by_another_field_is_not_read_for_loose_facts(rule: LeadRule) -> None:
    """A guide's 申请对象 mentions 1年以上 without stating how long the procedure takes."""
    who = chunk("field", "申请对象", "在本区首次创办小微企业并正常经营1年以上的高校毕业生。")
    assert rule.strength(who, "一次性创业补贴多久能办下来") == NOT
    assert rule.strength(chunk("field", "办理时限", "15个工作日"), "一次性创业补贴多久能办下来") == HEADED
    # A field's own evidence is read whatever the heading: a Q&A answer that ends with its phone number states it.
    where = chunk("qa", "到哪里办理？", "到街道社会保障服务中心办理，咨询电话0532-87865555。")
    assert rule.strength(where, "灵活就业社保补贴的咨询电话") == STATED


def test_a_fee_is_not_an_amount(rule: LeadRule) -> None:
    fee = chunk("field", "收费标准", "不收费")
    assert rule.strength(fee, "一次性创业补贴给多少钱") == NOT
    assert rule.strength(fee, "办理一次性创业补贴收费吗") == HEADED
    notice = chunk("part", "三、服务对象", "有就业意愿的农民工。参加活动的求职人员和企业均不收取任何费用。")
    assert rule.strength(notice, "去招聘会找工作要交费吗", "春风行动专场招聘活动的通知") == STATED


def test_an_article_that_lists_documents_states_the_materials(rule: LeadRule) -> None:
    seventh = chunk("article", "第七条", "申请人持身份证、户口簿、失业登记证明到所在街道办事处提出申请。")
    eighth = chunk("article", "第八条", "审核通过的，在所在街道公示5个工作日，公示无异议的安排上岗。")
    # Read inside its document: the 办法's title names the 公益性岗位 its articles are about.
    title = "城乡公益性岗位管理办法"
    assert rule.strength(seventh, "申请公益性岗位要带哪些证件", title) == STATED
    assert rule.strength(eighth, "申请公益性岗位要带哪些证件", title) == NOT
    assert rule.strength(seventh, "申请公益性岗位要带哪些证件") == NOT  # nothing says what the article is about


def test_how_a_subsidy_is_paid(rule: LeadRule) -> None:
    sixth = chunk("article", "第六条", "岗位补贴按月发放，每季度最后一个月进行一次考核。")
    fifth = chunk("article", "第五条", "按照每人每月2100元的标准发放岗位补贴。")
    asked = "公益性岗位补贴是按月发还是按季度发"
    assert rule.strength(sixth, asked, "城乡公益性岗位管理办法") == STATED
    assert rule.strength(fifth, asked, "城乡公益性岗位管理办法") == NOT


def test_the_words_of_the_field_asked_are_not_the_subject(rule: LeadRule) -> None:
    from assistant.subject import SubjectTerm

    terms = (SubjectTerm("一次性", 3.0, frozenset({"一次性"})), SubjectTerm("咨询电话", 3.0, frozenset({"咨询电话"})))
    kept = rule.subject(terms, "一次性创业补贴的咨询电话是多少")
    assert [t.word for t in kept] == ["一次性"]
    assert rule.share(kept, "政策咨询电话:0532-58659939") == 0.0
    assert rule.share(kept, "一次性创业补贴申领办事指南 咨询电话 0532-87869876") == 1.0


def test_a_count_is_not_a_number_of_working_days(rule: LeadRule) -> None:
    title = "城乡公益性岗位管理办法"
    seventh = chunk("article", "第七条", "申请人提出申请，街道办事处在10个工作日内完成审核。")
    assert rule.strength(seventh, "今年一共开多少个公益性岗位", title) == NOT
    item = chunk("item", "（一）现场招聘", "组织区内重点企业进场招聘，每场提供就业岗位不少于300个。")
    assert rule.strength(item, "春风行动招聘会每场提供多少个岗位", "春风行动专场招聘活动的通知") == STATED
