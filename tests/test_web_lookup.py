"""The hotline lookup's search flow (issue 11): POST → 303 → GET /lookup/r/<id>, the chat's decision
shown on the results, weak hits folded away, reasons in words, counts of the current results."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.answer import validity_notes
from web.app import create_app
from web.localserver import free_port
from web.lookup_store import ResultStore, SavedSearch

PHONE = "0532-58659939"
VETERANS = "区退役军人事务局"
RESULT_URL = re.compile(r"^/lookup/r/[A-Za-z0-9_-]{16}$")
OFF_TOPIC = "城阳哪家火锅好吃"
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def client(chars_assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(chars_assistant)) as c:
        yield c


def post(client: TestClient, **form: str) -> Any:
    return client.post("/lookup", data=form, headers=HTML, follow_redirects=False)


def search(client: TestClient, q: str, **filters: str) -> tuple[str, str]:
    """(result URL, its page) for one search."""
    resp = post(client, q=q, **filters)
    assert resp.status_code == 303, resp.text
    url = resp.headers["location"]
    page = client.get(url, headers=HTML)
    assert page.status_code == 200
    return url, page.text


def results_part(page: str) -> str:
    """The search results section only (the browsable list of all measures follows it)."""
    start = page.index('class="lk-results"')
    return page[start : page.index('class="lk-all"', start)]


def card_ids(html: str, cls: str = "") -> list[str]:
    return re.findall(rf'<li class="lk-card[^"]*{cls}[^"]*" data-id="([^"]+)"', html)


def visible_text(html: str) -> str:
    """Text a reader sees: tags (and their attributes, e.g. title) removed."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


# ---- the 303 flow ----------------------------------------------------------------------------------


def test_search_answers_303_to_an_opaque_result_page_that_reloads_the_same(client: TestClient) -> None:
    resp = post(client, q="退役军人创业")
    assert resp.status_code == 303
    url = resp.headers["location"]
    assert RESULT_URL.match(url), url
    first = client.get(url, headers=HTML)
    assert first.status_code == 200 and "“退役军人创业”的检索结果" in first.text
    again = client.get(url, headers=HTML)  # reload, Back, a bookmark opened within the hour
    assert card_ids(results_part(again.text)) == card_ids(results_part(first.text))
    assert card_ids(results_part(first.text))[0] == "m10"
    # Each search gets its own id; the same question twice is two ids.
    assert post(client, q="退役军人创业").headers["location"] != url


def test_a_blank_search_goes_to_the_filtered_list(client: TestClient) -> None:
    resp = post(client, q="  ", unit=VETERANS)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/lookup?unit=" + quote(VETERANS)


def test_a_refused_question_still_follows_the_303_flow(client: TestClient) -> None:
    resp = post(client, q="补" * 501)
    assert resp.status_code == 303 and RESULT_URL.match(resp.headers["location"])
    page = client.get(resp.headers["location"], headers=HTML)
    assert page.status_code == 200 and "问题太长了" in page.text


@pytest.mark.parametrize("rid", ["AAAAAAAAAAAAAAAA", "nope", "x" * 64])
def test_an_unknown_result_id_shows_the_empty_lookup_with_a_notice(client: TestClient, rid: str) -> None:
    resp = client.get(f"/lookup/r/{rid}", headers=HTML)
    assert resp.status_code == 410
    assert "检索已过期,请重新检索" in resp.text
    assert "检索结果" not in resp.text and 'id="lk-refine"' not in resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert len(card_ids(resp.text)) == len(client.get("/lookup").text.split('<li class="lk-card')) - 1


def test_a_result_id_expires_after_its_time_and_lives_while_viewed(chars_assistant: Assistant) -> None:
    now = [1000.0]
    app = create_app(chars_assistant)
    app.state.lookup_store = ResultStore(ttl=1800, capacity=10, clock=lambda: now[0])
    with TestClient(app) as c:
        url = post(c, q="退役军人创业").headers["location"]
        now[0] += 1700
        assert c.get(url).status_code == 200  # viewing renews it…
        now[0] += 1700
        assert c.get(url).status_code == 200
        now[0] += 1801  # …until it is left alone for the whole lifetime
        gone = c.get(url, headers=HTML)
        assert gone.status_code == 410 and "检索已过期" in gone.text


def test_the_store_is_bounded_least_recently_viewed_first() -> None:
    store = ResultStore(ttl=60, capacity=3)
    ids = [store.put(SavedSearch(f"问题{i}")) for i in range(3)]
    assert store.get(ids[0]) == SavedSearch("问题0")  # viewed: now the most recent
    newest = store.put(SavedSearch("问题3"))
    assert len(store) == 3
    assert store.get(ids[1]) is None  # the least recently viewed went
    assert store.get(ids[0]) is not None and store.get(newest) is not None
    assert store.get("../../etc/passwd") is None and store.get("") is None


