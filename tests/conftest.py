"""Shared fixtures. The model-free "chars" embedder keeps tests fast; real-model tests are marked `model`."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest
import time_machine

from assistant import Assistant
from assistant.clock import DISTRICT_TZ
from web.localserver import CHROMIUM_PATH

# The moment tests whose figures depend on the date are run at: noon in Chengyang on a day after
# m7's deadline (2025年底), so that its expiry note and badge show. A fixed moment, not the real
# clock, so that those tests mean the same at 23:59 UTC (already tomorrow in Chengyang) as at noon.
DISTRICT_NOON = datetime(2026, 3, 10, 12, 0, tzinfo=DISTRICT_TZ)


CLOCK_OFFSET = "POLICY_ASSISTANT_TEST_CLOCK_OFFSET"


def pytest_configure(config: pytest.Config) -> None:
    """POLICY_ASSISTANT_TEST_CLOCK_OFFSET=<seconds> runs the suite with the wall clock moved by that
    much (scripts/test_robustness.sh): here with time-machine, in Python children through
    tests/clock/sitecustomize.py, which PYTHONPATH makes them import at start-up."""
    offset = os.environ.get(CLOCK_OFFSET)
    if not offset:
        return
    clock_dir = str(Path(__file__).resolve().parent / "clock")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (clock_dir, os.environ.get("PYTHONPATH")) if p)
    if not getattr(sys.modules.get("sitecustomize"), "STARTED", False):  # not moved at start-up already
        config._clock_traveller = time_machine.travel(time.time() + float(offset), tick=True)  # type: ignore[attr-defined]
        config._clock_traveller.start()  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = getattr(config, "_clock_traveller", None)
    if traveller is not None:
        traveller.stop()


def _set_node_id(item: pytest.Item, nodeid: str) -> None:
    """Node ids are read-only in pytest's public API; pytest 9 keeps a parsed NodeId, pytest 8 a str."""
    try:
        from _pytest.nodeid import coerce_node_id
    except ImportError:  # pytest 8
        item._nodeid = nodeid  # type: ignore[attr-defined]
    else:
        item._id = coerce_node_id(nodeid)  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests (marked `browser`) need Debian's chromium. Without it they skip with the
    reason — except on CI, where a missing browser is a broken set-up, not a reason to pass."""
    # schemathesis (with pytest 9) gives every API operation's item the test function's node id;
    # pytest-xdist tells tests apart by node id and would run one operation eight times. The item
    # names are distinct ("…[POST /api/ask]"): they become the ids.
    ids = Counter(item.nodeid for item in items)
    for item in items:
        if ids[item.nodeid] > 1 and "::" in item.nodeid:
            _set_node_id(item, f"{item.nodeid.rsplit('::', 1)[0]}::{item.name}")
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    if not browser_items or Path(CHROMIUM_PATH).exists():
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI 需要 {CHROMIUM_PATH}(apt-get install -y chromium)")
    skip = pytest.mark.skip(reason=f"没有 {CHROMIUM_PATH}:跳过浏览器测试")
    for item in browser_items:
        item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _web_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Apps built from the environment write their question log to a throwaway directory, and
    are not rate-limited (tests ask far more than 30 questions a minute from one client); the
    tests of the limiter configure it explicitly."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POLICY_ASSISTANT_DATA", str(tmp_path_factory.mktemp("data")))
        mp.setenv("POLICY_ASSISTANT_RATE_LIMIT", "0")
        mp.delenv("POLICY_ASSISTANT_TRUSTED_PROXIES", raising=False)
        yield


@pytest.fixture
def district_noon() -> Iterator[datetime]:
    """The clock faked to DISTRICT_NOON (still ticking) for the test, in every thread of this
    process, in-process servers included."""
    with time_machine.travel(DISTRICT_NOON, tick=True):
        yield DISTRICT_NOON


@pytest.fixture(scope="session")
def chars_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The repo's corpus with a throwaway index built by the character-count embedder."""
    return Assistant.load(index_dir=tmp_path_factory.mktemp("index-chars"), embedder="chars")


@pytest.fixture(scope="session")
def e5_assistant() -> Assistant:
    """The repo's corpus and index/ with the default embedder: what `Assistant.load()` without arguments
    serves (GUIDE §3), and what `policy-assistant eval` measures. One per test process, shared by the
    modules that need the real model: on a fresh clone the first of them builds index/ (a build is
    most of a model test's CPU), the others load it instead of building their own copy in a temp
    directory."""
    return Assistant.load()


@pytest.fixture(scope="session")
def scan_pii() -> ModuleType:
    """scripts/scan_pii.py as a module (scripts/ is not a package)."""
    path = Path(__file__).resolve().parent.parent / "scripts" / "scan_pii.py"
    spec = importlib.util.spec_from_file_location("scan_pii", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["scan_pii"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium for one browser-test module (the modules skip first without it).

    Module-scoped on purpose: playwright's sync API keeps an event loop running on the main
    thread while it is open, which breaks later tests that call asyncio.run()."""
    from playwright.sync_api import expect, sync_playwright

    from web.localserver import CHROMIUM_ARGS

    # The pages' own default is 10 s (each module sets it); assertions get as long, not 5 s: on a
    # machine whose cores are busy with other work a page can take seconds to settle.
    expect.set_options(timeout=10_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def base_url(chars_assistant: Assistant) -> Iterator[str]:
    """The app on the model-free assistant, served on a loopback port for one browser-test module
    (modules that need other settings define their own)."""
    from web.app import create_app
    from web.localserver import running

    with running(create_app(chars_assistant)) as url:
        yield url
