"""`policy-assistant` command line: build, ask, serve, eval. A thin edge over the library.

Errors from the library become one readable line on stderr and a non-zero exit code
(2 = bad input, 1 = anything else); tracebacks are for --debug only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence

from .cli_parser import ChineseArgumentParser
from .errors import InvalidQuestion, PolicyAssistantError
from .qlog import QuestionLog, default_data_dir, entry_from_answer
from .service import Assistant, Settings, check_question


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="语料目录(默认:仓库中的 corpus/,或环境变量 POLICY_ASSISTANT_CORPUS)")
    p.add_argument("--index", help="索引目录(默认:仓库中的 index/,或环境变量 POLICY_ASSISTANT_INDEX)")
    p.add_argument(
        "--embedder",
        help="向量模型:e5(默认,内置)、st:<模型目录或名称>、chars(无模型);也可用环境变量 POLICY_ASSISTANT_EMBEDDER",
    )


def _load(args: argparse.Namespace, progress: bool = True) -> Assistant:
    return Assistant.load(args.corpus, args.index, args.embedder, progress=progress)


def cmd_build(args: argparse.Namespace) -> int:
    from .corpus import load_corpus
    from .embed import get_embedder
    from .index import build_index
    from .text import Lexicon

    settings = Settings.from_env()
    corpus = load_corpus(args.corpus or settings.corpus_dir)
    lexicon = Lexicon(corpus.root / "lexicon", [c.text for c in corpus.chunks])
    embedder = get_embedder(args.embedder or settings.embedder)
    index_dir = args.index or settings.index_dir
    for failure in corpus.failures:  # left out, not fatal: say which and why
        print(f"警告: 文件未载入 {failure}", file=sys.stderr)
    manifest = build_index(corpus, lexicon, embedder, index_dir, progress=not args.quiet)
    print(
        f"索引已建立: {index_dir}  条目 {len(manifest.chunk_ids)} 个, 向量 {manifest.n_vectors} 条, "
        f"模型 {manifest.embedder}, 语料 sha256 {manifest.corpus_sha256[:12]}…"
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    # Bad input is refused before seconds are spent loading the index and model.
    check_question(args.question)
    if not 1 <= args.top <= 10:
        raise InvalidQuestion("--top(top_k)应在 1 到 10 之间")
    bot = _load(args, progress=not args.json)
    started = time.perf_counter()
    context = [c for part in args.context for c in part.replace("，", ",").split(",") if c.strip()]
    answer = bot.ask(args.question, top_k=args.top, context=[c.strip() for c in context] or None)  # redacts itself
    _log_question(answer.to_dict(), (time.perf_counter() - started) * 1000)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(answer.answer)
    return 0


def _log_question(answer: dict, latency_ms: float) -> None:
    """Record the question in the shared log; a log that cannot be written never costs the answer."""
    try:
        with QuestionLog(default_data_dir()) as qlog:
            qlog.record(entry_from_answer(answer, latency_ms=latency_ms, channel="cli"))
    except Exception as exc:  # noqa: BLE001 - disk full, read-only dir, locked file…
        logging.getLogger("policy_assistant").warning("问题日志写入失败: %s", exc)


def cmd_groups(args: argparse.Namespace) -> int:
    """The target groups and the measures computed for each, for review."""
    bot = _load(args, progress=False)
    groups = bot.groups.groups if not args.name else (bot.group(args.name),)
    if args.json:
        rows = [{"name": g.name, "words": list(g.variants), "policy_words": list(g.policy_words),
                 "measures": list(g.measures)} for g in groups]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for g in groups:
        labels = [f"{bot.chunk(cid).label}" for cid in g.measures]
        print(f"{g.name}({len(g.measures)} 条;文中用语:{'、'.join(g.policy_words)})")
        for label in labels:
            print(f"  {label}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from web.localserver import (
        HEADER_TIMEOUT_ENV,
        KEEPALIVE_TIMEOUT_ENV,
        MAX_CONNECTIONS_ENV,
        ServerLimits,
        install_accept_error_throttle,
        raise_open_file_limit,
    )

    # The app factory and the connection guard read these, so every worker process sees the same
    # settings.
    for env, value in (
        ("POLICY_ASSISTANT_CORPUS", args.corpus),
        ("POLICY_ASSISTANT_INDEX", args.index),
        ("POLICY_ASSISTANT_EMBEDDER", args.embedder),
        (MAX_CONNECTIONS_ENV, args.max_connections),
        (HEADER_TIMEOUT_ENV, args.header_timeout),
        (KEEPALIVE_TIMEOUT_ENV, args.keepalive_timeout),
    ):
        if value is not None:
            os.environ[env] = str(value)
    # Room for the connection cap: workers inherit the raised limit.
    raise_open_file_limit()
    limits = ServerLimits.from_env()
    # Build or check the index once here, before workers start, so they never race to build it.
    # If that fails the server starts anyway: each worker reports the reason on /healthz and
    # answers 503 (docs/OPERATIONS.md), instead of exiting into a restart loop.
    try:
        _load(args, progress=True)
    except PolicyAssistantError as exc:
        print(f"警告: {exc};服务仍将启动,/healthz 报告原因,其余请求返回 503", file=sys.stderr, flush=True)
    install_accept_error_throttle()
    print(
        f"城阳区就业政策咨询助手已启动: http://{args.host}:{args.port}/  (工作人员查询页 /lookup)"
        f"  每个 worker 最多 {limits.effective_max_connections()} 个连接,请求头限时 {limits.header_timeout:g} 秒",
        flush=True,
    )
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        # Client addresses come from the socket unless the app's own trusted-proxy setting says
        # otherwise (POLICY_ASSISTANT_TRUSTED_PROXIES); uvicorn would otherwise trust loopback.
        proxy_headers=False,
        # Connection hygiene (web/localserver.py): request-head deadline, connection cap that
        # evicts the longest-idle connection, security headers on uvicorn's own 400s.
        http="web.localserver:GuardedH11Protocol",
        timeout_keep_alive=max(1, round(limits.keepalive_timeout)),
        h11_max_incomplete_event_size=limits.max_incomplete_event_size,
        backlog=limits.backlog,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(
        prog="policy-assistant",
        description="城阳区就业政策咨询助手(青城政办发〔2024〕13号):检索政策原文并给出责任单位和咨询电话。",
    )
    parser.add_argument("--debug", action="store_true", help="出错时显示完整的 Python 回溯")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")

    p = sub.add_parser("build", help="从语料建立索引")
    _add_common(p)
    p.add_argument("--quiet", action="store_true", help="不显示进度条")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", help="提一个问题")
    _add_common(p)
    p.add_argument("question", help="问题,例如:送外卖的有没有保险补贴?")
    p.add_argument("--json", action="store_true", help="输出答复的 JSON(与 HTTP 接口相同)")
    p.add_argument("--top", type=int, default=3, help="最多返回几条措施(默认 3)")
    p.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="编号",
        help="上一轮答复的条目编号(可重复或用逗号分隔,如 --context m7),用于“那找哪个部门?”这样的追问",
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("groups", help="列出服务对象群体及其对应的措施")
    _add_common(p)
    p.add_argument("name", nargs="?", help="只看这个群体,如“退役军人”")
    p.add_argument("--json", action="store_true", help="输出 JSON")
    p.set_defaults(func=cmd_groups)

    p = sub.add_parser("serve", help="启动网页聊天和工作人员查询页")
    _add_common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--max-connections", type=int, help="每个 worker 最多保持的连接数(默认 2048;超出时关闭最久空闲的连接)"
    )
    p.add_argument("--header-timeout", type=float, help="请求头须在几秒内收齐,否则关闭连接(默认 10)")
    p.add_argument("--keepalive-timeout", type=float, help="空闲的长连接保留几秒(默认 5)")
    p.set_defaults(func=cmd_serve)

    try:  # The eval edge lives in its own module; the CLI works without it.
        from .cli_eval import register
    except ImportError:
        pass
    else:
        register(sub, _add_common)
    from .cli_bench import register as register_bench
    from .cli_documents import register as register_documents

    register_bench(sub, _add_common)
    register_documents(sub, _add_common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Our own progress lines ("正在建立索引…") are INFO; libraries stay at WARNING.
    logging.getLogger("policy_assistant").setLevel(logging.INFO)
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except InvalidQuestion as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 2
    except PolicyAssistantError as exc:
        if args.debug:
            raise
        print(f"错误: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
