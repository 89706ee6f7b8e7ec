"""HTML pages: the citizens' chat (/) and the hotline lookup (/lookup, /lookup/{id}).

Pages are rendered by Jinja2 with autoescaping; the chat's messages are drawn in the browser by
static/chat.js with textContent. Lookup works without JavaScript (search, filters and detail are
plain links and forms); static/lookup.js only adds the keyboard and the clipboard.

Questions never travel in a URL (URLs end up in access logs, proxy logs and browser history):
the lookup's search is a POST form. The POST keeps the search in a short-lived server-side store
(web/lookup_store.py) and answers 303 See Other to GET /lookup/r/<random id>, so Back, forward,
reload and bookmarks work without a resubmission prompt and the URL holds only the id. While a
search is shown its filters are buttons of a second POST form that carries the question along
(and 303s again); filters alone stay plain, shareable links. The detail page opened from results
gets `?r=<id>`, so its breadcrumb and Esc lead back to those results.

Over a library (issue 20) a 文件 filter (`doc`) joins 分节 / 责任单位 / 服务对象; what each value means
and how they combine lives in web/lookup_filters.py. An unknown document id (a link to a removed
document) is dropped with a message, as a 404, never an error page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from assistant import InvalidQuestion
from assistant.answer import issued_on
from assistant.corpus import Chunk
from assistant.fusion import Hit
from assistant.redact import redact_text
from assistant.service import MAX_QUESTION_CHARS, check_question
from assistant.visible import visible_text

from .deps import Bot, templates
from .errors import error_json
from .lookup_filters import Filters, Scope, browse_order, doc_entries, facet_counts, section_counts
from .lookup_store import SavedSearch, store_of
from .views import Row, document_status, expired_notes, rank_rows, tel_href, unit_counts

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_LOOKUP_QUERY = 2000  # longer than any question; the library's own limit shows as a message
MAX_FILTER = 200
SEARCH_SIZE = 10  # ranked hits per search, as before; the weak ones fold away
# Unknown or expired result id: the plain lookup with a notice. 410 Gone says "this existed and is
# no more" to tools and tests; browsers show the page all the same.
EXPIRED_STATUS = 410
EXPIRED_NOTICE = "检索已过期,请重新检索"

router = APIRouter(include_in_schema=False)
# HEAD as well as GET: uptime monitors and `curl -I` probe pages that way.


def _privacy(request: Request, bot: Bot) -> dict[str, Any]:
    """What the privacy notice states, from the running configuration (not hand-written numbers)."""
    settings = request.app.state.settings
    return {
        "logged": bool(settings.question_log),
        "retention_days": settings.retention_days,
        "dept": bot.corpus.primary_doc.meta.consult_dept,
        "phone": bot.phone,
    }


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def chat(request: Request, bot: Bot) -> HTMLResponse:
    meta = bot.corpus.primary_doc.meta
    config = {
        "phone": bot.phone,
        "tel": tel_href(bot.phone),
        "dept": meta.consult_dept,
        "suggestions": list(bot.suggestions()),
        "groups": [g.name for g in bot.groups.groups],
        "maxChars": MAX_QUESTION_CHARS,
    }
    context = {
        "config": config,
        "meta": meta,
        "issued": issued_on(bot.corpus),
        "validity_blank": not meta.get("有效性"),
        "privacy": _privacy(request, bot),
        "n_measures": len(bot.corpus.primary_doc.measures),
    }
    return templates.TemplateResponse(request, "chat.html", context)


@router.api_route("/privacy", methods=["GET", "HEAD"], response_class=HTMLResponse)
def privacy(request: Request, bot: Bot) -> HTMLResponse:
    meta = bot.corpus.primary_doc.meta
    context = {"meta": meta, "privacy": _privacy(request, bot)}
    return templates.TemplateResponse(request, "privacy.html", context)


def _scope(bot: Bot, filters: Filters) -> Scope:
    return Scope(filters, bot.corpus.primary, {g.name: g.measures for g in bot.groups.groups})


def _known(bot: Bot, filters: Filters) -> tuple[Filters, str]:
    """The filters with an unknown document dropped, and the message saying so (a shared link to a document that
    has since been removed from the library, or a mistyped one): the page lists every document instead."""
    if not filters.doc or bot.corpus.document(filters.doc) is not None:
        return filters, ""
    message = f"文件库中没有编号为“{filters.doc}”的文件(可能已被移除或链接有误),下面列出全部文件的条目。"
    return filters.with_doc("", bot.corpus.primary), message


def _ranked(counted: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    """Values with results first, each side in whole-library order."""
    return sorted(counted, key=lambda kv: kv[1] == 0)


def _lookup_context(bot: Bot, q: str, filters: Filters, results: Sequence[Chunk] | None = None) -> dict[str, Any]:
    """What the lookup's list page shows around the chunks: the facets (counted over `results` while a search is
    shown, over the whole library otherwise), the documents, expiry badges."""
    corpus = bot.corpus
    scope = _scope(bot, filters)
    docs = doc_entries(corpus, document_status(corpus))
    by_id = {d.id: d for d in docs}
    sections = section_counts(bot.chunks, corpus.primary, scope.section_doc)
    units = unit_counts(c for c in bot.chunks if c.kind == "measure")  # the responsible units of the measures
    groups = [(g.name, len(g.measures)) for g in bot.groups.groups]
    doc_facet = [(d, d.chunks) for d in docs]
    facet_all = None
    if results is not None:
        values = ([d.id for d in docs], [s for s, _ in sections], [u for u, _ in units], [g for g, _ in groups])
        counts = facet_counts(results, scope, *values)
        doc_facet = _ranked([(d, counts["docs"][d.id]) for d in docs])
        sections = _ranked([(s, counts["sections"][s]) for s, _ in sections])
        units = _ranked([(u, counts["units"][u]) for u, _ in units])
        groups = _ranked([(g, counts["groups"][g]) for g, _ in groups])
        facet_all = counts["all"]
    return {
        "meta": corpus.primary_doc.meta,
        "phone": bot.phone,
        "filters": filters,
        "primary": corpus.primary,
        # The 文件 facet and the documents' headings: only a library of several documents needs them.
        "multi_doc": len(docs) > 1,
        "docs": by_id,
        "doc_facet": doc_facet,
        "section_doc": by_id[scope.section_doc],
        "sections": sections,
        "units": units,
        "target_groups": groups,
        "q": q,
        # Numbers typed on the page jump to m<N> of the primary document (numbered 1…N by the parser).
        "max_number": len(corpus.primary_doc.measures),
        "expired": expired_notes(corpus),
        # Related rules' chunks say which document they are from (the primary's need not): 《title》(文号).
        "doc_titles": {d.id: d.cited for d in docs if not d.primary},
        "rid": "",
        "facet_all": facet_all,
    }


@dataclass
class _Search:
    """One search as the lookup shows it: the chat's decision, then ranked matched and weak rows."""

    matched: list[Row] = field(default_factory=list)  # after the filters
    weak: list[Row] = field(default_factory=list)  # after the filters
    results: list[Chunk] = field(default_factory=list)  # every result before the filters: facet counts
    kind: str = "answer"  # the chat's Plan.kind; anything but "answer" is a decline
    neighbour: str = ""  # the uncovered topic the question is nearest to, when declined for it
    referral: str = ""  # where that topic is handled (lexicon data, when the library has it)

    @property
    def declined(self) -> bool:
        return self.kind != "answer"


