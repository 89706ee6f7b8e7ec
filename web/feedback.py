"""Citizens' votes on answers: `POST /api/feedback`, and the staff side's handle on the question log.

Every answer of `POST /api/ask` carries an opaque `answer_id` that is stored with its logged
question; a vote quotes it back. The id is random, so knowing one answer's id tells nothing
about any other, and a vote can only land on an answer that was really given (and logged).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from assistant.qlog import FEEDBACK_COMMENT_MAX, QuestionLog

from .errors import documented, error_json

router = APIRouter()


class StaffLog:
    """The question log as the feedback route and the dashboard use it: opened on first use (a
    worker that never sees a vote never opens it), None when the log is switched off."""

    def __init__(self, data_dir: Path | None, database_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url  # as for QuestionLog: None reads the environment
        self._log: QuestionLog | None = None
        self._lock = threading.Lock()

    def get(self) -> QuestionLog | None:
        if self.data_dir is None:
            return None
        with self._lock:
            if self._log is None:
                self._log = QuestionLog(self.data_dir, self.database_url)
            return self._log

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None


def get_staff_log(request: Request) -> StaffLog:
    handle: StaffLog = request.app.state.staff_log
    return handle


Staff = Annotated[StaffLog, Depends(get_staff_log)]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"answer_id": "mfrggzdfmztwq2lknnwg23tpobyxe43u", "helpful": False,
                                         "comment": "没说去哪里办"}]}
    )  # fmt: skip

    answer_id: str = Field(min_length=1, max_length=64, description="POST /api/ask 答复中的 answer_id")
    helpful: StrictBool = Field(description="true = 有帮助,false = 没帮助")
    comment: str | None = Field(
        default=None, max_length=FEEDBACK_COMMENT_MAX, description=f"选填的意见,至多 {FEEDBACK_COMMENT_MAX} 个字"
    )


class FeedbackOut(BaseModel):
    answer_id: str
    helpful: bool
    comment: str | None = Field(description="保存下来的意见(身份证号、手机号等已替换)")
    message: str


@router.post(
    "/api/feedback",
    response_model=FeedbackOut,
    responses=documented(400, 404, 413, 415, 422, 429, 503),
    tags=["问答"],
    summary="评价答复",
    description="对一条答复投“有帮助/没帮助”,可附意见;同一条答复以最后一次为准。",
)
def feedback(body: FeedbackRequest, staff: Staff) -> Any:
    log = staff.get()
    if log is None:
        return error_json(503, "unavailable", "暂时无法记录评价(问题日志未启用),谢谢您")
    stored = log.record_feedback(body.answer_id, body.helpful, body.comment)
    if stored is None:
        return error_json(404, "not_found", "没有找到这条答复,可能编号有误或记录已清理")
    return {
        "answer_id": stored.answer_id,
        "helpful": stored.helpful,
        "comment": stored.comment,
        "message": "感谢您的评价" if stored.helpful else "感谢您的反馈,我们会据此改进答复",
    }


__all__ = ["Staff", "StaffLog", "get_staff_log", "router"]
