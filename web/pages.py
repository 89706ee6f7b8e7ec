"""HTML pages: the citizens' chat (/) and the hotline lookup (/lookup, /lookup/{id}).

Pages are rendered by Jinja2 with autoescaping; the chat's messages are drawn in the browser by
static/chat.js with textContent. Lookup works without JavaScript (search, filters and detail are
plain links and forms); static/lookup.js only adds the keyboard and the clipboard.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from assistant import InvalidQuestion
from assistant.service import MAX_QUESTION_CHARS

from .deps import Bot, templates
from .views import filter_chunks, group_by_section, matches, section_counts, tel_href, unit_counts

router = APIRouter(include_in_schema=False)
# HEAD as well as GET: uptime monitors and `curl -I` probe pages that way.


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def chat(request: Request, bot: Bot) -> HTMLResponse:
    meta = bot.corpus.primary_doc.meta
    config = {
        "phone": bot.phone,
        "tel": tel_href(bot.phone),
        "dept": meta.consult_dept,
        "suggestions": list(bot.suggestions()),
        "maxChars": MAX_QUESTION_CHARS,
    }
    context = {"config": config, "meta": meta, "n_measures": len(bot.corpus.primary_doc.measures)}
    return templates.TemplateResponse(request, "chat.html", context)


def _lookup_context(bot: Bot, q: str, unit: str, section: str) -> dict[str, Any]:
    measures = [c for c in bot.chunks if c.kind == "measure"]
    return {
        "meta": bot.corpus.primary_doc.meta,
        "phone": bot.phone,
        "units": unit_counts(measures),
        "sections": section_counts(bot.chunks),
        "unit": unit,
        "section": section,
        "q": q,
        # Numbers typed on the page jump to m<N> of the primary document (numbered 1…N by the parser).
        "max_number": len(bot.corpus.primary_doc.measures),
    }


@router.api_route("/lookup", methods=["GET", "HEAD"], response_class=HTMLResponse)
def lookup(
    request: Request,
    bot: Bot,
    q: Annotated[str, Query(max_length=2000)] = "",
    unit: Annotated[str, Query(max_length=200)] = "",
    section: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    context = _lookup_context(bot, q.strip(), unit, section)
    hits: list[Any] = []
    error = ""
    if q.strip():
        try:
            hits = [h for h in bot.search(q) if matches(h.chunk, unit, section)]
        except InvalidQuestion as exc:
            error = str(exc)
    shown = filter_chunks(bot.chunks, unit, section)
    context |= {"hits": hits, "error": error, "groups": group_by_section(shown), "n_shown": len(shown)}
    return templates.TemplateResponse(request, "lookup.html", context)


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
