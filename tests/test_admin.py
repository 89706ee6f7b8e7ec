"""Staff dashboard /admin (issue 12): access control, figures on a seeded log, grouping, CSV export."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.clock import district_today
from assistant.qlog import LogEntry, LoggedQuestion, QuestionLog, new_answer_id
from assistant.stats import DISTRICT_TZ, build_dashboard, cluster_questions, csv_safe, period_bounds, similarity_for
from web.app import create_app
from web.settings import WebSettings

TOKEN = "s3cret-admin-token-for-tests-0001"
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+2", "-2+3", "@SUM(A1:A9)", "\tTAB开头", "\r回车开头"]


# The seeded days and the dashboard's "today" are read from one faked clock (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("district_noon")


def at(days_ago: int, hour: int = 10) -> str:
    """A UTC timestamp `days_ago` district days before today, at `hour` o'clock district time."""
    day = district_today() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, tzinfo=DISTRICT_TZ).astimezone(UTC).isoformat()


def seed(data_dir: Path) -> dict[str, str]:
    """A week of questions whose figures are known; returns answer ids by name."""
    ids: dict[str, str] = {}

    def add(name: str, question: str, kind: str, chunks: tuple[str, ...], days_ago: int, latency: float = 20.0,
            hour: int = 10) -> None:  # fmt: skip
        ids[name] = new_answer_id()
        log.record(
            LogEntry(question, chunks, tuple(0.8 for _ in chunks), kind == "answer", kind, latency, "web",
                     created=at(days_ago, hour), answer_id=ids[name])  # fmt: skip
        )

    with QuestionLog(data_dir) as log:
        add("rider", "送外卖的有保险补贴吗", "answer", ("m3",), 0)
        add("rider2", "骑手意外险", "answer", ("m3",), 0, hour=7)  # 07:00 in Chengyang is 23:00 UTC the day before
        add("tax", "税收优惠", "answer", ("m7", "m3"), 1, latency=950.0)
        add("slow", "创业贷款", "answer", ("m5",), 2, latency=600.0)
        for i in range(3):
            add(f"dole{i}", "失业金怎么领", "no_match", (), i)
        add("dole_q", "失业金怎么领?", "no_match", (), 3)
        add("dole_long", "失业金怎么领取", "no_match", (), 4)
        add("fund", "公积金怎么提取", "no_match", (), 1)
        add("clarify", "那找哪个部门", "clarify", (), 2)
        add("hello", "你好", "greeting", (), 5)
        add("old", "老问题", "answer", ("m9",), 12)  # outside the 7-day period, inside 30 days
        for i, formula in enumerate(FORMULAS):
            add(f"formula{i}", formula, "no_match", (), 6)
        log.record_feedback(ids["rider"], True)
        log.record_feedback(ids["rider2"], True)
        log.record_feedback(ids["tax"], False, "没说去哪个窗口办")
        log.record_feedback(ids["tax"], False, "没说去哪个窗口办,电话13812345678")  # the last vote counts
        log.record_feedback(ids["old"], False)
    return ids


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    seed(d)
    return d


@pytest.fixture
def client(chars_assistant: Assistant, data_dir: Path) -> Iterator[TestClient]:
    settings = WebSettings(data_dir=data_dir, rate_limit=None, admin_token=TOKEN)
    with TestClient(create_app(chars_assistant, settings)) as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m[1]


def login(client: TestClient, token: str = TOKEN) -> Any:
    page = client.get("/admin")
    return client.post("/admin/login", data={"token": token, "csrf": csrf_of(page.text)}, follow_redirects=False)


def text_of(html: str, element_id: str) -> str:
    tag = "div" if element_id.startswith("fig-") else "section"
    m = re.search(rf'<{tag}[^>]*id="{element_id}"[^>]*>(.*?)</{tag}>', html, re.S)
    assert m, element_id
    return re.sub(r"<[^>]+>", " ", m[1])


# ---- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/admin"), ("POST", "/admin/login"), ("GET", "/admin/glossary"), ("GET", "/admin/export/unanswered.csv")],
)
def test_without_a_token_the_dashboard_does_not_exist(chars_assistant: Assistant, tmp_path: Path, method: str,
                                                      path: str) -> None:  # fmt: skip
    with TestClient(create_app(chars_assistant, WebSettings(data_dir=tmp_path, rate_limit=None))) as c:
        resp = c.request(method, path, headers={"Accept": "text/html"})
        assert resp.status_code == 404
        assert "登录" not in resp.text


