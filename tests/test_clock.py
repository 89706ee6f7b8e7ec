"""The district's day (assistant/clock.py): Chengyang's date, whatever the host's zone or UTC says."""

from __future__ import annotations

import datetime as dt

import time_machine

from assistant import Assistant
from assistant.clock import district_today


def test_from_16_00_utc_the_district_is_already_in_tomorrow() -> None:
    with time_machine.travel(dt.datetime(2026, 12, 3, 15, 59, tzinfo=dt.UTC), tick=False):
        assert district_today() == dt.date(2026, 12, 3)
    with time_machine.travel(dt.datetime(2026, 12, 3, 16, 1, tzinfo=dt.UTC), tick=False):
        assert district_today() == dt.date(2026, 12, 4)


def test_a_deadline_passes_at_midnight_in_chengyang_not_at_midnight_utc(chars_assistant: Assistant) -> None:
    # m7 runs 至2025年12月31日: at 00:01 on 1 January in Chengyang (16:01 UTC on 31 December) it has passed.
    with time_machine.travel(dt.datetime(2025, 12, 31, 15, 59, tzinfo=dt.UTC), tick=False):
        before = chars_assistant.ask("第7条").measures[0].notes
    with time_machine.travel(dt.datetime(2025, 12, 31, 16, 1, tzinfo=dt.UTC), tick=False):
        after = chars_assistant.ask("第7条").measures[0].notes
    assert not any("已过" in n for n in before)
    assert any("2025年12月31日" in n and "已过" in n for n in after)
