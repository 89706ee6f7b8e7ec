"""HTML pages: the citizens' chat (/) and the hotline lookup (/lookup, /lookup/{id}).

Pages are rendered by Jinja2 with autoescaping; the chat's messages are drawn in the browser by
static/chat.js with textContent. Lookup works without JavaScript (search, filters and detail are
plain links and forms); static/lookup.js only adds the keyboard and the clipboard.

Questions never travel in a URL (URLs end up in access logs, proxy logs and browser history):
the lookup's search is a POST form, and while a search is shown its filters are buttons of a
second POST form that carries the question along. Filters alone stay plain, shareable links.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from assistant import InvalidQuestion
from assistant.answer import issued_on
from assistant.redact import redact_text
from assistant.service import MAX_QUESTION_CHARS, check_question

from .deps import Bot, templates
from .errors import error_json
from .views import filter_chunks, group_by_section, matches, section_counts, tel_href, unit_counts

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_LOOKUP_QUERY = 2000  # longer than any question; the library's own limit shows as a message
MAX_FILTER = 200

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


def _lookup_context(bot: Bot, q: str, unit: str, section: str, group: str = "") -> dict[str, Any]:
    measures = [c for c in bot.chunks if c.kind == "measure"]
    return {
        "meta": bot.corpus.primary_doc.meta,
        "phone": bot.phone,
        "units": unit_counts(measures),
        "sections": section_counts(bot.chunks),
        "target_groups": [(g.name, len(g.measures)) for g in bot.groups.groups],
        "unit": unit,
        "section": section,
        "group": group,
        "q": q,
        # Numbers typed on the page jump to m<N> of the primary document (numbered 1…N by the parser).
        "max_number": len(bot.corpus.primary_doc.measures),
    }


def _render_lookup(request: Request, bot: Bot, q: str, unit: str, section: str, group: str = "") -> HTMLResponse:
    hits: list[Any] = []
    marks: dict[str, tuple[str, ...]] = {}
    error = ""
    shown_q = ""
    target = bot.groups.get(group) if group else None
    members = target.measures if target else (() if group else None)  # an unknown group matches nothing
    if q.strip():
        try:
            check_question(q)  # the limit counts what was typed; redaction only shortens
            shown_q = redact_text(q).strip()
            found = [(h, m) for h, m in bot.search_marked(shown_q) if matches(h.chunk, unit, section, members)]
            hits = [h for h, _ in found]
            marks = {h.chunk.id: m for h, m in found}
        except InvalidQuestion as exc:
            error = str(exc)
            shown_q = redact_text(q.strip())[:MAX_QUESTION_CHARS]
    context = _lookup_context(bot, shown_q, unit, section, group)
    shown = filter_chunks(bot.chunks, unit, section, members)
    context |= {
        "hits": hits,
        "marks": marks,
        "error": error,
        "groups": group_by_section(shown),
        "n_shown": len(shown),
    }
    return templates.TemplateResponse(request, "lookup.html", context)


@router.api_route("/lookup", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lookup(
    request: Request,
    bot: Bot,
    unit: Annotated[str, Query(max_length=MAX_FILTER)] = "",
    section: Annotated[str, Query(max_length=MAX_FILTER)] = "",
    group: Annotated[str, Query(max_length=MAX_FILTER)] = "",
) -> HTMLResponse:
    # A `q` in the URL (an old bookmark) is ignored on purpose: searching is POST only.
    return _render_lookup(request, bot, "", unit, section, group)


def _last(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[-1] if values else ""


@router.post("/lookup", response_class=HTMLResponse)
async def lookup_search(request: Request, bot: Bot) -> Response:
    """The search form: q (and the current unit/section), or `filter` from a refine button."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != FORM_TYPE:
        return error_json(415, "unsupported_media_type", "请通过页面上的检索框提交")
    body = await request.body()  # at most 16 KB: BodyLimit refused anything larger
    try:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
        unit, section, group = _last(form, "unit"), _last(form, "section"), _last(form, "group")
        if "filter" in form:
            refine = parse_qs(_last(form, "filter"), keep_blank_values=True, max_num_fields=6)
            unit, section, group = _last(refine, "unit"), _last(refine, "section"), _last(refine, "group")
    except ValueError:
        return error_json(400, "bad_request", "请求格式有误,请检查后重试")
    q = _last(form, "q")
    if len(q) > MAX_LOOKUP_QUERY:
        return error_json(422, "invalid_request", f"检索内容太长了(最多 {MAX_QUESTION_CHARS} 个字)")
    if len(unit) > MAX_FILTER or len(section) > MAX_FILTER or len(group) > MAX_FILTER:
        return error_json(422, "invalid_request", "筛选条件太长了")
    return await run_in_threadpool(_render_lookup, request, bot, q, unit, section, group)


@router.api_route("/lookup/{chunk_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lookup_detail(request: Request, chunk_id: str, bot: Bot) -> HTMLResponse:
    answer = bot.answer_for(chunk_id)  # raises UnknownChunk → 404 page
    chunk = bot.chunk(chunk_id)
    ids = [c.id for g in group_by_section(bot.chunks) for c in g.chunks]
    i = ids.index(chunk_id)
    context = _lookup_context(bot, "", "", "") | {
        "chunk": chunk,
        "answer": answer,
        "notes": answer.measures[0].notes,
        "prev_id": ids[i - 1] if i > 0 else None,
        "next_id": ids[i + 1] if i + 1 < len(ids) else None,
        "chunks_by_id": {c.id: c for c in bot.chunks},
    }
    return templates.TemplateResponse(request, "detail.html", context)


__all__ = ["router"]
