"""JSON API: one library call per route. OpenAPI at /docs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from assistant.service import MAX_QUESTION_CHARS

from .deps import Bot
from .errors import documented
from .views import chunk_dict, filter_chunks, hit_dict

router = APIRouter()


# What the library accepts (assistant.service.check_question), told to OpenAPI clients and fuzzers:
# at most MAX_QUESTION_CHARS characters with at least one that str.strip() keeps. The library checks
# it, so its Chinese messages reach the user; pydantic only checks the type.
_WHITESPACE = r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
QUESTION_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": f"[^{_WHITESPACE}]"}


class AskRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"question": "送外卖的骑手有没有保险补贴?"}]})

    question: str = Field(
        description=f"市民的问题,1–{MAX_QUESTION_CHARS} 个字(首尾空白不计)", json_schema_extra=QUESTION_SCHEMA
    )


class MeasureOut(BaseModel):
    id: str
    number: int | None
    doc: str
    title: str
    section: str
    quote: str
    lead_units: list[str]
    notes: list[str]
    score: float


class AnswerOut(BaseModel):
    """The answer contract (GUIDE §3)."""

    question: str
    matched: bool
    kind: str = Field(description="answer | no_match | greeting")
    measures: list[MeasureOut]
    phone: str
    answer: str = Field(description="给人读的纯文本答复,总含咨询电话")


class ChunkOut(BaseModel):
    id: str
    doc: str
    kind: str = Field(description="measure | guiding | org | notice")
    number: int | None
    label: str = Field(description="引用方式,如“第3条 实施灵活就业促进工程”")
    title: str
    section: str
    lead_units: list[str] = Field(description="责任单位")
    text: str


class ChunkDetail(ChunkOut):
    notes: list[str] = Field(description="有效期等提示")
    phone: str
    answer: str = Field(description="可直接念给来电市民的答复(“复制答复”按钮复制的内容)")


class HitOut(ChunkOut):
    score: float
    lexical: float
    dense: float
    coverage: float
    why: list[str] = Field(description="命中原因,如“编号:第7条”“部门:区妇联”“关键词:…”“语义:0.91”")


class Health(BaseModel):
    status: str = Field(description="ok | degraded")
    reason: str | None
    embedder: str
    corpus_sha256: str
    built_at: str
    chunks: int


@router.post(
    "/api/ask", response_model=AnswerOut, responses=documented(400, 413, 415, 422, 503), tags=["问答"], summary="提问"
)
def ask(body: AskRequest, bot: Bot) -> dict[str, Any]:
    return bot.ask(body.question).to_dict()


@router.get(
    "/api/measures", response_model=list[ChunkOut], responses=documented(422), tags=["政策条目"], summary="全部条目"
)
def measures(
    bot: Bot,
    unit: Annotated[str | None, Query(description="只看该责任单位的条目,如“区妇联”")] = None,
    section: Annotated[str | None, Query(description="只看该分节的条目")] = None,
) -> list[dict[str, Any]]:
    return [chunk_dict(c) for c in filter_chunks(bot.chunks, unit, section)]


@router.get(
    "/api/measures/{chunk_id}",
    response_model=ChunkDetail,
    responses=documented(404),
    tags=["政策条目"],
    summary="单个条目",
)
def measure(chunk_id: str, bot: Bot) -> dict[str, Any]:
    answer = bot.answer_for(chunk_id)
    return {
        **chunk_dict(bot.chunk(chunk_id)),
        "notes": list(answer.measures[0].notes),
        "phone": answer.phone,
        "answer": answer.answer,
    }


@router.get(
    "/api/search", response_model=list[HitOut], responses=documented(422, 503), tags=["政策条目"], summary="检索"
)
def search(
    bot: Bot,
    q: Annotated[str, Query(description="检索词或问题", json_schema_extra=QUESTION_SCHEMA)],
    k: Annotated[int, Query(ge=1, le=25, description="最多返回几条")] = 10,
) -> list[dict[str, Any]]:
    return [hit_dict(h) for h in bot.search(q, k=k)]


@router.get("/healthz", response_model=Health, tags=["运维"], summary="健康检查")
def healthz(bot: Bot) -> dict[str, Any]:
    return bot.status()


# Uptime monitors probe with HEAD; kept out of the schema so /healthz has one operation id.
router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)


__all__ = ["router"]