def _search(bot: Bot, q: str, scope: Scope) -> _Search:
    # The chat's decision: Plan.kind does not depend on top_k (retrieval matches or it does not),
    # so asking for 10 keeps the chat's verdict and threshold while showing all that clear it.
    plan = bot.plan(q, top_k=SEARCH_SIZE)
    found = bot.search_marked(q, k=SEARCH_SIZE)
    keep: dict[str, tuple[Hit, tuple[str, ...]]] = {}
    if plan.kind == "answer":
        marks = {h.chunk.id: m for h, m in found}
        for h in plan.retrieval.matched:
            keep.setdefault(h.chunk.id, (h, marks.get(h.chunk.id, ())))
        # What the chat quotes beyond retrieval's own matches (a group's measures, each part of a
        # two-part question) is as much an answer.
        for s in plan.shown:
            keep.setdefault(s.hit.chunk.id, (s.hit, marks.get(s.hit.chunk.id, s.highlight.sentences)))
    matched, weak = rank_rows(found, list(keep.values()))
    result = _Search(
        matched=[r for r in matched if scope.admits(r.chunk)],
        weak=[r for r in weak if scope.admits(r.chunk)],
        results=[r.chunk for r in (*matched, *weak)],
        kind=plan.kind,
    )
    topic = plan.retrieval.neighbour if result.declined else None
    if topic:
        result.neighbour = topic
        nb = next((n for n in bot.lexicon.neighbours if n.topic == topic), None)
        # `referral` arrives with issue 11's neighbours data; a lexicon without it shows none.
        result.referral = str(getattr(nb, "referral", "") or "")
    return result


