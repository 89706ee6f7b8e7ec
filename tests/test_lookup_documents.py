"""The hotline lookup over a library (issue 20 §4): which document each result is from, a 文件 filter beside
分节 / 责任单位 / 服务对象 that combines with them and lives in the URL, sections that belong to one document, the
ready answer with the document's own phone, lapsed documents flagged on their chunks — all without JavaScript.

The library is a copy of corpus/ plus the structure fixtures (a 办法, a 办事指南, a 问答, a 通知, loose paragraphs),
one of them repealed by a sidecar; the expected figures are read from the loaded corpus, not typed in."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient

from assistant import Assistant
from web.app import create_app

REPO = Path(__file__).resolve().parent.parent
STRUCTURES = REPO / "tests" / "fixtures" / "structures"
PRIMARY_PHONE = "0532-58659939"
HTML = {"Accept": "text/html"}
RULE = "gongyi-banfa"  # 城阳区城乡公益性岗位管理办法（示例）, 第一章…第五章, 第一条…第十条, its own phone
NOTICE = "chunfeng-tongzhi"  # its activity period ends 2025-03-31
REPEALED = "bianmin-shuoming"  # paragraphs, no phone of its own; repealed by the sidecar written below
VETERANS = "区退役军人事务局"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("lookup-library")
    corpus = root / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    for p in STRUCTURES.glob("*.txt"):
        shutil.copy(p, corpus / p.name)
    (corpus / f"{REPEALED}.txt.meta.toml").write_text('status = "废止"\n', encoding="utf-8")
    return Assistant.load(corpus, root / "index", "chars")


@pytest.fixture(scope="module")
def client(library: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(library)) as c:
        yield c


def get(client: TestClient, path: str, **params: str) -> Any:
    return client.get(path + ("?" + urlencode(params) if params else ""), headers=HTML)


def search(client: TestClient, q: str, **form: str) -> tuple[str, Any]:
    resp = client.post("/lookup", data={"q": q, **form}, headers=HTML, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return resp.headers["location"], client.get(resp.headers["location"], headers=HTML)


def card_ids(html: str) -> list[str]:
    return re.findall(r'<li class="lk-card[^"]*" data-id="([^"]+)"', html)


def all_part(html: str) -> str:
    return html[html.index('class="lk-all"') :]


def results_part(html: str) -> str:
    start = html.index('class="lk-results"')
    return html[start : html.index('class="lk-all"', start)]


def cards(html: str) -> dict[str, str]:
    """card id → the card's markup (its first occurrence)."""
    out: dict[str, str] = {}
    for cid, body in re.findall(r'<li class="lk-card[^"]*" data-id="([^"]+)"(.*?)</li>', html, re.DOTALL):
        out.setdefault(cid, body)
    return out


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def doc_facet(html: str) -> dict[str, tuple[str, int]]:
    """The 文件 facet: doc id → (its link's href or refine value, its count)."""
    side = html[html.index('class="facet facet-docs"') :]
    side = side[: side.index("</section>")]
    out = {}
    for target, doc, count in re.findall(
        r'(?:href|value)="([^"]*)"[^>]*data-doc="([^"]+)">.*?<span class="count">(\d+)</span>', side
    ):
        out[doc] = (unescape(target), int(count))
    return out


def section_facet(html: str) -> list[str]:
    side = html[html.index("<h2>分节") :]
    side = side[: side.index("</section>")]
    return [unescape(s) for s in re.findall(r"<span>([^<]+)</span>", side) if s != "全部分节"]


def cited(library: Assistant, doc_id: str) -> str:
    meta = library.corpus.document(doc_id).meta  # type: ignore[union-attr]
    return f"《{meta.title}》" + (f"({meta.number})" if meta.number else "")


# ---- the 文件 facet ------------------------------------------------------------------------------


def test_the_document_facet_lists_every_document_with_its_chunk_count(client: TestClient, library: Assistant) -> None:
    page = get(client, "/lookup").text
    facet = doc_facet(page)
    assert facet == {
        d.meta.doc_id: (f"/lookup?doc={quote(d.meta.doc_id)}", len(d.chunks)) for d in library.corpus.documents
    }
    assert next(iter(facet)) == library.corpus.primary  # what most calls are about comes first
    # A repealed document says so in the facet.
    entry = re.search(rf'data-doc="{REPEALED}">(.*?)</a>', page, re.DOTALL)
    assert entry and "已废止" in entry.group(1)