def test_a_short_token_in_the_environment_keeps_it_off() -> None:
    assert WebSettings.from_env({"POLICY_ASSISTANT_ADMIN_TOKEN": "short"}).admin_token is None
    assert WebSettings.from_env({"POLICY_ASSISTANT_ADMIN_TOKEN": TOKEN}).admin_token == TOKEN
    assert TOKEN not in repr(WebSettings.from_env({"POLICY_ASSISTANT_ADMIN_TOKEN": TOKEN}))


def test_the_sign_in_page_is_shown_and_never_cached(client: TestClient) -> None:
    resp = client.get("/admin")
    assert resp.status_code == 200 and "管理口令" in resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert 'id="fig-total"' not in resp.text


def test_a_wrong_token_is_401_and_logged_without_the_token(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="policy_assistant.web"):
        resp = login(client, "wrong-token-that-is-long-enough-1")
    assert resp.status_code == 401 and "口令不正确" in resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert "pa_admin=" not in resp.headers.get("set-cookie", "").replace("pa_admin_login=", "")
    assert any("口令错误" in r.getMessage() for r in caplog.records)
    assert not any("wrong-token" in r.getMessage() for r in caplog.records)
    assert client.get("/admin/export/unanswered.csv").status_code == 401


def test_sign_in_needs_the_forms_csrf_value(client: TestClient) -> None:
    client.get("/admin")
    resp = client.post("/admin/login", data={"token": TOKEN, "csrf": "forged"}, follow_redirects=False)
    assert resp.status_code == 403
    fresh = TestClient(client.app)  # no login cookie at all (a cross-site form post)
    assert fresh.post("/admin/login", data={"token": TOKEN, "csrf": "x"}, follow_redirects=False).status_code == 403


