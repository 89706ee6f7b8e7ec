"""The answer and query-vector caches: a repeated question is answered from memory, and never
with an answer that depends on something the cache key left out."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant import Assistant


def test_a_repeated_question_is_answered_from_the_cache_without_running_the_pipeline(
    chars_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How fast that is, is `policy-assistant bench`'s 重复问题 p50; here: that nothing is recomputed.
    q = "灵活就业人员意外伤害保险补贴"
    first = chars_assistant.ask(q)

    def not_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("a repeated question went through retrieval and planning again")

    monkeypatch.setattr(chars_assistant.planner, "plan", not_again)
    monkeypatch.setattr(chars_assistant.retriever, "retrieve", not_again)
    for _ in range(3):
        assert chars_assistant.ask(q) == first


def test_the_same_question_in_other_spacing_or_width_gets_its_own_echo(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("第3条")
    b = chars_assistant.ask("第３条 ")  # full-width digit, trailing space
    assert b.measures == a.measures and b.answer == a.answer
    assert b.question == "第３条"


def test_validity_notes_follow_the_date_not_the_cache(chars_assistant: Assistant) -> None:
    before = chars_assistant.ask("第7条", today=dt.date(2025, 1, 1))
    after = chars_assistant.ask("第7条", today=dt.date(2026, 11, 29))
    assert not any("已过" in n for n in before.measures[0].notes)
    assert any("已过" in n for n in after.measures[0].notes)


def test_context_is_part_of_the_key(chars_assistant: Assistant) -> None:
    about_tax = chars_assistant.ask("那找哪个部门?", context=["m7"])
    about_rider = chars_assistant.ask("那找哪个部门?", context=["m3"])
    without = chars_assistant.ask("那找哪个部门?")
    assert [m.id for m in about_tax.measures] == ["m7"]
    assert [m.id for m in about_rider.measures] == ["m3"]
    assert without.kind == "clarify"


def test_personal_data_never_reaches_the_cache_key_or_the_echo(chars_assistant: Assistant) -> None:
    a = chars_assistant.ask("第3条,我的电话13812345678")
    b = chars_assistant.ask("第3条,我的电话13987654321")
    assert "138" not in a.question and "139" not in b.question
    assert a.measures == b.measures