def test_a_one_document_corpus_shows_no_document_facet(chars_assistant: Assistant) -> None:
    with TestClient(create_app(chars_assistant)) as c:
        page = c.get("/lookup", headers=HTML).text
    assert "facet-docs" not in page and 'class="lk-doc"' not in page
    assert "<h2>分节</h2>" in page


def test_filtering_by_a_related_rule_shows_only_its_chunks_with_title_number_and_label(
    client: TestClient, library: Assistant
) -> None:
    resp = get(client, "/lookup", doc=RULE)
    assert resp.status_code == 200
    page = resp.text
    rule = library.corpus.document(RULE)
    assert rule is not None
    assert card_ids(all_part(page)) == [c.id for c in rule.chunks]
    heading = re.search(r'<h3 class="lk-doc" data-doc="([^"]+)">(.*?)</h3>', page, re.DOTALL)
    assert heading and heading.group(1) == RULE and cited(library, RULE) in text_of(heading.group(2))
    fifth = cards(all_part(page))[f"{RULE}:a5"]
    assert '<span class="num">第五条</span>' in fifth
    assert f'<span class="doc" title="所在文件">{cited(library, RULE)}</span>' in unescape(fifth)
    # The 分节 facet is this document's 章, not the primary's sections.
    assert section_facet(page) == list(dict.fromkeys(c.section for c in rule.chunks))
    assert not set(section_facet(page)) & set(library.corpus.sections)
    assert f"文件:{cited(library, RULE)}" in text_of(page)  # the active filter, removable


def test_a_section_means_one_documents_section(client: TestClient, library: Assistant) -> None:
    primary_notice = [c.id for c in library.chunks if c.doc == library.corpus.primary and c.section == "通知及文件信息"]
    notice_notice = [c.id for c in library.chunks if c.doc == NOTICE and c.section == "通知及文件信息"]
    assert primary_notice and notice_notice  # two documents, one section name
    # Without a document, a section is the primary's (every link from before the library meant that).
    assert card_ids(all_part(get(client, "/lookup", section="通知及文件信息").text)) == primary_notice
    assert card_ids(all_part(get(client, "/lookup", doc=NOTICE, section="通知及文件信息").text)) == notice_notice
    chapter = get(client, "/lookup", doc=RULE, section="第三章 岗位补贴").text
    assert card_ids(all_part(chapter)) == [f"{RULE}:a5", f"{RULE}:a6"]
    # The browse list never merges two documents' sections: each heading sits under its own document.
    whole = all_part(get(client, "/lookup").text)
    headings = re.findall(r'<h3 class="lk-doc" data-doc="([^"]+)">|<h4 class="lk-sec">([^<]+)</h4>', whole)
    under: Counter[tuple[str, str]] = Counter()
    doc = ""
    for d, section in headings:
        doc = d or doc
        if section:
            under[(doc, unescape(section))] += 1
    assert under[(library.corpus.primary, "通知及文件信息")] == 1 and under[(NOTICE, "通知及文件信息")] == 1
    assert max(under.values()) == 1


def test_choosing_another_document_drops_a_section_of_the_first(client: TestClient, library: Assistant) -> None:
    page = get(client, "/lookup", doc=RULE, section="第三章 岗位补贴").text
    facet = doc_facet(page)
    assert facet[NOTICE][0] == f"/lookup?doc={NOTICE}"
    assert facet[RULE][0] == "/lookup?" + urlencode({"doc": RULE, "section": "第三章 岗位补贴"})


# ---- combining filters, the URL ---------------------------------------------------------------------


def test_document_department_and_group_filters_combine(client: TestClient, library: Assistant) -> None:
    primary = library.corpus.primary
    veterans = [c.id for c in library.chunks if VETERANS in c.lead_units]
    assert card_ids(all_part(get(client, "/lookup", unit=VETERANS).text)) == veterans
    assert card_ids(all_part(get(client, "/lookup", doc=primary, unit=VETERANS).text)) == veterans
    # Related rules name no responsible unit: with a department chosen, a rule's chunks drop out.
    narrowed = get(client, "/lookup", doc=RULE, unit=VETERANS).text
    assert card_ids(all_part(narrowed)) == [] and "没有符合筛选的条目" in narrowed
    group = library.groups.groups[0]
    both = card_ids(all_part(get(client, "/lookup", doc=primary, unit=VETERANS, group=group.name).text))
    assert both == [c for c in veterans if c in group.measures]
    # Each filter link keeps the others.
    page = get(client, "/lookup", doc=RULE, group=group.name).text
    unit_link = re.search(rf'href="([^"]*)"[^>]*data-unit="{VETERANS}"', page)
    assert unit_link and unescape(unit_link.group(1)) == "/lookup?" + urlencode(
        {"doc": RULE, "unit": VETERANS, "group": group.name}
    )


