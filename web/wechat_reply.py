"""The text of WeChat passive replies: what a subscriber reads, within WeChat's 2,048 bytes."""

from __future__ import annotations

from collections.abc import Sequence

from assistant import Assistant
from assistant.answer import Answer

MAX_REPLY_BYTES = 2048  # WeChat's limit on a passive text reply's Content, UTF-8 bytes


def _fit(text: str, room: int) -> str:
    """`text` cut to at most `room` UTF-8 bytes at a character boundary, marked with "…"."""
    if len(text.encode("utf-8")) <= room:
        return text
    cut = text.encode("utf-8")[: max(room - 3, 0)].decode("utf-8", "ignore")
    return cut + "…"


def fit_reply(body: Sequence[str], tail: str, limit: int = MAX_REPLY_BYTES) -> str:
    """Body lines in order, then `tail` (the phone line), in at most `limit` bytes.

    The tail is never cut: its bytes are reserved first and the body gives way, line by line,
    the last line that does not fit cut short with "…" when enough of it would remain to read.
    """
    room = limit - len(tail.encode("utf-8")) - 1  # the newline before the tail
    kept: list[str] = []
    for line in body:
        need = len(line.encode("utf-8")) + (1 if kept else 0)
        if need <= room:
            kept.append(line)
            room -= need
            continue
        if room - (1 if kept else 0) >= 60:  # a line cut to a few words helps nobody
            kept.append(_fit(line, room - (1 if kept else 0)))
        break
    return "\n".join([*kept, tail]) if kept else tail


def reply_text(answer: Answer, limit: int = MAX_REPLY_BYTES) -> str:
    """The WeChat reply for an answer: key lines, then measure titles and units, then the phone."""
    lines = [line.rstrip() for line in answer.answer.split("\n")]
    phone_lines = [line for line in lines if answer.phone in line]
    tail = phone_lines[-1].strip() if phone_lines else f"政策咨询电话:{answer.phone}"
    if answer.kind != "answer" or not answer.measures:
        body = [line for line in lines if line.strip() != tail]
        return fit_reply(body, tail, limit)
    body = [line for line in lines if line.startswith("▶ ")]
    if not body:  # no sentence stood out: the start of the best measure's text instead
        first = answer.measures[0]
        body = [f"▶ 第{first.number}条:{_fit(first.quote, 450)}" if first.number else _fit(first.quote, 450)]
    body.append("")
    body.append("相关条目:")
    for m in answer.measures:
        head = f"· 第{m.number}条 {m.title}" if m.number else f"· {m.title}"
        body.append(head)
        if m.lead_units:
            body.append(f"  责任单位:{'、'.join(m.lead_units)}")
        # Validity warnings (「已过」) matter more than the units; unless a key line said them already.
        body.extend(f"  提示:{n}" for n in m.notes if not any(n in line for line in body))
    body.append("")
    return fit_reply(body, tail, limit)


def welcome_text(bot: Assistant, limit: int = MAX_REPLY_BYTES) -> str:
    doc = bot.corpus.primary_doc.meta
    title = getattr(doc, "title", "") or "城阳区就业政策"
    body = [
        (
            "您好,欢迎关注!我是城阳区就业政策咨询助手,可以为您查询"
            f"《{title}》中的就业创业扶持措施,原文引用并告诉您责任单位。"
        ),
        "您可以直接发文字提问,比如:",
        *(f"· {s}" for s in bot.suggestions()[:4]),
    ]
    return fit_reply(body, f"政策咨询电话:{bot.phone}", limit)


def other_text(bot: Assistant) -> str:
    example = next(iter(bot.suggestions()), "灵活就业有什么补贴?")
    return fit_reply(
        [f"目前只能回答文字提问。请直接输入您想咨询的就业政策问题,比如:“{example}”"],
        f"政策咨询电话:{bot.phone}",
    )


def busy_text(bot: Assistant) -> str:
    return f"咨询的人较多,请稍后再问;急事请直接拨打政策咨询电话:{bot.phone}"


__all__ = ["MAX_REPLY_BYTES", "busy_text", "fit_reply", "other_text", "reply_text", "welcome_text"]