# ---- the question stays out of URLs and the access log ------------------------------------------------

SECRET = "退役军人创业担保贷款"


def urls_in(html: str) -> list[str]:
    return [unescape(u) for u in re.findall(r'(?:href|action|src)="([^"]*)"', html)]


def test_the_question_is_in_no_url_of_the_flow(client: TestClient) -> None:
    encoded = quote(SECRET)
    resp = post(client, q=SECRET)
    assert SECRET not in resp.headers["location"] and encoded not in resp.headers["location"]
    url, page = search(client, SECRET)
    buttons = re.findall(r'<button type="submit" form="lk-refine" name="filter" value="([^"]*)"', page)
    assert buttons  # filters while results are shown: POST buttons, their value holds only filters
    filtered = post(client, q=SECRET, filter=unescape(buttons[1]))
    assert filtered.status_code == 303 and SECRET not in filtered.headers["location"]
    detail_links = [u for u in urls_in(page) if u.startswith("/lookup/m")]
    assert detail_links and all(u.endswith("?r=" + url.rsplit("/", 1)[1]) for u in detail_links)
    detail = client.get(detail_links[0], headers=HTML).text
    for html in (page, detail):
        for u in urls_in(html):
            assert SECRET not in u and encoded not in u and "q=" not in u, u


@pytest.fixture
def access_log() -> Iterator[list[str]]:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("uvicorn.access")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_the_question_is_not_in_the_servers_access_log(chars_assistant: Assistant, access_log: list[str]) -> None:
    port = free_port()
    # log_config=None: uvicorn keeps our handler instead of installing its own logging setup.
    config = uvicorn.Config(
        create_app(chars_assistant), host="127.0.0.1", port=port, log_config=None, access_log=True, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as http:
            resp = http.post("/lookup", data={"q": SECRET})
            assert resp.status_code == 200 and SECRET in resp.text
            rid = resp.url.path.rsplit("/", 1)[1]
            assert http.get(f"/lookup/m10?r={rid}").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    logged = "\n".join(access_log)
    assert "POST /lookup " in logged and f"GET /lookup/r/{rid} " in logged and "303" in logged
    assert SECRET not in logged and quote(SECRET) not in logged and "退役" not in logged


# ---- the chat's decision, matched and weak hits ----------------------------------------------------


def test_an_off_topic_search_shows_the_chats_decline_with_the_phone(
    client: TestClient, chars_assistant: Assistant
) -> None:
    assert chars_assistant.ask(OFF_TOPIC).kind == "no_match"
    _, page = search(client, OFF_TOPIC)
    part = results_part(page)
    assert "文件未涉及" in part and f'href="tel:{PHONE}"' in part
    assert card_ids(part, "matched") == []
    # The banner comes before any hit.
    assert part.index("文件未涉及") < part.index('<li class="lk-card')


def test_an_answered_search_has_no_decline_banner(client: TestClient, chars_assistant: Assistant) -> None:
    assert chars_assistant.ask("退役军人创业").kind == "answer"
    _, page = search(client, "退役军人创业")
    assert "文件未涉及" not in page


def test_a_neighbouring_topic_shows_its_referral_when_the_lexicon_has_one(
    client: TestClient, chars_assistant: Assistant
) -> None:
    q = "社保卡怎么办"
    retrieval = chars_assistant.retrieve(q)
    assert retrieval.kind == "no_match" and retrieval.neighbour
    nb = next(n for n in chars_assistant.lexicon.neighbours if n.topic == retrieval.neighbour)
    _, page = search(client, q)
    part = results_part(page)
    assert "文件未涉及" in part and retrieval.neighbour in part
    referral = getattr(nb, "referral", "")
    if referral:  # the referral column arrives with issue 11's lexicon data
        assert referral in part


def test_matched_hits_are_the_chats_and_weak_hits_fold_behind_a_toggle(
    client: TestClient, chars_assistant: Assistant
) -> None:
    q = "退役军人创业"
    _, page = search(client, q)
    part = results_part(page)
    matched = card_ids(part, "matched")
    weak = card_ids(part, "weak")
    assert matched == [h.chunk.id for h in chars_assistant.plan(q, top_k=10).retrieval.matched]
    assert weak and not set(weak) & set(matched)
    assert matched + weak == [h.chunk.id for h, _ in chars_assistant.search_marked(q)]
    folded = re.search(r'<div class="lk-weak">\s*<input type="checkbox" id="lk-weak-toggle"([^>]*)>(.*)', part, re.S)
    assert folded, "weak hits sit behind an (unchecked) toggle"
    assert "checked" not in folded.group(1)
    assert f'<label for="lk-weak-toggle">显示其他弱相关条目({len(weak)})</label>' in folded.group(2)
    assert card_ids(folded.group(2)) == weak
    # Ranks run on through both lists: 1., 2., …
    assert re.findall(r'<span class="rank"[^>]*>(\d+)\.</span>', part) == [str(i) for i in range(1, len(matched + weak) + 1)]
    assert 'class="lk-cards lk-ranked"' in part


@pytest.mark.parametrize(
    ("q", "phrase", "semantic"),
    [
        # A cited number decides alone, so no embedding is computed for it (nothing semantic to show).
        ("第7条", "直接引用:第7条", False),
        ("区妇联负责哪些", "责任单位:区妇联", True),
        ("退役军人创业", "命中关键词:退役", True),
    ],
)
def test_why_each_hit_matched_is_said_in_words(client: TestClient, q: str, phrase: str, semantic: bool) -> None:
    _, page = search(client, q)
    text = visible_text(results_part(page))
    assert phrase in text
    assert not re.search(r"语义\s*[:：]\s*0\.\d", text)  # the raw similarity is not shown…
    assert bool(re.search(r'title="语义相似度 0\.\d+', page)) == semantic  # …only in a tooltip


# ---- facets count the current results ----------------------------------------------------------


def facet_counts(page: str) -> dict[str, int]:
    return {
        unescape(u): int(n)
        for u, n in re.findall(r'data-unit="([^"]+)"><span>[^<]*</span><span class="count">(\d+)</span>', page)
    }


def test_unit_counts_count_the_current_results_and_match_what_a_click_shows(
    client: TestClient, chars_assistant: Assistant
) -> None:
    q = "退役军人创业"
    _, page = search(client, q)
    counts = facet_counts(page)
    results = [h.chunk for h, _ in chars_assistant.search_marked(q)]
    assert counts == {u: sum(u in c.lead_units for c in results) for u in counts}
    everywhere = facet_counts(client.get("/lookup").text)
    assert counts != everywhere and sum(counts.values()) < sum(everywhere.values())
    for unit in [u for u, n in counts.items() if n][:3]:
        filter_value = re.search(rf'name="filter" value="([^"]*)"[^>]*data-unit="{re.escape(unit)}"', page)
        assert filter_value
        _, refined = search(client, q, filter=unescape(filter_value.group(1)))
        assert len(card_ids(results_part(refined))) == counts[unit], unit


def test_without_a_search_counts_are_of_the_whole_document(client: TestClient, chars_assistant: Assistant) -> None:
    counts = facet_counts(client.get("/lookup").text)
    measures = [c for c in chars_assistant.chunks if c.kind == "measure"]
    assert counts[VETERANS] == sum(VETERANS in c.lead_units for c in measures) == 2


# ---- expired measures, the detail page's way back ------------------------------------------------


def test_cards_of_measures_whose_deadline_passed_show_the_expired_badge(
    client: TestClient, chars_assistant: Assistant, district_noon: dt.datetime
) -> None:
    today = district_noon.date()
    expired = {
        c.id for c in chars_assistant.chunks if any("已过" in n for n in validity_notes(c, chars_assistant.corpus, today))
    }
    assert "m7" in expired  # its deadline, 2025年底, has passed
    page = client.get("/lookup").text
    badged = {
        cid
        for cid, body in re.findall(r'<li class="lk-card[^"]*" data-id="([^"]+)"(.*?)</li>', page, re.S)
        if 'class="badge-expired"' in body
    }
    assert badged == expired
    assert "已过期" in client.get("/lookup/m7").text or "m7" not in expired


def test_the_detail_page_leads_back_to_the_results_it_was_opened_from(client: TestClient) -> None:
    url, _ = search(client, "退役军人创业")
    rid = url.rsplit("/", 1)[1]
    page = client.get(f"/lookup/m10?r={rid}", headers=HTML).text
    assert re.search(rf'<a href="/lookup/r/{rid}" data-back>返回检索结果</a>', page)
    assert f'href="/lookup/m9?r={rid}"' in page and f'href="/lookup/m11?r={rid}"' in page
    assert 'value="退役军人创业"' in page  # the search box still holds the question
    assert f'data-result="{rid}"' in page
    # An unknown or expired id: the way back is the whole list, and no dead id is passed on.
    stale = client.get("/lookup/m10?r=AAAAAAAAAAAAAAAA", headers=HTML).text
    assert '<a href="/lookup" data-back>全部条目</a>' in stale and "?r=" not in stale


def test_the_result_page_runs_in_the_question_lane() -> None:
    # GET /lookup/r/<id> re-runs retrieval, so it queues with the questions, not with the pages.
    from web.security import QuestionGate

    gate = QuestionGate(app=None)  # type: ignore[arg-type]
    assert gate._is_question({"type": "http", "method": "GET", "path": "/lookup/r/abcdef"})
    assert gate._is_question({"type": "http", "method": "POST", "path": "/api/ask"})
    assert not gate._is_question({"type": "http", "method": "GET", "path": "/lookup"})
    assert not gate._is_question({"type": "http", "method": "GET", "path": "/lookup/m7"})