def test_wrong_tokens_are_throttled_but_the_right_token_gets_through(client: TestClient) -> None:
    codes = [login(client, f"wrong-token-number-{i:02d}-xxxxxxxx").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    blocked = login(client, "wrong-token-number-99-xxxxxxxx")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    # Issue 22: a shared address (NAT, an untrusted proxy) full of wrong guesses must not lock out
    # the colleague who knows the token; the token's length is what protects it.
    assert login(client).status_code == 303
    assert 'id="fig-total"' in client.get("/admin").text


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(chars_assistant: Assistant, data_dir: Path) -> None:
    settings = WebSettings(data_dir=data_dir, rate_limit=None, admin_token=TOKEN)
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(create_app(chars_assistant, settings), base_url=base) as c:
            resp = login(c)
            assert resp.status_code == 303 and resp.headers["location"] == "/admin"
            cookie = next(v for v in resp.headers.get_list("set-cookie") if v.startswith("pa_admin="))
            flags = {f.strip().lower() for f in cookie.split(";")}
            assert {"httponly", "samesite=strict", "path=/admin"} <= flags
            assert ("secure" in flags) is secure


def test_a_forged_session_cookie_is_not_a_session(client: TestClient) -> None:
    client.cookies.set("pa_admin", "9999999999.abc.0123456789abcdef", path="/admin")
    assert 'id="fig-total"' not in client.get("/admin").text
    assert client.get("/admin/export/unhelpful.csv").status_code == 401


def test_logout_needs_csrf_and_ends_the_session(client: TestClient) -> None:
    login(client)
    page = client.get("/admin")
    assert client.post("/admin/logout", data={"csrf": "nope"}, follow_redirects=False).status_code == 403
    resp = client.post("/admin/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert resp.status_code == 303
    client.cookies.clear()
    assert 'id="fig-total"' not in client.get("/admin").text


# ---- figures -----------------------------------------------------------------------------------


def test_the_dashboard_shows_the_seeded_figures(client: TestClient) -> None:
    assert login(client).status_code == 303
    resp = client.get("/admin?days=7")
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    html = resp.text
    # 7 days: 4 answers, 5 失业金 + 1 公积金 + 6 formula declines, 1 clarify, 1 greeting = 18
    assert text_of(html, "fig-total").split()[0] == "18"
    assert "22%" in text_of(html, "fig-answered") and "4" in text_of(html, "fig-answered")
    assert "67%" in text_of(html, "fig-declined")  # 12 / 18
    assert "6%" in text_of(html, "fig-clarified")
    assert "67%" in text_of(html, "fig-helpful")  # 2 有帮助, 1 没帮助 (the 12-day-old vote is outside)
    assert "失业金怎么领</span> <span class=\"ad-count\">×5" in html
    assert "没说去哪个窗口办,电话[手机号]" in html and "13812345678" not in html
    assert "第7条" in text_of(html, "unhelpful")
    assert "950 ms" in text_of(html, "slow")
    bars = re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', html)
    assert len(bars) == 7 and sum(int(n) for _, n in bars) == 18
    today = district_today().isoformat()
    assert dict(bars)[today] == "3"  # rider, rider2 (07:00 local, 23:00 UTC the day before), dole0
    thirty = client.get("/admin?days=30").text
    assert text_of(thirty, "fig-total").split()[0] == "19"
    assert "50%" in text_of(thirty, "fig-helpful")


def test_the_page_has_no_inline_script_or_style(client: TestClient) -> None:
    login(client)
    html = client.get("/admin").text
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert "<svg" in html


def test_figures_from_the_library(data_dir: Path, chars_assistant: Assistant) -> None:
    today = district_today()
    with QuestionLog(data_dir) as log:
        records = log.between(*period_bounds(30, today))
    measures = [c.id for c in chars_assistant.chunks if c.kind == "measure"]
    dash = build_dashboard(records, days=7, today=today, measures=measures, embed=chars_assistant.embedder.queries,
                           threshold=similarity_for(chars_assistant.embedder.id))  # fmt: skip
    assert (dash.total, dash.answered, dash.declined, dash.clarified, dash.greetings) == (18, 4, 12, 1, 1)
    assert (dash.helpful, dash.unhelpful, dash.helpful_ratio) == (2, 1, pytest.approx(2 / 3))
    assert dash.top_measures[0] == ("m3", 3)
    assert "m9" in dash.never_asked and "m3" not in dash.never_asked
    assert dash.slow[0].latency_ms == 950.0
    assert dash.per_day[-1].day == today and len(dash.per_day) == 7
    assert dash.unhelpful_answers[0].answered == ("m7", "m3")


def test_similar_unanswered_questions_are_grouped(chars_assistant: Assistant) -> None:
    asked = [("失业金怎么领", "t")] * 3 + [("失业金怎么领?", "t"), ("失业金怎么领取", "t"), ("公积金怎么提取", "t")]
    groups = cluster_questions(asked, chars_assistant.embedder.queries, similarity_for(chars_assistant.embedder.id))
    assert [(g.label, g.count) for g in groups] == [("失业金怎么领", 5), ("公积金怎么提取", 1)]
    assert dict(groups[0].variants) == {"失业金怎么领": 4, "失业金怎么领取": 1}
    # Without a model only identical wordings (up to punctuation) are merged.
    plain = cluster_questions(asked, None)
    assert [(g.label, g.count) for g in plain] == [("失业金怎么领", 4), ("公积金怎么提取", 1), ("失业金怎么领取", 1)]


def test_an_empty_period_has_no_ratio_rather_than_zero() -> None:
    dash = build_dashboard((), days=7, today=date(2025, 1, 7), measures=("m1",))
    assert dash.total == 0 and dash.helpful_ratio is None and dash.share(0) == 0.0
    assert dash.never_asked == ("m1",) and [d.count for d in dash.per_day] == [0] * 7
    assert isinstance(LoggedQuestion, type)


# ---- CSV ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*FORMULAS, " =1+1"])
def test_csv_cells_that_look_like_formulas_are_escaped(value: str) -> None:
    assert csv_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["失业金怎么领", "100元", "", "a=b"])
def test_ordinary_csv_cells_are_unchanged(value: str) -> None:
    assert csv_safe(value) == value


def test_the_exports_escape_formulas_and_carry_the_groups(client: TestClient) -> None:
    login(client)
    resp = client.get("/admin/export/unanswered.csv?days=7")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert resp.headers["cache-control"] == "no-store"
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0] == ["问题", "次数", "相似问法", "首次", "最近"]
    assert rows[1][:3] == ["失业金怎么领", "5", "失业金怎么领取 ×1"]
    cells = [r[0] for r in rows[1:]]
    for formula in FORMULAS:
        assert "'" + formula.strip("\r") in [c.strip("\r") for c in cells] or "'" + formula in cells, formula
    assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for row in rows for c in row)

    unhelpful = client.get("/admin/export/unhelpful.csv?days=30")
    rows = list(csv.reader(io.StringIO(unhelpful.content.decode("utf-8-sig"))))
    assert rows[0] == ["时间", "问题", "答复类型", "答复条目", "意见"]
    questions = {r[1]: r for r in rows[1:]}
    assert set(questions) == {"税收优惠", "老问题"}
    assert questions["税收优惠"][3].startswith("第7条") and "[手机号]" in questions["税收优惠"][4]


