"""The store replicas share (issue 22): admin sessions and short-lived keys, on SQLite here and on
PostgreSQL in tests/test_replicas.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assistant.store import HEAD_REVISION, SharedState, SharedStateHandle


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["file", "memory"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[SharedState, SharedState, Clock]:
    """Two handles on one store (two replicas on one database file), or one in-memory store twice."""
    clock = Clock()
    if request.param == "memory":
        state = SharedStateHandle(None, clock=clock).get()
        return state, state, clock
    return SharedStateHandle(tmp_path, clock=clock).get(), SharedStateHandle(tmp_path, clock=clock).get(), clock


def test_the_migration_creates_the_shared_tables(tmp_path: Path) -> None:
    state = SharedStateHandle(tmp_path).get()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'questions.sqlite3'}")
    with engine.connect() as conn:
        assert {"admin_sessions", "ephemeral"} <= set(sa.inspect(conn).get_table_names())
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    engine.dispose()
    state.close()


def test_a_key_is_claimed_once_until_it_expires(pair: tuple[SharedState, SharedState, Clock]) -> None:
    a, b, clock = pair
    assert a.claim("nonce", "k1", "body-1", ttl=600) is None  # first: claimed
    assert b.claim("nonce", "k1", "body-2", ttl=600) == "body-1"  # seen: the first value comes back
    clock.now += 601
    assert b.claim("nonce", "k1", "body-3", ttl=600) is None  # expired: as if never seen
    assert a.get("nonce", "k1") == "body-3"


def test_only_one_of_many_racing_claims_wins(tmp_path: Path) -> None:
    states = [SharedStateHandle(tmp_path).get() for _ in range(4)]
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        if states[i % 4].claim("msgid", "6054768590064713728", str(i), ttl=600) is None:
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_values_expire_and_renewal_slides_the_expiry(pair: tuple[SharedState, SharedState, Clock]) -> None:
    a, b, clock = pair
    a.put("lookup", "abc", "v", ttl=100)
    clock.now += 90
    assert b.get("lookup", "abc", renew=100) == "v"
    clock.now += 90  # 180 s after it was put, 90 s after it was last read
    assert a.get("lookup", "abc") == "v"
    clock.now += 11
    assert a.get("lookup", "abc") is None and b.count("lookup") == 0
    a.put("ctx", "u", '["m3"]', ttl=600)
    b.delete("ctx", "u")
    assert a.get("ctx", "u") is None


def test_sessions_are_revoked_one_by_one_all_at_once_or_by_a_new_token(
    pair: tuple[SharedState, SharedState, Clock],
) -> None:
    a, b, clock = pair
    for sid in ("s1", "s2", "s3"):
        a.open_session(sid, "token-A", 3600)
    assert b.session_valid("s1", "token-A") and not b.session_valid("s1", "token-B")
    b.revoke_session("s1")
    assert not a.session_valid("s1", "token-A") and a.session_valid("s2", "token-A")
    assert a.revoke_all(except_token_hash="token-A") == 0  # the current token's sessions stay
    assert b.revoke_all(except_token_hash="token-B") == 2  # a new token: all earlier ones end
    assert not a.session_valid("s2", "token-A") and not a.session_valid("s3", "token-A")
    a.open_session("s4", "token-B", 3600)
    clock.now += 3601
    assert not b.session_valid("s4", "token-B")  # expired


def test_trim_keeps_the_most_recently_used(pair: tuple[SharedState, SharedState, Clock]) -> None:
    a, b, clock = pair
    for i in range(5):
        a.put("lookup", f"k{i}", str(i), ttl=100)
        clock.now += 1
    assert b.get("lookup", "k0", renew=100) == "0"  # viewed: now the one that expires last
    b.trim("lookup", 2)
    assert [k for k in ("k0", "k1", "k2", "k3", "k4") if a.get("lookup", k) is not None] == ["k0", "k4"]
    a.put("other", "x", "y", ttl=100)
    a.trim("lookup", 0)
    assert a.count("lookup") == 0 and a.get("other", "x") == "y"  # other kinds are untouched


def test_a_lookup_search_made_on_one_replica_is_shown_by_another(chars_assistant: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app
    from web.settings import WebSettings

    settings = WebSettings(data_dir=tmp_path / "data", rate_limit=None)
    html = {"Accept": "text/html"}
    with TestClient(create_app(chars_assistant, settings)) as a, TestClient(create_app(chars_assistant, settings)) as b:
        made = a.post("/lookup", data={"q": "退役军人创业"}, headers=html, follow_redirects=False)
        assert made.status_code == 303
        shown = b.get(made.headers["location"], headers=html)
        assert shown.status_code == 200 and "退役军人创业" in shown.text
