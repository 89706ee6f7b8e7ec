"""Regenerate docs/screenshot-start.png (the chat as it opens on a phone, 390×844: greeting, privacy notice, phone),
docs/screenshot-chat.png (phone, 390×844), docs/screenshot-followup.png (a follow-up question),
docs/screenshot-elder.png (the same chat in 长辈模式),
docs/screenshot-lookup.png (desktop, 1280×800) and docs/screenshot-admin.png (the staff dashboard on a seeded
question log, desktop 1366×900).

    python scripts/screenshots.py [--index DIR] [--embedder e5|chars|st:…] [--out docs]

Uses Debian's chromium (apt-get install chromium fonts-noto-cjk) through playwright, and the real
Assistant (default settings, as `policy-assistant serve` would run it) on a loopback port.
"""

from __future__ import annotations

import argparse
import random
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from assistant import Assistant
from assistant.qlog import QuestionLog, entry_from_answer, new_answer_id
from assistant.stats import DISTRICT_TZ
from web.app import create_app
from web.localserver import CHROMIUM_ARGS, CHROMIUM_PATH, running
from web.settings import WebSettings

ROOT = Path(__file__).resolve().parent.parent
CHAT_QUESTION = "送外卖的骑手有没有保险补贴?"
FOLLOWUP_QUESTIONS = ("重点群体就业创业税收优惠政策还能享受吗?", "那找哪个部门办?")
LOOKUP_QUERY = "退役军人创业"
# A made-up month of questions for the dashboard screenshot (never a real citizen's).
SEED_ANSWERED = [
    "送外卖的骑手有没有保险补贴?", "大学生创业有什么补贴", "招了残疾人有补贴吗", "创业担保贷款能贷多少",
    "退役军人找工作有什么帮助", "灵活就业社保补贴怎么申请", "稳岗扩岗专项贷款利率多少", "零工市场在哪里",
    "重点群体就业创业税收优惠政策", "宝妈想学直播带货有培训吗",
]
SEED_UNANSWERED = [
    ("失业金怎么领", 9), ("失业金怎么领取", 3), ("失业保险金在哪里申请", 2), ("公积金怎么提取", 5),
    ("医保怎么报销", 4), ("孩子落户需要什么材料", 3), ("养老保险交了多少年能领", 2), ("护照怎么办理", 1),
]


def seed_log(bot: Assistant, data_dir: Path) -> None:
    """Thirty days of made-up questions, answered by the real assistant, with some votes."""
    rng = random.Random(12)
    now = datetime.now(DISTRICT_TZ).replace(minute=0, second=0, microsecond=0)
    asked = [(q, rng.randrange(30)) for q in SEED_ANSWERED for _ in range(rng.randrange(3, 12))]
    asked += [(q, rng.randrange(30)) for q, n in SEED_UNANSWERED for _ in range(n)]
    with QuestionLog(data_dir) as log:
        for question, days_ago in asked:
            answer = bot.ask(question)
            answer_id = new_answer_id()
            created = (now - timedelta(days=days_ago, hours=rng.randrange(9))).astimezone(UTC).isoformat()
            entry = entry_from_answer(answer.to_dict(), latency_ms=rng.uniform(15, 60) + (400 if rng.random() < 0.03 else 0),
                                      channel=rng.choice(["web", "web", "wechat"]), answer_id=answer_id,
                                      context_used=False)  # fmt: skip
            log.record(replace(entry, created=created))
            if answer.kind == "answer" and rng.random() < 0.3:
                helpful = rng.random() < 0.8
                comment = None if helpful or rng.random() < 0.5 else "没说具体去哪个窗口办理"
                log.record_feedback(answer_id, helpful, comment)


def shoot_phone(browser: Browser, base: str, path: Path, questions: Sequence[str], elder: bool = False) -> None:
    """A fresh phone (390×844, 2×) asks `questions` in the chat, one answer at a time, then the
    screen is saved: what a citizen sees after the last answer."""
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = phone.new_page()
    page.goto(f"{base}/")
    page.wait_for_selector("body[data-ready]")
    if elder:
        page.click("#elder")
    for question in questions:
        answered = page.locator(".msg.bot:not(#welcome):not(.pending)").count()
        page.fill("#q", question)
        page.press("#q", "Enter")
        page.wait_for_function(
            "n => document.querySelectorAll('.msg.bot:not(#welcome):not(.pending)').length > n", arg=answered
        )
    page.locator("#q").blur()  # no focus ring on the question box in the picture
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    phone.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", help="索引目录(默认同 policy-assistant)")
    parser.add_argument("--embedder", help="向量模型(默认同 policy-assistant)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="输出目录(默认 docs/)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    bot = Assistant.load(index_dir=args.index, embedder=args.embedder)
    # The screenshot's question is not a citizen's: keep it out of the question log.
    settings = WebSettings(question_log=False, rate_limit=None)
    with running(create_app(bot, settings)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)

        shoot_phone(browser, base, out / "screenshot-start.png", [])  # what a citizen sees first
        shoot_phone(browser, base, out / "screenshot-chat.png", [CHAT_QUESTION])
        # A follow-up: the tax question, then 「那找哪个部门办？」 answered about it (context).
        shoot_phone(browser, base, out / "screenshot-followup.png", FOLLOWUP_QUESTIONS)
        # 长辈模式: switched on with its toggle (remembered in this context's localStorage), same question.
        shoot_phone(browser, base, out / "screenshot-elder.png", [CHAT_QUESTION], elder=True)

        desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = desk.new_page()
        page.goto(f"{base}/lookup")
        page.fill("#q", LOOKUP_QUERY)  # searches are POSTed: questions stay out of URLs
        page.press("#q", "Enter")
        page.wait_for_selector(".lk-results")
        page.keyboard.press("ArrowDown")  # show the keyboard focus on the best hit
        page.wait_for_timeout(200)
        page.screenshot(path=str(out / "screenshot-lookup.png"))
        desk.close()

        with tempfile.TemporaryDirectory() as tmp:
            token = secrets.token_urlsafe(24)
            seed_log(bot, Path(tmp))
            staff = WebSettings(data_dir=Path(tmp), rate_limit=None, admin_token=token)
            with running(create_app(bot, staff)) as admin_base:
                desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
                page = desk.new_page()
                page.goto(f"{admin_base}/admin")
                page.fill("#token", token)
                page.press("#token", "Enter")
                page.wait_for_selector("#fig-total")
                page.goto(f"{admin_base}/admin?days=30")
                page.wait_for_selector("#fig-total")
                page.screenshot(path=str(out / "screenshot-admin.png"))
                desk.close()
        browser.close()
    names = ("screenshot-start.png", "screenshot-chat.png", "screenshot-followup.png", "screenshot-elder.png", "screenshot-lookup.png",
             "screenshot-admin.png")  # fmt: skip
    print("已保存 " + "、".join(str(out / name) for name in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