def test_unknown_exports_are_404(client: TestClient) -> None:
    login(client)
    assert client.get("/admin/export/everything.csv").status_code == 404


# ---- glossary workbench ------------------------------------------------------------------------


def test_the_workbench_shows_expansion_and_evidence(client: TestClient, chars_assistant: Assistant) -> None:
    login(client)
    page = client.get("/admin/glossary")
    assert page.status_code == 200
    resp = client.post("/admin/glossary", data={"q": "送外卖的有没有保险补贴", "csrf": csrf_of(page.text)})
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    expansion = chars_assistant.lexicon.expand("送外卖的有没有保险补贴")
    assert expansion.glossary, "the glossary should know 送外卖"
    html = resp.text
    assert expansion.normalized in text_of(html, "expansion")
    for found, terms in expansion.glossary:
        assert f"{found} → {'、'.join(terms)}" in html
    first = chars_assistant.search("送外卖的有没有保险补贴")[0]
    assert f'data-id="{first.chunk.id}"' in html and f"{first.score:.3f}" in html
    # Without the session's CSRF token nothing is run.
    assert client.post("/admin/glossary", data={"q": "x", "csrf": "bad"}).status_code == 403


@pytest.mark.model
def test_e5_groups_rewordings_and_keeps_other_topics_apart() -> None:
    from assistant.embed import get_embedder

    e5 = get_embedder("e5")
    asked = [(q, "t") for q in ("失业金怎么领", "失业金怎么领", "失业了怎么领失业金", "失业保险金在哪里申请",
                                "公积金怎么提取", "医保怎么报销", "养老保险交了多少年能领", "护照怎么办理")]  # fmt: skip
    groups = cluster_questions(asked, e5.queries, similarity_for(e5.id))
    assert (groups[0].label, groups[0].count) == ("失业金怎么领", 4)
    assert sorted(g.label for g in groups[1:]) == sorted(["公积金怎么提取", "医保怎么报销", "养老保险交了多少年能领", "护照怎么办理"])


# ---- issue 22: server-side sessions, revocable on every replica ---------------------------------


def session_cookie(resp: Any) -> str:
    cookie = next(v for v in resp.headers.get_list("set-cookie") if v.startswith("pa_admin="))
    return cookie.split(";", 1)[0].split("=", 1)[1]


def admin_requests() -> list[tuple[str, str]]:
    """Every admin route except the sign-in itself (new routes are covered as they come)."""
    from web.admin import router

    found = []
    for route in router.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/admin") or path == "/admin/login":
            continue
        for method in sorted(getattr(route, "methods", ()) - {"HEAD"}):
            found.append((method, path.replace("{kind}", "unanswered")))
    return found


def test_a_revoked_cookie_is_401_on_every_admin_route(client: TestClient) -> None:
    resp = login(client)
    cookie = session_cookie(resp)
    csrf = csrf_of(client.get("/admin").text)
    assert client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    routes = admin_requests()
    assert {("GET", "/admin"), ("POST", "/admin/logout"), ("POST", "/admin/logout-all"), ("GET", "/admin/glossary"),
            ("POST", "/admin/glossary"), ("GET", "/admin/export/unanswered.csv")} <= set(routes)  # fmt: skip
    for method, path in routes:
        client.cookies.clear()
        client.cookies.set("pa_admin", cookie, path="/admin")  # the cookie as it was before signing out
        form = {"csrf": csrf, "q": "灵活就业"} if method == "POST" else None
        got = client.request(method, path, data=form, follow_redirects=False)
        assert got.status_code == 401, (method, path, got.status_code)
        assert "fig-total" not in got.text and "灵活就业人员" not in got.text


