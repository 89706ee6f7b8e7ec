"""The web edge through FastAPI's TestClient: every route, every bad input, the headers on everything."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant, IndexProblem
from assistant.service import MAX_QUESTION_CHARS
from web.app import create_app
from web.security import CSP

PHONE = "0532-58659939"
CJK = re.compile(r"[\u4e00-\u9fff]")
# The chars embedder is crude, so the question names the measure's own words; e5 handles "送外卖的骑手".
M3_QUESTION = "灵活就业人员意外伤害保险补贴"
VETERANS = "区退役军人事务局"
WEB = Path(__file__).resolve().parent.parent / "web"
# HTTP adds to the Python contract what only a web client needs: the next-question chips and the
# opaque id that feedback refers to.
CONTRACT_KEYS = {"question", "matched", "kind", "measures", "phone", "answer", "suggestions", "answer_id"}
MEASURE_KEYS = {"id", "number", "doc", "title", "section", "quote", "highlights", "lead_units", "notes", "score",
                "label", "doc_title", "doc_number", "phone"}  # fmt: skip


@pytest.fixture(scope="module")
def client(chars_assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(chars_assistant)) as c:
        yield c


def html_get(client: TestClient, path: str) -> Any:
    return client.get(path, headers={"Accept": "text/html"})


class Elements(HTMLParser):
    """Collects (tag, attrs) of every start tag, to check the markup without a parser dependency."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self._script_body: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self._script_body.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.inline_scripts.append("".join(self._script_body))
            self._script_body = []
            self._in_script = False

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.found if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def card_ids(self) -> list[str]:
        return [str(a["data-id"]) for t, a in self.found if t == "li" and "lk-card" in str(a.get("class", ""))]


def parse(html: str) -> Elements:
    p = Elements()
    p.feed(html)
    return p


def assert_error(resp: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in statuses, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    assert set(body) == {"error", "message"}
    assert CJK.search(body["message"]), body
    return body


# ---- POST /api/ask ----------------------------------------------------------------------------


def test_ask_returns_the_contract(client: TestClient) -> None:
    resp = client.post("/api/ask", json={"question": M3_QUESTION})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == CONTRACT_KEYS
    assert body["matched"] is True and body["kind"] == "answer"
    assert body["question"] == M3_QUESTION
    first = body["measures"][0]
    assert set(first) == MEASURE_KEYS
    assert first["id"] == "m3" and first["number"] == 3
    assert "区人力资源社会保障局" in first["lead_units"]
    assert body["phone"] == PHONE and PHONE in body["answer"]


def test_ask_matches_the_library(client: TestClient, chars_assistant: Assistant) -> None:
    resp = client.post("/api/ask", json={"question": M3_QUESTION})
    answer = chars_assistant.ask(M3_QUESTION)
    body = resp.json()
    assert re.fullmatch(r"[a-z2-7]{16,64}", body.pop("answer_id"))
    assert body == {**answer.to_dict(), "suggestions": list(answer.suggestions)}


def test_ask_outside_the_policy_declines_with_the_phone(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "怎么办理护照?"}).json()
    assert body["matched"] is False and body["kind"] == "no_match"
    assert body["measures"] == []
    assert PHONE in body["answer"]


def test_ask_greeting(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "你好"}).json()
    assert body["kind"] == "greeting" and PHONE in body["answer"]


def test_ask_accepts_exactly_the_limit(client: TestClient) -> None:
    question = ("灵活就业" * MAX_QUESTION_CHARS)[:MAX_QUESTION_CHARS]
    assert client.post("/api/ask", json={"question": question}).status_code == 200
    # Surrounding whitespace does not count against the limit.
    assert client.post("/api/ask", json={"question": f"  {question}\n"}).status_code == 200


def test_ask_ignores_unknown_fields(client: TestClient) -> None:
    assert client.post("/api/ask", json={"question": "灵活就业", "extra": 1}).status_code == 200


def test_ask_keeps_markup_as_data(client: TestClient) -> None:
    payload = "<img src=x onerror=alert(1)>"
    body = client.post("/api/ask", json={"question": payload}).json()
    assert body["question"] == payload
    assert client.post("/api/ask", json={"question": payload}).headers["content-type"] == "application/json"


