"""Answers that answer (issue 8): key sentences, follow-ups, group lists, two-part questions,
suggestions that follow the answer, and related documents quoted under their own name.

The model-free `chars` embedder is enough here: what is tested is how a question's own words,
its intent and the previous answer decide what is shown, not semantic similarity."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.intent import IntentReader
from assistant.multipart import split_parts
from assistant.suggest import NEXT_QUESTIONS

REPO = Path(__file__).resolve().parent.parent
PHONE = "0532-58659939"
RIDER = "灵活就业人员意外伤害保险补贴标准是多少"


def first(answer):  # noqa: ANN001, ANN201
    return answer.measures[0]


# ---- highlights ------------------------------------------------------------------------------


def test_highlight_is_the_sentence_that_answers_verbatim_and_short(chars_assistant: Assistant) -> None:
    m = first(chars_assistant.ask(RIDER))
    assert m.id == "m3"
    assert len(m.highlights) >= 1 and all(h in m.quote for h in m.highlights)
    assert any("100元" in h for h in m.highlights)
    assert sum(map(len, m.highlights)) <= 0.5 * len(m.quote)
    # In text order, and the title sentence ("实施灵活就业促进工程。") is not a highlight.
    positions = [m.quote.index(h) for h in m.highlights]
    assert positions == sorted(positions) and not m.highlights[0].startswith(m.title)


def test_the_text_answer_leads_with_the_highlight(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask(RIDER)
    hl = first(a).highlights[0]
    assert a.answer.index(hl) < a.answer.index(first(a).quote)
    assert PHONE in a.answer


@pytest.mark.parametrize(
    ("question", "figure"),
    [
        ("稳岗扩岗专项贷款单户授信额度最高多少", "3000万元"),
        ("稳岗扩岗专项贷款的优惠贷款利率是多少", "4%"),
        ("城乡公益性岗位今年新开发多少个", "1500个"),
        ("就享家乐业服务站年内新建多少家", "16家"),
        ("专业性招聘活动多久组织一次", "每周"),
        ("企业开办时间压减到几个工作日", "0.5个工作日"),
        ("青年社区能提供多少套房子", "4000间"),  # asked with 套, stated with 间: any counter word
    ],
)
def test_a_question_for_a_figure_highlights_the_sentence_stating_it(
    chars_assistant: Assistant, question: str, figure: str
) -> None:
    m = first(chars_assistant.ask(question))
    assert any(figure in h for h in m.highlights), (question, m.id, m.highlights)


def test_asking_which_department_leads_with_the_units(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("第7条找哪个部门办")
    units = "、".join(first(a).lead_units)
    assert a.answer.index("责任单位:" + units) < a.answer.index(first(a).quote)


def test_a_fact_the_measure_does_not_state_is_said_plainly(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("第10条的补贴金额是多少")  # m10 states no amount
    assert first(a).id == "m10" and "文件中没有写明具体金额" in a.answer and PHONE in a.answer


# ---- follow-ups ------------------------------------------------------------------------------


def test_which_department_after_the_tax_answer_is_about_the_tax_measure(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("那这个找哪个部门办?", context=["m7"])
    assert a.kind == "answer" and [m.id for m in a.measures] == ["m7"] and a.context_used
    assert "城阳区税务局" in a.answer.split("\n")[0]


def test_still_valid_after_the_tax_answer_gives_the_validity_note(chars_assistant: Assistant) -> None:
    import datetime as dt

    a = chars_assistant.ask("现在还能享受吗?", context=["m7"], today=dt.date(2026, 11, 29))
    assert first(a).id == "m7"
    assert "2025年12月31日" in a.answer.split("\n")[0] and "已过" in a.answer.split("\n")[0]


def test_how_much_after_the_rider_answer_is_the_amount(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("一年补多少钱?", context=["m3"])
    assert a.matched and any("100元" in h for h in first(a).highlights)


def test_a_question_with_its_own_topic_ignores_the_context(chars_assistant: Assistant) -> None:
    assert first(chars_assistant.ask("第十二条呢", context=["m7"])).id == "m12"
    off = chars_assistant.ask("那城阳哪家火锅好吃呢", context=["m7"])
    assert not off.matched and off.kind == "no_match" and not off.context_used


def test_an_elliptical_question_without_context_asks_which_measure(chars_assistant: Assistant) -> None:
    for q in ("那找哪个部门?", "现在还能享受吗?", "一年补多少钱?", "这个呢"):
        a = chars_assistant.ask(q)
        assert a.kind == "clarify" and not a.matched and a.measures == (), q
        assert PHONE in a.answer and "哪一项" in a.answer


def test_an_ordinal_points_into_the_previous_answer_not_at_a_measure_number(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("第二个找哪个部门?", context=["m3", "m15"])
    assert [m.id for m in a.measures] == ["m15"] and a.context_used
    # Without a list to point into, 第二个 still cites 第2条.
    assert first(chars_assistant.ask("第二个找哪个部门?")).id == "m2"


def test_an_ordinal_reaches_past_the_third_measure_of_a_group_answer(chars_assistant: Assistant) -> None:
    group = chars_assistant.ask("我是农民工,有哪些政策?")
    listed = [m.id for m in group.measures]
    assert len(listed) >= 4
    a = chars_assistant.ask("第四个找哪个部门?", context=listed)
    assert [m.id for m in a.measures] == [listed[3]] and a.context_used


@pytest.mark.parametrize(
    ("question", "context"),
    [
        ("这两个分别找谁", ["m3", "m15"]),  # 这两个: the whole previous answer
        ("还有别的部门吗", ["m7"]),  # 别的/其他: more about the same measure, not a new topic
        ("还有其他负责单位吗?", ["m12"]),
    ],
)
def test_plural_and_other_words_keep_the_question_about_the_previous_answer(
    chars_assistant: Assistant, question: str, context: list[str]
) -> None:
    a = chars_assistant.ask(question, context=context)
    assert [m.id for m in a.measures] == context and a.context_used, question
    assert a.answer.startswith("▶")  # the 责任单位 lines lead


def test_a_department_of_the_measure_just_discussed_is_asked_about_in_it(chars_assistant: Assistant) -> None:
    """「那妇联管哪样？」 after the skills-training measure asks what 妇联 does in it — not for every measure 妇联 is
    responsible for. The departments are the measure's own (its 责任单位 line), said by their short names."""
    training = chars_assistant.chunk("m15")
    assert training is not None
    short = [u.removeprefix("区") for u in training.lead_units if u.startswith("区") and len(u) == 3]  # 妇联, 残联
    assert short
    for name in short:
        a = chars_assistant.ask(f"那{name}管哪一块？", context=["m15"])
        assert [m.id for m in a.measures] == ["m15"] and a.context_used, name
        # Alone, the question is about the department: another of its measures may come first.
        assert not chars_assistant.ask(f"那{name}管哪一块？").context_used
    # A topic of its own beyond the department is read on its own, and so is a word that only sounds like one:
    # the glossary reads 「残疾证」 as 残疾人 and 残联, but the asker named no department.
    assert not chars_assistant.ask(f"那{short[0]}的老年食堂在哪", context=["m15"]).context_used
    assert not chars_assistant.ask("俺那残疾证快过期了，咋换？", context=["m11"]).context_used


