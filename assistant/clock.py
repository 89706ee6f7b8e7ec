"""The district's clock: the one place that says what day it is in Chengyang.

Validity notes ("有效期至2025年12月31日，已过"), relative years (今年, 去年), the answer cache key,
retention and the dashboard's days all turn on *the district's* date, which is Asia/Shanghai's —
not the server's time zone, and not UTC: from 16:00 to 24:00 UTC Chengyang is already in
tomorrow. `date.today()` reads the host's zone (UTC in containers), so library code asks here.

Both functions read the system clock through `datetime.now`, so tests fake them with
time-machine, and libfaketime moves them for whole process trees (scripts/test_robustness.sh).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DISTRICT_TZ = ZoneInfo("Asia/Shanghai")


def district_now() -> datetime:
    """The current moment, as an aware datetime in the district's zone."""
    return datetime.now(DISTRICT_TZ)


def district_today() -> date:
    """Today's date in the district (Asia/Shanghai)."""
    return district_now().date()


__all__ = ["DISTRICT_TZ", "district_now", "district_today"]
