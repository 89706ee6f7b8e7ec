"""Regenerate docs/screenshot-chat.png (phone, 390×844) and docs/screenshot-lookup.png (desktop, 1280×800).

    python scripts/screenshots.py [--index DIR] [--embedder e5|chars|st:…] [--out docs]

Uses Debian's chromium (apt-get install chromium fonts-noto-cjk) through playwright, and the real
Assistant (default settings, as `policy-assistant serve` would run it) on a loopback port.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from assistant import Assistant
from web.app import create_app
from web.localserver import CHROMIUM_ARGS, CHROMIUM_PATH, running
from web.settings import WebSettings

ROOT = Path(__file__).resolve().parent.parent
CHAT_QUESTION = "送外卖的骑手有没有保险补贴?"
LOOKUP_QUERY = "退役军人创业"


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

        phone = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
        )
        page = phone.new_page()
        page.goto(f"{base}/")
        page.wait_for_selector("body[data-ready]")
        page.fill("#q", CHAT_QUESTION)
        page.press("#q", "Enter")
        page.wait_for_selector(".msg.bot:not(#welcome):not(.pending)")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "screenshot-chat.png"))
        phone.close()

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
        browser.close()
    print(f"已保存 {out / 'screenshot-chat.png'} 和 {out / 'screenshot-lookup.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
