"""Years and "is it still current?" in questions (assistant/periods.py). Module-level, fast."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine

from assistant import Assistant
from assistant.errors import CorpusError
from assistant.periods import Periods, PeriodVerdict, district_today, lapsed, read_period_words

LEXICON = Path(__file__).resolve().parent.parent / "corpus" / "lexicon"
TODAY = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def periods() -> Periods:
    return Periods.load(LEXICON)


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("2020年城阳灵活就业人员意外伤害保险补贴", (2020,)),
        ("2021城阳创业担保贷款贴息", (2021,)),
        ("二〇二四年城阳就享家乐业服务站", (2024,)),
        ("二零二一年的创业补贴", (2021,)),
        ("22年城阳招聘会", (2022,)),
        ("杭州2019年大学生创业补贴", (2019,)),
        ("2020年和2021年的补贴一样吗", (2020, 2021)),
        ("去年的公益性岗位", (2025,)),
        ("明年还有税收优惠吗", (2027,)),
        ("本年度的稳岗返还", (2026,)),
    ],
)
def test_years_are_read(periods: Periods, question: str, years: tuple[int, ...]) -> None:
    assert periods.read(question, TODAY).years == years


@pytest.mark.parametrize(
    "question",
    [
        "补贴2000元吗",  # an amount
        "单户授信额度最高不超过3000万元",
        "新开发城乡公益性岗位1500个",
        "离校2年内未就业高校毕业生",  # a duration
        "我工作10年了能享受吗",
        "交满15年以上",
        "电话0532-58659939",
    ],
)
def test_amounts_durations_and_numbers_are_not_years(periods: Periods, question: str) -> None:
    assert periods.read(question, TODAY).years == ()


@pytest.mark.parametrize(
    ("question", "latest"),
    [
        ("城阳灵活就业补贴最新", True),
        ("重点群体创业税收优惠现在还有吗", True),
        ("稳岗返还今年还有吗", True),
        ("以工代赈现在还搞吗", True),
        ("城阳灵活就业补贴标准", False),
        ("2020年创业担保贷款", False),
    ],
)
def test_latest_wording(periods: Periods, question: str, latest: bool) -> None:
    assert periods.read(question, TODAY).latest is latest


def test_relative_years_follow_the_given_day(periods: Periods) -> None:
    assert periods.read("今年还有吗", dt.date(2024, 7, 16)) == PeriodVerdict(years=(2024,), latest=True)
    assert periods.read("今年还有吗", dt.date(2030, 1, 1)).years == (2030,)


def test_malformed_period_words_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "periods.tsv"
    path.write_text("latest\t最新\nrelative\t去年=上一年\n", encoding="utf-8")
    with pytest.raises(CorpusError) as exc:
        read_period_words(path)
    assert str(path) in str(exc.value) and "2" in str(exc.value)


@pytest.mark.parametrize("question", ["城阳最新就业政策", "城阳区最近的就业政策"])
def test_asking_for_the_latest_policy_is_answered_not_declined(chars_assistant: Assistant, question: str) -> None:
    """「最新」 says when, not what: it must not count as a topic the policy never mentions."""
    a = chars_assistant.ask(question)
    assert a.kind == "answer" and a.measures, question


# ---- deadlines: which sentence has passed, on the district's day ---------------------------------


def test_the_district_day_is_beijing_time_not_the_servers() -> None:
    # 17:30 UTC on 31 December is already 1 January in Chengyang.
    with time_machine.travel(dt.datetime(2025, 12, 31, 17, 30, tzinfo=dt.UTC), tick=False):
        assert district_today() == dt.date(2026, 1, 1)
    with time_machine.travel(dt.datetime(2025, 12, 31, 15, 30, tzinfo=dt.UTC), tick=False):
        assert district_today() == dt.date(2025, 12, 31)


def test_a_passed_deadline_belongs_to_its_sentence(chars_assistant: Assistant) -> None:
    m7 = chars_assistant.chunk("m7")
    (deadline,) = m7.deadlines
    assert deadline.sentence in m7.sentences and "2025年12月31日" in deadline.sentence
    assert lapsed(m7, deadline.date) == ()  # the last day itself is still within the deadline
    (passed,) = lapsed(m7, deadline.date + dt.timedelta(days=1))
    assert passed.sentence == deadline.sentence
    # The answer's note quotes that sentence and not the measure's others (the graduates' subsidy).
    answer = chars_assistant.ask("小微企业招用毕业年度高校毕业生 社会保险费补贴", today=deadline.date + dt.timedelta(days=1))
    card = next(m for m in answer.measures if m.id == "m7")
    assert card.highlights and deadline.sentence not in card.highlights
    (note,) = [n for n in card.notes if "期限已过" in n]
    assert note.startswith(f"“{deadline.sentence.rstrip('。')}”所述期限已过")
    assert not any(h.rstrip("。") in note for h in card.highlights)
    assert note in answer.answer  # the text answer carries it too
