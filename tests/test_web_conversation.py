"""Issue 8 at the web edge: follow-ups over HTTP, the group endpoints, the lookup's group filter
and the sentences marked in search results."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from web.app import create_app

PHONE = "0532-58659939"


@pytest.fixture(scope="module")
def client(chars_assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(chars_assistant)) as c:
        yield c


def test_follow_up_with_context_over_http(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "那找哪个部门?", "context": ["m7"]}).json()
    assert body["kind"] == "answer" and [m["id"] for m in body["measures"]] == ["m7"]
    assert "城阳区税务局" in body["answer"].split("\n")[0]
    alone = client.post("/api/ask", json={"question": "那找哪个部门?"}).json()
    assert alone["kind"] == "clarify" and alone["measures"] == [] and PHONE in alone["answer"]


@pytest.mark.parametrize("context", ["m7", [1, 2], ["m1"] * 26, {"id": "m7"}])
def test_malformed_context_is_a_422_in_chinese(client: TestClient, context: object) -> None:
    resp = client.post("/api/ask", json={"question": "那找哪个部门?", "context": context})
    assert resp.status_code == 422 and re.search(r"[\u4e00-\u9fff]", resp.json()["message"])


def test_groups_endpoints(client: TestClient, chars_assistant: Assistant) -> None:
    groups = client.get("/api/groups").json()
    by_name = {g["name"]: g for g in groups}
    veterans = chars_assistant.groups.get("退役军人")
    assert veterans is not None and by_name["退役军人"]["measures"] == list(veterans.measures)
    one = client.get("/api/groups/退役军人").json()
    assert [i["id"] for i in one["items"]] == list(veterans.measures)
    missing = client.get("/api/groups/外星人")
    assert missing.status_code == 404 and "外星人" in missing.json()["message"]


def test_lookup_group_filter_shows_exactly_its_measures(client: TestClient, chars_assistant: Assistant) -> None:
    small = chars_assistant.groups.get("小微企业")
    assert small is not None
    page = client.get("/lookup", params={"group": "小微企业"}, headers={"Accept": "text/html"}).text
    listed = re.findall(r'<li class="lk-card[^"]*" data-id="([^"]+)"', page)
    assert sorted(listed) == sorted(small.measures)
    assert "服务对象:小微企业" in page


def test_search_results_mark_the_answering_sentence(client: TestClient) -> None:
    page = client.post(
        "/lookup",
        content="q=灵活就业人员意外伤害保险补贴标准".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
    ).text
    marked = re.findall(r"<mark>(.*?)</mark>", page)
    assert any("100元" in m for m in marked)


def test_privacy_page_states_the_configured_retention(chars_assistant: Assistant) -> None:
    from web.settings import WebSettings

    settings = WebSettings(retention_days=30, rate_limit=None)
    with TestClient(create_app(chars_assistant, settings)) as c:
        page = c.get("/privacy", headers={"Accept": "text/html"}).text
        chat = c.get("/", headers={"Accept": "text/html"}).text
    assert "30 天" in page and PHONE in page and "[身份证号]" in page
    assert "30 天后自动删除" in chat and 'href="/privacy"' in chat
    quiet = WebSettings(question_log=False, rate_limit=None)
    with TestClient(create_app(chars_assistant, quiet)) as c:
        assert "不保存" in c.get("/privacy").text


@pytest.mark.parametrize(("raw", "days"), [("", 180), ("30", 30), ("0", 180), ("abc", 180), ("99999", 180)])
def test_retention_setting_from_the_environment(raw: str, days: int) -> None:
    from web.settings import WebSettings

    assert WebSettings.from_env({"POLICY_ASSISTANT_RETENTION_DAYS": raw}).retention_days == days