def two_replicas(chars_assistant: Assistant, data_dir: Path, token: str = TOKEN) -> tuple[TestClient, TestClient]:
    """Two apps over one store, as two replicas over one database."""
    settings = WebSettings(data_dir=data_dir, rate_limit=None, admin_token=token)
    return TestClient(create_app(chars_assistant, settings)), TestClient(create_app(chars_assistant, settings))


def test_a_session_works_on_every_replica_and_signing_out_on_one_ends_it_on_all(
    chars_assistant: Assistant, data_dir: Path
) -> None:
    a, b = two_replicas(chars_assistant, data_dir)
    with a, b:
        cookie = session_cookie(login(a))
        b.cookies.set("pa_admin", cookie, path="/admin")
        page = b.get("/admin")
        assert page.status_code == 200 and 'id="fig-total"' in page.text  # issued by a, accepted by b
        assert b.post("/admin/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
        assert a.get("/admin").status_code == 401
        assert a.get("/admin/export/unanswered.csv").status_code == 401


def test_sign_out_everywhere_ends_every_staff_session(chars_assistant: Assistant, data_dir: Path) -> None:
    a, b = two_replicas(chars_assistant, data_dir)
    with a, b:
        login(a)
        login(b)
        page = a.get("/admin")
        assert "退出所有设备" in page.text
        assert a.post("/admin/logout-all", data={"csrf": "forged"}, follow_redirects=False).status_code == 403
        assert b.get("/admin").status_code == 200  # a forged form ended nothing
        assert a.post("/admin/logout-all", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
        assert b.get("/admin/glossary").status_code == 401
        assert 'id="fig-total"' not in b.get("/admin").text  # the 401 also dropped the stale cookie
        assert login(b).status_code == 303 and b.get("/admin").status_code == 200  # signing in again works


def test_changing_the_admin_token_ends_every_session(chars_assistant: Assistant, data_dir: Path) -> None:
    old, _ = two_replicas(chars_assistant, data_dir)
    new, _ = two_replicas(chars_assistant, data_dir, token="another-admin-token-for-tests-0002")
    with old, new:
        cookie = session_cookie(login(old))
        new.cookies.set("pa_admin", cookie, path="/admin")
        assert new.get("/admin").status_code == 401  # the new token does not know the session
        assert login(new, "another-admin-token-for-tests-0002").status_code == 303
        # … and the first sign-in under the new token revoked it for good, on the old replica too.
        assert old.get("/admin").status_code == 401


def test_the_sign_in_value_must_be_one_this_server_signed(client: TestClient) -> None:
    client.cookies.set("pa_admin_login", "attacker-chosen-value", path="/admin")
    resp = client.post("/admin/login", data={"token": TOKEN, "csrf": "attacker-chosen-value"}, follow_redirects=False)
    assert resp.status_code == 403
    page = client.get("/admin")
    _, _, signature = csrf_of(page.text).partition(".")
    assert len(signature) == 64  # an HMAC-SHA256
    assert login(client).status_code == 303


@pytest.mark.parametrize(("peer", "trusted", "secure"), [("127.0.0.1", True, True), ("203.0.113.9", False, False)])
def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_only(
    chars_assistant: Assistant, data_dir: Path, peer: str, trusted: bool, secure: bool
) -> None:
    from web.settings import parse_networks

    settings = WebSettings(data_dir=data_dir, rate_limit=None, admin_token=TOKEN,
                           trusted_proxies=parse_networks("127.0.0.1"))  # fmt: skip
    with TestClient(create_app(chars_assistant, settings), client=(peer, 40000),
                    headers={"X-Forwarded-Proto": "https"}) as c:  # fmt: skip
        page = c.get("/admin")
        value = csrf_of(page.text)
        # The sign-in cookie is Secure too, and the test client speaks plain http to the app (as
        # nginx does): hand it back explicitly.
        resp = c.post("/admin/login", data={"token": TOKEN, "csrf": value}, follow_redirects=False,
                      headers={"Cookie": f"pa_admin_login={value}"})  # fmt: skip
        cookie = next(v for v in resp.headers.get_list("set-cookie") if v.startswith("pa_admin="))
        assert ("secure" in {f.strip().lower() for f in cookie.split(";")}) is secure