JSON = {"Content-Type": "application/json"}

BAD_INPUTS: list[tuple[str, dict[str, Any], int | tuple[int, ...]]] = [
    ("empty question", {"json": {"question": ""}}, 422),
    ("whitespace question", {"json": {"question": " \t\n\u3000 "}}, 422),
    ("question over the limit", {"json": {"question": "补" * (MAX_QUESTION_CHARS + 1)}}, 422),
    ("malformed JSON", {"content": b'{"question": "hi"', "headers": JSON}, 400),
    ("not JSON at all", {"content": b"question=hi", "headers": JSON}, 400),
    ("number instead of text", {"json": {"question": 123}}, 422),
    ("null question", {"json": {"question": None}}, 422),
    ("list question", {"json": {"question": ["灵活就业"]}}, 422),
    ("object question", {"json": {"question": {"text": "灵活就业"}}}, 422),
    ("boolean question", {"json": {"question": True}}, 422),
    ("missing field", {"json": {}}, 422),
    ("wrong field name", {"json": {"q": "灵活就业"}}, 422),
    ("body is a list", {"json": ["灵活就业"]}, 422),
    ("body is a string", {"json": "灵活就业"}, 422),
    ("empty body", {"content": b"", "headers": JSON}, 422),
    ("form encoded", {"data": {"question": "灵活就业"}}, (415, 422)),
    ("plain text", {"content": "灵活就业".encode(), "headers": {"Content-Type": "text/plain"}}, (415, 422)),
    ("no content type", {"content": b'{"question": "hi"}'}, (415, 422)),
    ("xml", {"content": b"<question>hi</question>", "headers": {"Content-Type": "application/xml"}}, (415, 422)),
    ("huge body", {"content": b'{"question": "' + b"x" * 200_000 + b'"}', "headers": JSON}, 413),
]


@pytest.mark.parametrize(("case", "request_kwargs", "status"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_ask_bad_input_is_a_chinese_4xx(
    client: TestClient, case: str, request_kwargs: dict[str, Any], status: int | tuple[int, ...]
) -> None:
    assert_error(client.post("/api/ask", **request_kwargs), status)


def test_ask_wrong_content_type_is_415(client: TestClient) -> None:
    resp = client.post(
        "/api/ask", content=b"question=hi", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert assert_error(resp, 415)["error"] == "unsupported_media_type"


def test_ask_too_long_message_names_the_limit(client: TestClient) -> None:
    body = assert_error(client.post("/api/ask", json={"question": "补" * 501}), 422)
    assert str(MAX_QUESTION_CHARS) in body["message"]


def test_ask_rejects_get(client: TestClient) -> None:
    assert_error(client.get("/api/ask"), 405)


# ---- measures, search, health ------------------------------------------------------------------


def test_measures_lists_every_chunk(client: TestClient, chars_assistant: Assistant) -> None:
    items = client.get("/api/measures").json()
    ids = [m["id"] for m in items]
    assert ids == [c.id for c in chars_assistant.chunks]
    assert {f"m{n}" for n in range(1, 21)} | {"guiding", "org1", "org2", "org3", "notice"} <= set(ids)
    m10 = next(m for m in items if m["id"] == "m10")
    assert m10["number"] == 10 and m10["label"].startswith("第10条")
    assert m10["lead_units"] == [VETERANS, "区妇联"]
    assert {"id", "number", "title", "section", "lead_units", "text", "kind", "doc", "label"} == set(m10)


def test_measures_filter_by_unit_and_section(client: TestClient) -> None:
    assert [m["id"] for m in client.get("/api/measures", params={"unit": VETERANS}).json()] == ["m10", "m18"]
    section = client.get("/api/measures/m7").json()["section"]
    assert [m["id"] for m in client.get("/api/measures", params={"section": section}).json()] == ["m6", "m7", "m8"]


def test_measure_detail(client: TestClient) -> None:
    body = client.get("/api/measures/m7").json()
    assert body["id"] == "m7" and body["number"] == 7
    assert body["lead_units"] == ["城阳区税务局", "区人力资源社会保障局", "区财政局"]
    assert body["phone"] == PHONE and PHONE in body["answer"] and "第7条" in body["answer"]
    assert isinstance(body["notes"], list)


def test_unknown_measure_is_a_json_404(client: TestClient) -> None:
    body = assert_error(client.get("/api/measures/m99"), 404)
    assert "m99" in body["message"]
    assert_error(client.get("/api/nothing-here"), 404)


def test_search_explains_each_hit(client: TestClient) -> None:
    hits = client.post("/api/search", json={"q": "退役军人"}).json()
    assert hits[0]["id"] == "m10"
    assert hits[0]["why"] and all(isinstance(w, str) for w in hits[0]["why"])
    assert {"score", "lexical", "dense", "coverage"} <= set(hits[0])
    assert len(client.post("/api/search", json={"q": "就业", "k": 3}).json()) == 3


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"q": ""},
        {"q": "补" * 501},
        {"q": "就业", "k": 0},
        {"q": "就业", "k": 26},
        {"q": "就业", "k": "x"},
        {"q": 1},
    ],
)
def test_search_bad_input(client: TestClient, body: dict[str, Any]) -> None:
    assert_error(client.post("/api/search", json=body), 422)