def test_a_search_counts_results_per_document_and_a_department_narrows_them(
    client: TestClient, library: Assistant
) -> None:
    q = "公益性岗位补贴多少钱"
    _, resp = search(client, q)
    page = resp.text
    results = [h.chunk for h, _ in library.search_marked(q)]
    per_doc = Counter(c.doc for c in results)
    assert per_doc[RULE] and per_doc[library.corpus.primary]  # both documents answer it
    facet = doc_facet(page)
    assert {d: n for d, (_, n) in facet.items()} == {
        d.meta.doc_id: per_doc[d.meta.doc_id] for d in library.corpus.documents
    }
    # The facet's buttons carry filters only (the question travels in the POST body) and give what they count.
    value = facet[RULE][0]
    assert value == f"doc={RULE}" and q not in value
    _, refined = search(client, q, filter=value)
    shown = card_ids(results_part(refined.text))
    assert len(shown) == per_doc[RULE] and all(cid.startswith(f"{RULE}:") for cid in shown)
    assert 'name="doc" value="gongyi-banfa"' in refined.text  # a new search keeps the filter
    # A department on top: the rule's results drop out, the facet says so.
    unit = next(u for c in results if c.doc == library.corpus.primary for u in c.lead_units)
    _, by_unit = search(client, q, filter=urlencode({"unit": unit}))
    counts = {d: n for d, (_, n) in doc_facet(by_unit.text).items()}
    assert counts[RULE] == 0 and counts[library.corpus.primary] == sum(unit in c.lead_units for c in results)
    _, both = search(client, q, filter=urlencode({"doc": RULE, "unit": unit}))
    assert card_ids(results_part(both.text)) == []