def test_unknown_context_ids_are_dropped_not_an_error(chars_assistant: Assistant) -> None:
    assert chars_assistant.ask("找哪个部门?", context=["m99", "nonsense"]).kind == "clarify"


# ---- groups ----------------------------------------------------------------------------------


def test_groups_are_computed_from_the_measure_texts(chars_assistant: Assistant) -> None:
    groups = {g.name: g for g in chars_assistant.groups.groups}
    assert {"退役军人", "高校毕业生", "小微企业", "残疾人"} <= set(groups)
    for g in groups.values():
        assert g.measures, g.name
        for cid in g.measures:
            assert any(w in chars_assistant.chunk(cid).text for w in g.policy_words), (g.name, cid)
        others = [c.id for c in chars_assistant.corpus.primary_doc.measures if c.id not in g.measures]
        for cid in others:
            assert not any(w in chars_assistant.chunk(cid).text for w in g.policy_words), (g.name, cid)


def test_a_broad_group_question_lists_every_measure_for_the_group(chars_assistant: Assistant) -> None:
    small = chars_assistant.groups.get("小微企业")
    assert small is not None and len(small.measures) > 1
    a = chars_assistant.ask("小微企业能享受哪些扶持?")
    assert sorted(m.id for m in a.measures) == sorted(small.measures)
    for m in a.measures:  # each with its sentence about that group
        assert any("小微企业" in h for h in m.highlights), (m.id, m.highlights)


