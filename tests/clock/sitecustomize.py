"""The test clock override for Python processes that tests start (`serve`, the CLI, scripts).

When POLICY_ASSISTANT_TEST_CLOCK_OFFSET is set, tests/conftest.py moves pytest's own wall clock by
that many seconds and puts this folder on PYTHONPATH, so that every Python child started during
the run imports this module at start-up and moves its clock by the same offset: the processes
agree on the date (scripts/test_robustness.sh runs the suite at 15:59, 16:01, 23:59 UTC …).
An offset, not a fixed instant, so that a process started later is not behind the others.
Monotonic clocks are untouched, so timeouts and deadlines behave as usual.
"""

from __future__ import annotations

import os

STARTED = False

_offset = os.environ.get("POLICY_ASSISTANT_TEST_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
    STARTED = True
