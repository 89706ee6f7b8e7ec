"""The answer contract (GUIDE §3) and what a reader sees in the rendered text."""

from __future__ import annotations

import datetime as dt

from assistant import Assistant

PHONE = "0532-58659939"
CONTRACT_KEYS = {"question", "matched", "kind", "measures", "phone", "answer"}
MEASURE_KEYS = {"id", "number", "doc", "title", "section", "quote", "highlights", "lead_units", "notes", "score",
                "label", "doc_title", "doc_number", "phone"}  # fmt: skip


def test_contract_shape_and_rendered_answer(chars_assistant: Assistant) -> None:
    d = chars_assistant.ask("第7条是什么").to_dict()
    assert set(d) == CONTRACT_KEYS
    assert d["matched"] is True and d["kind"] == "answer" and d["phone"] == PHONE
    m = d["measures"][0]
    assert set(m) == MEASURE_KEYS
    chunk = chars_assistant.chunk("m7")
    assert (m["id"], m["number"], m["doc"], m["title"]) == ("m7", 7, "chengyang-2024-13", chunk.title)
    assert m["quote"] == chunk.text and isinstance(m["lead_units"], list)
    text = d["answer"]
    assert f"第7条 {chunk.title}" in text and chunk.text in text
    assert "责任单位:" + "、".join(chunk.lead_units) in text
    assert PHONE in text


def test_no_match_answer(chars_assistant: Assistant) -> None:
    d = chars_assistant.ask("城阳哪家火锅好吃").to_dict()
    assert d["matched"] is False and d["kind"] == "no_match" and d["measures"] == []
    assert "没有找到" in d["answer"] and PHONE in d["answer"]


def test_greeting_introduces_itself_with_examples_from_the_corpus(chars_assistant: Assistant) -> None:
    d = chars_assistant.ask("你好").to_dict()
    assert d["kind"] == "greeting" and d["matched"] is False and d["measures"] == []
    assert PHONE in d["answer"]
    assert all(example in d["answer"] for example in chars_assistant.suggestions()[:3])
    assert "不客气" in chars_assistant.ask("谢谢").answer


def test_at_most_three_measures(chars_assistant: Assistant) -> None:
    assert len(chars_assistant.ask("区人力资源社会保障局负责哪些").measures) == 3


def test_passed_deadline_is_flagged_relative_to_today(chars_assistant: Assistant) -> None:
    later = chars_assistant.ask("第7条", today=dt.date(2026, 11, 27)).measures[0].notes
    assert any("2025年12月31日" in n and "已过" in n for n in later)
    before = chars_assistant.ask("第7条", today=dt.date(2025, 1, 1)).measures[0].notes
    assert not any("已过" in n for n in before)


def test_this_year_note_only_where_the_text_says_this_year(chars_assistant: Assistant) -> None:
    assert any("2024年" in n for n in chars_assistant.ask("第9条").measures[0].notes)  # "年内新建…"
    assert not any("年内" in n for n in chars_assistant.ask("第3条").measures[0].notes)  # "离校2年内"


def test_answer_for_chunk_is_the_copyable_reply(chars_assistant: Assistant) -> None:
    a = chars_assistant.answer_for("m10")
    assert a.measures[0].id == "m10" and "区退役军人事务局" in a.answer and PHONE in a.answer


def test_personal_data_is_never_echoed(chars_assistant: Assistant) -> None:
    mobile = "13812345678"
    d = chars_assistant.ask(f"第3条，我电话{mobile}").to_dict()
    assert mobile not in str(d) and "[手机号]" in d["question"]
    assert d["measures"][0]["id"] == "m3"
