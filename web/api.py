"""JSON API: one library call per route. OpenAPI at /docs."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.qlog import entry_from_answer, new_answer_id
from assistant.service import MAX_QUESTION_CHARS
from assistant.visible import ignorable_class

from .deps import Bot
from .errors import ErrorBody, documented
from .questions import Recorder, channel_of, edge_question, session_of
from .views import chunk_dict, filter_chunks, hit_dict

router = APIRouter()


# What the library accepts (assistant.service.check_question), told to OpenAPI clients and fuzzers:
# at least one visible character and at most MAX_QUESTION_CHARS between the first and the last one
# (the invisible class is exactly check_question's: whitespace, control and format characters, blank
# letters). The library checks it, so its Chinese messages reach the user; pydantic only checks the type.
_WHITESPACE = ignorable_class()
_WS, _NON_WS = f"[{_WHITESPACE}]", f"[^{_WHITESPACE}]"
QUESTION_SCHEMA: dict[str, Any] = {
    "minLength": 1,
    "pattern": f"^{_WS}*{_NON_WS}(?:[\\s\\S]{{0,{MAX_QUESTION_CHARS - 2}}}{_NON_WS})?{_WS}*$",
}


class AskRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"question": "送外卖的骑手有没有保险补贴?"}]})

    question: str = Field(
        description=f"市民的问题,1–{MAX_QUESTION_CHARS} 个字(首尾空白不计)", json_schema_extra=QUESTION_SCHEMA
    )
    context: list[str] | None = Field(
        default=None,
        max_length=25,
        description="上一轮答复的条目编号(最相关的在前),如 [\"m7\"];用于“那找哪个部门?”这样的追问",
    )


class SearchRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"q": "退役军人创业", "k": 10}]})

    q: str = Field(description="检索词或问题", json_schema_extra=QUESTION_SCHEMA)
    k: int = Field(default=10, ge=1, le=25, description="最多返回几条")

    @field_validator("k", mode="before")
    @classmethod
    def _json_integer(cls, value: Any) -> Any:
        # JSON Schema's integer: 19 and 19.0, but not "19" or true (pydantic's lax mode takes those).
        if isinstance(value, bool | str):
            raise ValueError("k 必须是整数")  # noqa: TRY004 - pydantic turns ValueError into a 422
        return value


class MeasureOut(BaseModel):
    id: str
    number: int | None
    doc: str
    title: str
    section: str
    quote: str
    highlights: list[str] = Field(description="原文中直接回答这个问题的句子(逐字摘录,按原文顺序)")
    lead_units: list[str]
    notes: list[str]
    score: float
    label: str = Field(description="引用方式:第3条 / 第五条 / 申请材料 / 问答的问题")
    doc_title: str = Field(description="所在文件的标题")
    doc_number: str = Field(description="所在文件的文号(没有文号时为空)")
    phone: str = Field(description="所在文件的咨询电话(文件未写明时为主文件的电话)")


class AnswerOut(BaseModel):
    """The answer contract (GUIDE §3)."""

    question: str
    matched: bool
    kind: str = Field(description="answer | no_match | greeting | clarify(追问缺少上下文时,请市民说明是哪一项)")
    measures: list[MeasureOut]
    phone: str
    answer: str = Field(description="给人读的纯文本答复:先是要点,再是原文,总含咨询电话")
    suggestions: list[str] = Field(description="接下来可以问的问题(点选时连同本条答复的编号作为 context 发送)")
    answer_id: str = Field(description="本条答复的随机编号,用于 POST /api/feedback 评价")


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


class GroupOut(BaseModel):
    name: str = Field(description="服务对象群体,如“退役军人”")
    words: list[str] = Field(description="市民的常见说法")
    policy_words: list[str] = Field(description="政策原文中的用语;措施原文含其中之一即视为面向该群体")
    measures: list[str] = Field(description="面向该群体的条目编号")


class GroupDetail(GroupOut):
    items: list[ChunkOut] = Field(description="面向该群体的条目全文")


class HitOut(ChunkOut):
    score: float
    lexical: float
    dense: float
    coverage: float
    why: list[str] = Field(description="命中原因,如“编号:第7条”“部门:区妇联”“关键词:…”“语义:0.91”")


class DocumentFailure(BaseModel):
    file: str
    line: int | None
    reason: str


class Health(BaseModel):
    status: str = Field(
        description="ok | degraded(语义检索不可用,仅用关键词检索继续答复;或问题日志无法写入,答复照常)"
    )
    reason: str | None = Field(description="degraded 的原因")
    embedder: str
    corpus_sha256: str
    built_at: str
    chunks: int
    documents: int = Field(description="已载入的文件数")
    documents_failed: list[DocumentFailure] = Field(description="未能载入的文件:文件、行号、原因(其余文件照常答复)")
    question_log: str = Field(description="问题日志:ok | failing(写入失败,每 30 秒重试)| off(未启用)")


class HealthDown(ErrorBody):
    status: str = Field(description="error")
    reason: str = Field(description="服务无法启动的原因")


@router.post(
    "/api/ask",
    response_model=AnswerOut,
    responses=documented(400, 413, 415, 422, 429, 503),
    tags=["问答"],
    summary="提问",
)
def ask(body: AskRequest, bot: Bot, request: Request, recorder: Recorder) -> dict[str, Any]:
    question = edge_question(body.question)
    started = time.perf_counter()
    result = bot.ask(question, context=body.context)
    answer = {**result.to_dict(), "suggestions": list(result.suggestions), "answer_id": new_answer_id()}
    latency_ms = (time.perf_counter() - started) * 1000
    recorder.record(
        entry_from_answer(
            answer,
            latency_ms=latency_ms,
            channel=channel_of(request),
            session_id=session_of(request),
            answer_id=answer["answer_id"],
            context_used=result.context_used,
        )
    )
    return answer


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


class DocumentOut(BaseModel):
    id: str = Field(description="文件编号(文件名去掉扩展名);其条目编号为 <文件编号>:<条目>,主文件除外")
    title: str
    number: str = Field(description="文号,没有时为空")
    structure: str = Field(description="识别出的结构:公文 | 条文 | 办事指南 | 问答 | 段落")
    format: str
    chunks: int
    written: str | None
    published: str | None
    effective: str | None = Field(description="施行日期")
    expires: str | None = Field(description="有效期至(含活动截止日)")
    status: str = Field(description="现行 | 已过期 | 已废止(按城阳当地日期)")
    primary: bool
    phone: str
    warnings: list[str]


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]
    failures: list[DocumentFailure] = Field(description="未能载入的文件")


@router.get("/api/documents", response_model=DocumentsOut, tags=["政策条目"], summary="文件库")
def documents(bot: Bot) -> dict[str, Any]:
    return bot.documents()


def _group_dict(g: Any) -> dict[str, Any]:
    return {"name": g.name, "words": list(g.variants), "policy_words": list(g.policy_words), "measures": list(g.measures)}


@router.get("/api/groups", response_model=list[GroupOut], tags=["政策条目"], summary="服务对象群体")
def groups(bot: Bot) -> list[dict[str, Any]]:
    return [_group_dict(g) for g in bot.groups.groups]


@router.get(
    "/api/groups/{name}",
    response_model=GroupDetail,
    responses=documented(404),
    tags=["政策条目"],
    summary="某一群体的措施",
)
def group(name: str, bot: Bot) -> dict[str, Any]:
    g = bot.group(name)
    return {**_group_dict(g), "items": [chunk_dict(bot.chunk(cid)) for cid in g.measures]}


@router.post(
    "/api/search",
    response_model=list[HitOut],
    responses=documented(400, 413, 415, 422, 503),
    tags=["政策条目"],
    summary="检索",
)
def search(body: SearchRequest, bot: Bot) -> list[dict[str, Any]]:
    return [hit_dict(h) for h in bot.search(edge_question(body.q), k=body.k)]


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": HealthDown, "description": "服务无法启动(如索引损坏且无法重建),reason 说明原因"}},
    tags=["运维"],
    summary="健康检查",
)
async def healthz(request: Request) -> Any:
    # async and lock-free: runs on the event loop, never queued behind questions in the thread pool.
    bot = request.app.state.assistant
    log_state, log_reason = request.app.state.recorder.state
    if bot is None:
        reason = request.app.state.startup_error or "政策检索服务尚未就绪"
        body = {"status": "error", "reason": reason, "error": "unavailable", "message": reason,
                "question_log": log_state}  # fmt: skip
        return JSONResponse(body, status_code=503)
    status = {**bot.status(), "question_log": log_state}
    if log_state == "failing" and status["status"] == "ok":
        status.update(status="degraded", reason=log_reason)
    return status


# Uptime monitors probe with HEAD; kept out of the schema so /healthz has one operation id.
router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)


__all__ = ["router"]