def _render_lookup(
    request: Request,
    bot: Bot,
    saved: SavedSearch | None,
    filters: Filters,
    rid: str = "",
    notice: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    filters, bad_filter = _known(bot, filters)
    if bad_filter:
        status_code = 404  # the document asked for is not there; the page still lists the library
    scope = _scope(bot, filters)
    q = saved.q if saved else ""
    error = saved.error if saved else ""
    search: _Search | None = None
    if q and not error:
        try:
            search = _search(bot, q, scope)
        except InvalidQuestion as exc:  # stored before a library change of its limits, say
            error = str(exc)
    context = _lookup_context(bot, q, filters, search.results if search is not None else None)
    shown = scope.keep(bot.chunks)
    context |= {
        "search": search,
        "error": error,
        "bad_filter": bad_filter,
        "notice": notice,
        "rid": rid,
        "groups": browse_order(shown, bot.corpus.primary),
        "n_shown": len(shown),
    }
    return templates.TemplateResponse(request, "lookup.html", context, status_code=status_code)


@router.api_route("/lookup", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lookup(
    request: Request,
    bot: Bot,
    unit: Annotated[str, Query(max_length=MAX_FILTER)] = "",
    section: Annotated[str, Query(max_length=MAX_FILTER)] = "",
    group: Annotated[str, Query(max_length=MAX_FILTER)] = "",
    doc: Annotated[str, Query(max_length=MAX_FILTER)] = "",
) -> HTMLResponse:
    # A `q` in the URL (an old bookmark) is ignored on purpose: searching is POST only.
    return _render_lookup(request, bot, None, Filters(doc, section, unit, group))


@router.api_route("/lookup/r/{rid}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lookup_results(request: Request, rid: str, bot: Bot) -> HTMLResponse:
    """The results of one POSTed search, for as long as the store keeps it."""
    saved = store_of(request.app.state).get(rid)
    if saved is None:
        return _render_lookup(request, bot, None, Filters(), notice=EXPIRED_NOTICE, status_code=EXPIRED_STATUS)
    return _render_lookup(request, bot, saved, _saved_filters(saved), rid=rid)


def _last(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[-1] if values else ""


def _form_filters(form: dict[str, list[str]]) -> Filters:
    return Filters(_last(form, "doc"), _last(form, "section"), _last(form, "unit"), _last(form, "group"))


def _saved_filters(saved: SavedSearch) -> Filters:
    return Filters(saved.doc, saved.section, saved.unit, saved.group)


def _saved_search(q: str, f: Filters) -> SavedSearch:
    # Only the redacted question is kept: the store, the page and the copied replies never see
    # the personal data a caller read out.
    try:
        # The limit counts what was typed (redaction only shortens); control characters are gone.
        return SavedSearch(redact_text(check_question(q)), f.unit, f.section, f.group, doc=f.doc)
    except InvalidQuestion as exc:
        shown = redact_text(visible_text(q).strip())[:MAX_QUESTION_CHARS]
        return SavedSearch(shown, f.unit, f.section, f.group, error=str(exc), doc=f.doc)


@router.post("/lookup", response_class=HTMLResponse)
async def lookup_search(request: Request) -> Response:
    """The search form: q (and the current doc/unit/section/group), or `filter` from a refine button.
    Answers 303 to the result page (or to the filtered list when q is blank)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != FORM_TYPE:
        return error_json(415, "unsupported_media_type", "请通过页面上的检索框提交")
    body = await request.body()  # at most 16 KB: BodyLimit refused anything larger
    try:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
        filters = _form_filters(form)
        if "filter" in form:
            filters = _form_filters(parse_qs(_last(form, "filter"), keep_blank_values=True, max_num_fields=8))
    except ValueError:
        return error_json(400, "bad_request", "请求格式有误,请检查后重试")
    q = _last(form, "q")
    if len(q) > MAX_LOOKUP_QUERY:
        return error_json(422, "invalid_request", f"检索内容太长了(最多 {MAX_QUESTION_CHARS} 个字)")
    if any(len(v) > MAX_FILTER for v in (filters.doc, filters.unit, filters.section, filters.group)):
        return error_json(422, "invalid_request", "筛选条件太长了")
    if not q.strip():
        return RedirectResponse(filters.url, status_code=303)
    saved = await run_in_threadpool(_saved_search, q, filters)
    rid = await run_in_threadpool(store_of(request.app.state).put, saved)  # a database write: off the loop
    return RedirectResponse(f"/lookup/r/{rid}", status_code=303)


@router.api_route("/lookup/{chunk_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lookup_detail(
    request: Request,
    chunk_id: str,
    bot: Bot,
    r: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """One measure; `r` = the result id it was opened from, so the way back leads to those results."""
    answer = bot.answer_for(chunk_id)  # raises UnknownChunk → 404 page
    chunk = bot.chunk(chunk_id)
    saved = store_of(request.app.state).get(r) if r else None
    rid = r if saved else ""  # an expired id is dropped: the way back is the whole list then
    ids = [c.id for s in browse_order(bot.chunks, bot.corpus.primary) for c in s.chunks]
    i = ids.index(chunk_id)
    context = _lookup_context(bot, saved.q if saved else "", Filters())
    doc = context["docs"][chunk.doc]
    # The document this chunk is from: its title, 文号 and own phone (the primary's as the fallback).
    meta = (bot.corpus.document(chunk.doc) or bot.corpus.primary_doc).meta
    context |= {
        "chunk": chunk,
        "doc": doc,
        "meta": meta,
        "doc_phone": meta.phone or bot.phone,
        # The breadcrumb's links: the chunk's document, then its section (a primary section needs no doc=).
        "doc_url": Filters(doc=chunk.doc).url,
        "section_url": Filters(doc="" if doc.primary else chunk.doc, section=chunk.section).url,
        "header_filters": _saved_filters(saved) if saved else Filters(),
        "answer": answer,
        "notes": answer.measures[0].notes,
        "prev_id": ids[i - 1] if i > 0 else None,
        "next_id": ids[i + 1] if i + 1 < len(ids) else None,
        "chunks_by_id": {c.id: c for c in bot.chunks},
        "rid": rid,
        "saved": saved,
    }
    return templates.TemplateResponse(request, "detail.html", context)


__all__ = ["router"]