def test_a_blank_search_with_a_document_goes_to_its_shareable_list(client: TestClient) -> None:
    resp = client.post("/lookup", data={"q": " ", "doc": RULE, "unit": VETERANS}, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/lookup?" + urlencode({"doc": RULE, "unit": VETERANS})


@pytest.mark.parametrize("doc", ["no-such-rule", "<script>x</script>"])
def test_an_unknown_document_in_the_url_says_so_in_chinese(client: TestClient, library: Assistant, doc: str) -> None:
    resp = get(client, "/lookup", doc=doc, section="第一章 总则")
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
    message = re.search(r'<p class="lk-error" role="alert">([^<]+)</p>', resp.text)
    assert message and f"文件库中没有编号为“{doc}”的文件" in unescape(message.group(1))
    assert "<script>x</script>" not in resp.text
    # The page still works: every document's chunks, the filter dropped.
    assert len(card_ids(all_part(resp.text))) == len(library.chunks)
    # The same for a search saved with it.
    _, page = search(client, "公益性岗位", doc=doc)
    assert page.status_code == 404 and "文件库中没有编号为" in page.text and "的检索结果" in page.text


# ---- results and the detail page --------------------------------------------------------------------


def test_results_show_each_hits_document_and_label(client: TestClient, library: Assistant) -> None:
    _, resp = search(client, "公益性岗位每月补贴多少钱")
    part = results_part(resp.text)
    shown = cards(part)
    assert f"{RULE}:a5" in shown
    assert '<span class="num">第五条</span>' in shown[f"{RULE}:a5"]
    assert cited(library, RULE) in unescape(shown[f"{RULE}:a5"])
    for cid, body in shown.items():  # the primary's measures stay as they were: 第N条, no document line
        chunk = library.chunk(cid)
        if chunk.doc == library.corpus.primary and chunk.kind == "measure":
            assert f'<span class="num">第{chunk.number}条</span>' in body and 'class="doc"' not in body


def test_the_detail_page_of_a_related_rule(client: TestClient, library: Assistant) -> None:
    page = get(client, f"/lookup/{RULE}:a5").text
    h1 = re.search(r"<h1>(.*?)</h1>", page, re.DOTALL)
    assert h1 and '<span class="num">第五条</span>' in h1.group(1)
    doc_line = re.search(r'<p class="detail-doc">(.*?)</p>', page, re.DOTALL)
    assert doc_line and text_of(doc_line.group(1)).strip() == f"{cited(library, RULE)} 第五条"
    crumbs = re.search(r'<nav class="crumbs"[^>]*>(.*?)</nav>', page, re.DOTALL)
    assert crumbs
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', crumbs.group(1))]
    assert hrefs == [
        "/lookup",
        f"/lookup?doc={RULE}",
        "/lookup?" + urlencode({"doc": RULE, "section": "第三章 岗位补贴"}),
    ]
    assert f'rel="prev" href="/lookup/{RULE}:a4"' in page and f'rel="next" href="/lookup/{RULE}:a6"' in page


def test_the_ready_answer_carries_the_documents_own_phone(client: TestClient, library: Assistant) -> None:
    phone = library.corpus.document(RULE).meta.get("政策咨询电话")  # type: ignore[union-attr]
    assert phone and phone != PRIMARY_PHONE
    detail = get(client, f"/lookup/{RULE}:a5").text
    reply = re.search(r'<pre id="reply-text"[^>]*>(.*?)</pre>', detail, re.DOTALL)
    assert reply
    text = unescape(reply.group(1))
    assert phone in text and cited(library, RULE) in text and "第五条" in text
    assert f'href="tel:{phone}"' in detail
    # A card's 复制答复 fetches the same text.
    copied = client.get(f"/api/measures/{quote(RULE + ':a5')}").json()["answer"]
    assert copied == unescape(reply.group(1)) and phone in copied
    # A document that states no phone: the primary's, and only it.
    stated = library.corpus.document(REPEALED).meta.get("政策咨询电话")  # type: ignore[union-attr]
    assert not stated
    fallback = client.get(f"/api/measures/{quote(REPEALED + ':p1')}").json()["answer"]
    assert set(re.findall(r"0532-\d{8}", fallback)) == {PRIMARY_PHONE}


# ---- lapsed documents -------------------------------------------------------------------------------


def test_a_lapsed_notice_is_flagged_on_each_of_its_chunks(client: TestClient, library: Assistant) -> None:
    expires = library.corpus.document(NOTICE).meta.expires  # type: ignore[union-attr]
    assert expires is not None
    after = dt.datetime.combine(expires + dt.timedelta(days=1), dt.time(9), SHANGHAI)
    with time_machine.travel(after, tick=False):
        page = get(client, "/lookup", doc=NOTICE).text
        shown = cards(all_part(page))
        assert set(shown) == {c.id for c in library.chunks if c.doc == NOTICE}
        for body in shown.values():
            badge = re.search(r'<span class="badge-expired" title="([^"]*)">([^<]+)</span>', body)
            assert badge and badge.group(2) == "已过期"
            assert f"有效期已于{expires.year}年{expires.month}月{expires.day}日届满" in unescape(badge.group(1))
        detail = get(client, f"/lookup/{NOTICE}:part1").text
        assert "已过期" in re.search(r"<h1>(.*?)</h1>", detail, re.DOTALL).group(1)  # type: ignore[union-attr]
        assert "有效期已于" in text_of(re.search(r'<ul class="notes">(.*?)</ul>', detail, re.DOTALL).group(1))  # type: ignore[union-attr]
        # Other documents' chunks carry no such badge: the note is the notice's, not the library's.
        assert "badge-expired" not in cards(all_part(get(client, "/lookup", doc=RULE).text))[f"{RULE}:a5"]
    before = dt.datetime.combine(expires - dt.timedelta(days=1), dt.time(9), SHANGHAI)
    with time_machine.travel(before, tick=False):
        page = get(client, "/lookup", doc=NOTICE).text
        assert "badge-expired" not in all_part(page)


def test_a_repealed_document_is_flagged_已废止(client: TestClient, library: Assistant) -> None:
    page = get(client, "/lookup", doc=REPEALED).text
    for body in cards(all_part(page)).values():
        badge = re.search(r'<span class="badge-expired" title="([^"]*)">([^<]+)</span>', body)
        assert badge and badge.group(2) == "已废止" and "废止" in unescape(badge.group(1))
    heading = re.search(r'<h3 class="lk-doc"[^>]*>(.*?)</h3>', page, re.DOTALL)
    assert heading and "已废止" in heading.group(1)