def test_search_is_post_only_so_questions_stay_out_of_urls(client: TestClient) -> None:
    assert_error(client.get("/api/search", params={"q": "退役军人"}), 405)
    for path, ops in client.get("/openapi.json").json()["paths"].items():
        for method, op in ops.items():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            assert not names & {"q", "question"}, f"{method.upper()} {path} takes a question in its URL"


def test_healthz_reports_the_index(client: TestClient, chars_assistant: Assistant) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["embedder"] == chars_assistant.manifest.embedder == "chars"
    assert body["corpus_sha256"] == chars_assistant.manifest.corpus_sha256
    assert body["chunks"] == len(chars_assistant.chunks)


def test_create_app_loads_the_assistant_once_in_its_lifespan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_ASSISTANT_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("POLICY_ASSISTANT_EMBEDDER", "chars")
    app = create_app()
    with TestClient(app) as c:
        bot = app.state.assistant
        assert c.get("/healthz").json()["embedder"] == "chars"
        c.post("/api/ask", json={"question": "灵活就业"})
        assert app.state.assistant is bot


# ---- errors the server causes -----------------------------------------------------------------


class _Broken:
    phone = PHONE

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def ask(self, question: str, top_k: int = 3, **_: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize(("exc", "status"), [(RuntimeError("boom"), 500), (IndexProblem("索引损坏"), 503)])
def test_server_faults_are_json_with_headers(exc: Exception, status: int) -> None:
    with TestClient(create_app(_Broken(exc)), raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        resp = c.post("/api/ask", json={"question": "灵活就业"})
    assert resp.status_code == status
    body = resp.json()
    assert set(body) == {"error", "message", "request_id"} and CJK.search(body["message"])
    assert body["request_id"] == resp.headers["x-request-id"]
    assert resp.headers["content-security-policy"] == CSP
    assert resp.headers["cache-control"] == "no-store"
    assert "boom" not in resp.text


# ---- pages ------------------------------------------------------------------------------------


def test_chat_page_carries_corpus_suggestions_and_phone(client: TestClient, chars_assistant: Assistant) -> None:
    resp = html_get(client, "/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    page = parse(resp.text)
    config = json.loads(page.inline_scripts[page.all("script").index(page.all("script", id="chat-config")[0])])
    assert config["suggestions"] == list(chars_assistant.suggestions())
    assert len(config["suggestions"]) == len(chars_assistant.corpus.sections)
    assert config["tel"] == f"tel:{PHONE}" and config["maxChars"] == MAX_QUESTION_CHARS
    assert page.all("a", href=f"tel:{PHONE}")
    assert page.all("textarea", id="q")[0]["maxlength"] == str(MAX_QUESTION_CHARS)


def test_lookup_lists_all_measures_grouped_by_section(client: TestClient, chars_assistant: Assistant) -> None:
    resp = html_get(client, "/lookup")
    assert resp.status_code == 200
    ids = parse(resp.text).card_ids()
    assert sorted(ids) == sorted(c.id for c in chars_assistant.chunks)
    assert ids[:20] == [f"m{n}" for n in range(1, 21)]
    for section in chars_assistant.corpus.sections:
        assert section in resp.text
    for unit in chars_assistant.corpus.units:
        assert f'data-unit="{unit}"' in resp.text


def lookup_post(client: TestClient, **form: str) -> Any:
    return client.post("/lookup", data=form, headers={"Accept": "text/html"})


def test_lookup_search_shows_rank_fit_and_why_in_words(client: TestClient) -> None:
    resp = lookup_post(client, q="退役军人")
    page = parse(resp.text)
    assert page.card_ids()[0] == "m10"
    assert "命中关键词:" in resp.text and 'class="rank"' in resp.text and ">1.</span>" in resp.text
    assert "关键词:退役" not in resp.text.replace("命中关键词:", "")  # the library's raw tags are reworded


def test_lookup_filters(client: TestClient) -> None:
    ids = parse(html_get(client, f"/lookup?unit={VETERANS}").text).card_ids()
    assert ids == ["m10", "m18"]
    ids = parse(html_get(client, "/lookup?section=(三)加大稳岗扩岗政策扶持").text).card_ids()
    assert ids == ["m6", "m7", "m8"]
    both = parse(lookup_post(client, q="就业", unit=VETERANS).text).card_ids()
    assert set(both) <= {"m10", "m18"}


def test_lookup_search_is_a_post_form_and_its_filters_keep_the_question_out_of_urls(client: TestClient) -> None:
    page = parse(html_get(client, "/lookup").text)
    assert page.all("form", role="search")[0]["method"] == "post"
    posted = client.post("/lookup", data={"q": "退役军人创业"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["cache-control"] == "no-store"
    assert "退役" not in posted.headers["location"]
    resp = html_get(client, posted.headers["location"])
    page = parse(resp.text)
    refine = page.all("form", id="lk-refine")
    assert refine and refine[0]["method"] == "post"
    assert page.all("input", name="q", type="hidden")[0]["value"] == "退役军人创业"
    # Every filter is a button of that form; no link on the page carries the question.
    buttons = [a for a in page.all("button") if a.get("form") == "lk-refine"]
    assert any(b.get("data-unit") == VETERANS for b in buttons)
    assert not [a for a in page.all("a") if "退役军人创业" in str(a.get("href", ""))]
    # Pressing the unit button: the search re-runs within that unit's measures, again via a 303.
    value = next(str(b["value"]) for b in buttons if b.get("data-unit") == VETERANS)
    again = client.post("/lookup", data={"q": "退役军人创业", "filter": value}, follow_redirects=False)
    assert again.status_code == 303 and "退役" not in again.headers["location"]
    refined = parse(html_get(client, again.headers["location"]).text)
    assert set(refined.card_ids()) <= {"m10", "m18"}
    assert refined.all("button", form="lk-refine", **{"data-unit": VETERANS})[0]["aria-current"] == "true"


def test_lookup_get_ignores_a_question_in_the_url(client: TestClient) -> None:
    resp = html_get(client, "/lookup?q=退役军人")
    assert resp.status_code == 200 and "检索结果" not in resp.text


def test_lookup_post_needs_a_form(client: TestClient) -> None:
    resp = client.post("/lookup", json={"q": "就业"})
    assert_error(resp, 415)


def test_lookup_escapes_the_query(client: TestClient) -> None:
    resp = lookup_post(client, q="<script>alert(1)</script>")
    assert resp.status_code == 200
    assert "<script>alert(1)" not in resp.text and "&lt;script&gt;alert(1)" in resp.text


def test_lookup_too_long_query_is_a_message_not_an_error(client: TestClient) -> None:
    resp = lookup_post(client, q="补" * 501)
    assert resp.status_code == 200 and "问题太长了" in resp.text


def test_lookup_absurd_query_is_a_4xx(client: TestClient) -> None:
    assert "太长" in assert_error(lookup_post(client, q="补" * 1500 + " " * 600), 422)["message"]
    assert_error(lookup_post(client, q="补" * 3000), 413)  # 27 KB of form data


def test_lookup_detail(client: TestClient, chars_assistant: Assistant) -> None:
    resp = html_get(client, "/lookup/m7")
    assert resp.status_code == 200
    text = resp.text
    assert chars_assistant.chunk("m7").text in text
    for unit in chars_assistant.chunk("m7").lead_units:
        assert unit in text
    assert f'href="tel:{PHONE}"' in text
    page = parse(text)
    assert page.all("button", id="copy-answer")
    assert page.all("a", rel="prev", href="/lookup/m6") and page.all("a", rel="next", href="/lookup/m8")
    assert "第7条" in text and "答复预览" in text


def test_lookup_unknown_detail_is_a_404_page(client: TestClient) -> None:
    resp = html_get(client, "/lookup/m99")
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
    assert "m99" in resp.text and PHONE in resp.text


def test_docs_work_offline(client: TestClient) -> None:
    resp = html_get(client, "/docs")
    assert resp.status_code == 200
    srcs = [a["src"] for a in parse(resp.text).all("script")]
    assert all(s and s.startswith("/") for s in srcs)
    for src in srcs:
        assert client.get(str(src)).status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/measures", "/api/measures/{chunk_id}", "/api/search", "/healthz"} <= set(paths)
    assert "post" in paths["/api/search"] and "get" not in paths["/api/search"]


# ---- headers, CSP hygiene ---------------------------------------------------------------------

EVERY_KIND_OF_RESPONSE = [
    ("GET", "/"),
    ("GET", "/lookup"),
    ("GET", "/lookup?unit=区妇联"),
    ("POST", "/lookup"),
    ("GET", "/lookup/m3"),
    ("GET", "/lookup/nope"),
    ("GET", "/docs"),
    ("GET", "/nope"),
    ("GET", "/static/chat.js"),
    ("GET", "/static/chat.css"),
    ("GET", "/healthz"),
    ("GET", "/api/measures"),
    ("GET", "/api/measures/nope"),
    ("POST", "/api/ask"),
]


@pytest.mark.parametrize(("method", "path"), EVERY_KIND_OF_RESPONSE)
def test_security_headers_everywhere(client: TestClient, method: str, path: str) -> None:
    resp = client.request(method, path, headers={"Accept": "text/html"}, json={"question": ""})
    h = resp.headers
    assert h["content-security-policy"] == CSP
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    if path.startswith("/api/") or path == "/healthz":
        assert h["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/", "/lookup", "/lookup/m1", "/healthz"])
def test_head_requests_work_for_monitors(client: TestClient, path: str) -> None:
    resp = client.head(path)
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["content-security-policy"] == CSP


def test_templates_and_static_have_no_inline_script_style_or_external_urls() -> None:
    external = re.compile(r"(?:https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", re.I)
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("static/*")]:
        text = path.read_text(encoding="utf-8")
        assert not external.search(text), f"{path.name} references an outside URL"
        if path.suffix == ".html":
            assert not re.search(r"\sstyle=", text), f"{path.name} has an inline style"
            assert not re.search(r"\son[a-z]+=", text), f"{path.name} has an inline event handler"
            for m in re.finditer(r"<script(?P<attrs>[^>]*)>", text):
                assert "src=" in m["attrs"] or 'type="application/json"' in m["attrs"], f"{path.name}: inline script"
        if path.suffix == ".js":
            assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text


def test_pages_load_only_same_origin_assets(client: TestClient) -> None:
    for path in ("/", "/lookup", "/lookup/m1"):
        page = parse(html_get(client, path).text)
        refs = [a.get("src") for a in page.all("script") if a.get("src")]
        refs += [a.get("href") for a in page.all("link")]
        refs += [a.get("src") for a in page.all("img")]
        for ref in refs:
            assert ref and ref.startswith("/static/"), ref
            assert client.get(ref).status_code == 200