def test_colloquial_group_words_find_the_group(chars_assistant: Assistant) -> None:
    veterans = chars_assistant.groups.get("退役军人")
    assert veterans is not None
    a = chars_assistant.ask("我是退伍兵,能享受什么政策?")
    assert {m.id for m in a.measures} == set(veterans.measures)


@pytest.mark.parametrize(
    ("question", "group"),
    [
        ("残疾人朋友有哪些帮扶", "残疾人"),  # 朋友: a word the policy never uses
        ("我是农民工,有哪些政策能用上", "农民工和农村劳动力"),
        ("我们小微企业能得到哪些支持", "小微企业"),  # 能得到哪些
        ("给妇女的政策都有啥", "妇女"),  # the noun first, then 都有啥
        ("退役军人有没有什么扶持", "退役军人"),
        # Where the answer is written and what it relates to are the frame, not a topic (generic.txt):
        ("文件里跟残疾人有关的都有哪些", "残疾人"),
        ("文件里给妇女的政策有哪几条", "妇女"),  # 哪几条: which articles, i.e. all of them
        ("跟退役军人相关的是哪几条", "退役军人"),
        ("俺 是 残疾人 都 能 享受 哪些 政策", "残疾人"),  # a voice transcript, a space between every word
        # A pinyin keyboard's same-sound typo of the group's name is still that group (read as repaired).
        ("残急人在城阳就业有啥政策", "残疾人"),
        ("小微企叶有哪些优惠政策", "小微企业"),
    ],
)
def test_group_questions_in_everyday_phrasings_list_the_whole_group(
    chars_assistant: Assistant, question: str, group: str
) -> None:
    g = chars_assistant.groups.get(group)
    assert g is not None
    plan = chars_assistant.plan(question)
    assert plan.groups == (group,), question
    assert sorted(s.hit.chunk.id for s in plan.shown) == sorted(g.measures)


def test_a_group_question_about_an_uncovered_service_is_declined_not_listed(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("退役军人医保有哪些政策")
    assert a.kind == "no_match" and a.measures == ()


def test_a_group_question_with_a_topic_of_its_own_is_answered_by_retrieval(chars_assistant: Assistant) -> None:
    plan = chars_assistant.plan("大学生创业担保贷款有什么政策")
    assert plan.groups == () and plan.shown[0].hit.chunk.id == "m13"  # 创业担保贷款, not the graduates' list
    assert chars_assistant.plan("我是大学生,有什么政策").groups == ("高校毕业生",)


def test_a_group_answer_lists_the_askers_own_measures_before_the_employers(chars_assistant: Assistant) -> None:
    graduates = chars_assistant.groups.get("高校毕业生")
    assert graduates is not None and graduates.employer_side == ("m7",)  # 小微企业招用…高校毕业生: paid to employers
    a = chars_assistant.ask("我刚毕业还没找到工作,有啥补贴没")
    ids = [m.id for m in a.measures]
    assert sorted(ids) == sorted(graduates.measures) and ids[-1] == "m7"


def test_expired_measures_come_last_in_a_group_answer(chars_assistant: Assistant) -> None:
    employers = chars_assistant.groups.get("用人单位")
    assert employers is not None and employers.employer_side == ()  # the employers' own group
    early = [s.hit.chunk.id for s in chars_assistant.planner.plan("用人单位能享受哪些政策", today=dt.date(2024, 8, 1)).shown]
    late = [s.hit.chunk.id for s in chars_assistant.planner.plan("用人单位能享受哪些政策", today=dt.date(2026, 6, 1)).shown]
    assert sorted(early) == sorted(late) == sorted(employers.measures)
    # m7's tax relief ran to 2025-12-31, m8's lower premium rate to the end of 2024.
    assert late.index("m11") < late.index("m7") and late.index("m11") < late.index("m8")


def test_a_qualified_group_question_lists_the_whole_group(chars_assistant: Assistant) -> None:
    disabled = chars_assistant.groups.get("残疾人")
    assert disabled is not None
    plan = chars_assistant.plan("残疾人有哪些就业方面的扶持")
    assert plan.groups == ("残疾人",) and sorted(s.hit.chunk.id for s in plan.shown) == sorted(disabled.measures)


def test_a_group_question_about_another_benefit_is_not_the_group_list(chars_assistant: Assistant) -> None:
    plan = chars_assistant.plan("我是宝妈,孩子上幼儿园有补助吗")
    assert plan.groups == ()


# ---- two-part questions ----------------------------------------------------------------------


def test_split_keeps_the_order_asked() -> None:
    assert split_parts("创业担保贷款和企业开办分别找哪个部门?") == ("创业担保贷款", "企业开办找哪个部门")
    assert split_parts("送外卖的骑手有没有保险补贴?") == ("送外卖的骑手有没有保险补贴",)


def test_each_part_is_answered_in_the_order_asked(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("创业担保贷款和企业开办分别找哪个部门?")
    assert [m.id for m in a.measures][:2] == ["m13", "m14"]
    lines = a.answer.split("\n")
    assert "区人力资源社会保障局、区总工会" in lines[0] and "区行政审批局" in lines[1]


def test_each_is_a_split_only_right_before_what_is_asked() -> None:
    assert split_parts("创业担保贷款、骑手意外险各找哪个部门") == ("创业担保贷款", "骑手意外险找哪个部门")
    assert split_parts("区人社局、各街道办事处负责什么") == ("区人社局、各街道办事处负责什么",)


def test_the_question_asked_of_both_parts_after_a_comma_is_not_a_part_of_its_own() -> None:
    # 「，分别…」「，这两样…」「，各是…」 ask the same of every part named before them; as a part of their own they were
    # looked up (「是文件哪一条说的」 → the issuing notice) and the whole split was dropped.
    assert split_parts("现代学徒制和订单班，分别是文件哪一条说的") == ("现代学徒制", "订单班")
    assert split_parts("以工代赈和城乡公益性岗位，这两样俺们村的人都能报吗") == ("以工代赈", "城乡公益性岗位")
    assert split_parts("工匠学院和技能大师工作室，各是干啥的") == ("工匠学院", "技能大师工作室")


def test_two_questions_of_what_something_is_are_answered_each(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("工匠学院和技能大师工作室，各是干啥的")
    assert [m.id for m in a.measures][:2] == ["m15", "m16"]
    assert split_parts("城驿家驿站是干嘛的？一刻钟便民生活圈又是啥？", chars_assistant.planner.intents.asks_something) == (
        "城驿家驿站是干嘛的",
        "一刻钟便民生活圈又是啥",
    )


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        # The salutation and who is writing ask nothing; 一是…二是… and 另外 / 顺便问下 open the parts.
        (
            "尊敬的领导您好，本人是网约车司机，想问两件事：一是意外伤害保险补贴标准是多少，二是创业担保贷款找谁办？",
            ("意外伤害保险补贴标准是多少", "创业担保贷款找谁办"),
        ),
        (
            "领导好，我是厂里管人事的，稳岗返还怎么申请，另外技能人才自主评价谁来组织？",
            ("稳岗返还怎么申请", "技能人才自主评价谁来组织"),
        ),
        ("零工市场在哪 顺便问下就享家乐业服务站建了几家", ("零工市场在哪", "就享家乐业服务站建了几家")),
        # Spoken northern questions ask with 咋 and a clause-final 不: the introduction before them is still no part.
        (
            "俺公司四十人，稳岗返还咋申请，以及招就业困难人员的社保补贴咋拿？",
            ("稳岗返还咋申请", "招就业困难人员的社保补贴咋拿"),
        ),
        (
            "俺家小子是持证残疾人，区里能帮着推荐岗位不？另外有没有给残疾人的技能培训",
            ("区里能帮着推荐岗位不", "有没有给残疾人的技能培训"),
        ),
        # One question told over several clauses stays whole.
        ("我是去年毕业的，现在打零工，有补贴不", ("我是去年毕业的,现在打零工,有补贴不",)),
        ("我是去年毕业的，现在打零工，有补贴吗", ("我是去年毕业的,现在打零工,有补贴吗",)),
    ],
)
def test_a_letter_with_two_questions_is_split_after_its_introduction(
    chars_assistant: Assistant, question: str, parts: tuple[str, ...]
) -> None:
    assert split_parts(question, chars_assistant.planner.intents.asks_something) == parts


def test_a_letter_with_two_questions_answers_both(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("尊敬的领导您好，本人是网约车司机，想问两件事：一是意外伤害保险补贴标准是多少，二是创业担保贷款找谁办？")
    assert [m.id for m in a.measures][:2] == ["m3", "m13"]


def test_and_inside_one_topic_is_not_split(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("助力退役军人和妇女就业创业")
    assert first(a).id == "m10"


# ---- suggestions -----------------------------------------------------------------------------


def test_suggestions_follow_the_answer_and_read_as_follow_ups(chars_assistant: Assistant, tmp_path: Path) -> None:
    a = chars_assistant.ask(RIDER)
    assert a.suggestions and "补贴标准是多少?" not in a.suggestions  # just answered (amount)
    assert "找哪个部门办?" in a.suggestions
    b = chars_assistant.ask("第十条讲的什么")
    assert "补贴标准是多少?" not in b.suggestions  # m10 states no amount
    assert a.suggestions != b.suggestions
    reader = IntentReader(chars_assistant.lexicon, chars_assistant.groups.words())
    for _, wording in NEXT_QUESTIONS:
        assert reader.read(wording).elliptical, wording


def test_tapping_a_suggestion_with_context_answers_about_that_measure(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask(RIDER)
    chip = next(s for s in a.suggestions if "部门" in s)
    b = chars_assistant.ask(chip, context=[m.id for m in a.measures])
    assert first(b).id == "m3" and "区人力资源社会保障局" in b.answer.split("\n")[0]


# ---- related documents -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_docs(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("two-docs")
    shutil.copytree(REPO / "corpus", root / "corpus")
    shutil.copy(REPO / "tests" / "data" / "related-rule.txt", root / "corpus" / "lingong-2024.txt")
    return Assistant.load(root / "corpus", root / "index", "chars")


def test_a_related_rule_is_quoted_under_its_own_title_number_and_phone(two_docs: Assistant) -> None:
    a = two_docs.ask("零工驿站每日几点开放")
    m = first(a)
    assert m.id == "lingong-2024:m1" and m.doc == "lingong-2024"
    assert "《城阳区零工驿站服务规范》(城人社发〔2024〕99号)" in a.answer
    assert "0532-58650000" in a.answer and PHONE in a.answer
    # Quoted under its own title, first: a primary measure may follow (第3条 speaks of 零工), never lead.
    own = a.answer.index("根据《城阳区零工驿站服务规范》")
    assert own < a.answer.find("根据《城阳区稳定和扩大就业") or "根据《城阳区稳定和扩大就业" not in a.answer
    assert re.search(r"《城阳区零工驿站服务规范》\(城人社发〔2024〕99号\)第1条", a.answer)
    assert (m.label, m.doc_number, m.phone) == ("第1条", "城人社发〔2024〕99号", "0532-58650000")


def test_a_bare_number_prefers_the_primary_document_and_says_so(two_docs: Assistant) -> None:
    a = two_docs.ask("第三条是什么")
    assert first(a).id == "m3"
    assert "《城阳区零工驿站服务规范》也有第3条" in a.answer


# ---- starter examples ------------------------------------------------------------------------


def test_starter_examples_are_faq_questions_the_assistant_answers(chars_assistant: Assistant) -> None:
    import json

    lines = (REPO / "eval" / "faq.jsonl").read_text(encoding="utf-8").splitlines()
    faq = {json.loads(line)["q"]: json.loads(line) for line in lines if line.strip()}
    examples = chars_assistant.suggestions()
    assert len(examples) >= 4 and len(set(examples)) == len(examples)
    for q in examples:
        assert q in faq, q  # drawn from the FAQ, not invented
        assert faq[q]["expect"], q  # an in-scope question
    # One per topic: no two examples expect the same measure first.
    firsts = [faq[q]["expect"][0] for q in examples]
    assert len(set(firsts)) == len(firsts)


# ---- other places and other years (issue 10) -------------------------------------------------


def test_another_city_is_declined_naming_it_and_the_covered_area(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("广州灵活就业补贴标准")
    assert not a.matched and a.kind == "no_match" and a.measures == ()
    assert "广州" in a.answer and "青岛市城阳区" in a.answer and PHONE in a.answer
    # Even as a follow-up: context does not make Guangzhou's question ours.
    assert not chars_assistant.ask("那广州呢", context=["m3"]).matched


def test_a_place_in_the_chain_is_answered_with_a_note(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("青岛灵活就业人员意外伤害保险补贴")
    assert first(a).id == "m3"
    assert a.answer.startswith("说明:您问到“青岛”") and "城阳区" in a.answer.split("\n")[0]
    plain = chars_assistant.ask("城阳区灵活就业人员意外伤害保险补贴")
    assert first(plain).id == "m3" and not plain.answer.startswith("说明:")


def test_another_year_gets_what_the_document_says_about_it(chars_assistant: Assistant) -> None:
    import datetime as dt

    today = dt.date(2026, 11, 29)
    before = chars_assistant.ask("2020年灵活就业人员意外伤害保险补贴", today=today)
    assert first(before).id == "m3" and "2020年" in before.answer.split("\n")[0] and "2024年7月16日" in before.answer
    after = chars_assistant.ask("2026年重点群体就业创业税收优惠政策", today=today)
    head = after.answer.split("\n")[0]
    assert first(after).id == "m7" and "2026年" in head and "第7条" in head and "已过" in head


def test_latest_wording_puts_the_validity_note_first(chars_assistant: Assistant) -> None:
    import datetime as dt

    a = chars_assistant.ask("重点群体就业创业税收优惠最新政策", today=dt.date(2026, 11, 29))
    assert first(a).id == "m7" and "已过" in a.answer.split("\n")[0]


def test_a_question_about_one_benefit_is_not_a_group_list(chars_assistant: Assistant) -> None:
    # 「有什么保险补贴」 asks about 保险, not "what is there for riders".
    # (Which measure answers it is the real model's job: tests/test_models.py.)
    plan = chars_assistant.plan("送外卖的骑手有没有什么保险补贴？")
    assert plan.groups == () and "保险" in plan.intent.topic
    assert chars_assistant.plan("我是送外卖的骑手,有什么政策？").groups == ("灵活就业人员",)
