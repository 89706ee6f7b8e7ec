"""`policy-assistant documents | add | remove`: the library's management as commands. Only translation: the work is
done by assistant/documents/manage.py (which a web admin page can call too)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from .documents import manage
from .documents.model import Document
from .service import Assistant, Settings


def _corpus_dir(args: argparse.Namespace) -> Path:
    return Path(args.corpus) if args.corpus else Settings.from_env().corpus_dir


def cmd_documents(args: argparse.Namespace) -> int:
    listing = manage.documents(_corpus_dir(args))
    if args.json:
        print(json.dumps(listing, ensure_ascii=False, indent=2))
        return 0
    for d in listing["documents"]:
        names = {"written": "成文", "published": "发布", "effective": "施行", "expires": "有效期至"}
        dates = "  ".join(f"{v} {d[k]}" for k, v in names.items() if d[k])
        mark = "(主文件)" if d["primary"] else ""
        print(f"{d['id']}{mark}  《{d['title']}》 {d['number'] or '(无文号)'}")
        print(f"    结构 {d['structure']}  格式 {d['format']}  条目 {d['chunks']} 个  状态 {d['status']}  {dates}")
        for w in d["warnings"]:
            print(f"    注意: {w}")
    for f in listing["failures"]:
        print(f"未载入: {f['file']}{':' + str(f['line']) if f['line'] else ''}  {f['reason']}")
    return 1 if listing["failures"] else 0


def _show(doc: Document) -> None:
    m = doc.meta
    print(f"文件编号: {m.doc_id}")
    print(f"标题: {m.title}")
    print(f"结构: {m.structure}  格式: {m.format}")
    for label, value in (("文号", m.number), ("发文机关", m.issuer), ("成文日期", m.written), ("发布日期", m.published),
                         ("施行日期", m.effective), ("有效期至", m.expires), ("咨询电话", m.phone), ("咨询部门", m.consult_dept),
                         ("实施的措施", "、".join(m.implements)), ("状态", m.status(manage.today())),):  # fmt: skip
        print(f"{label}: {value if value else '(未读到)'}")
    print(f"条目 {len(doc.chunks)} 个:")
    for c in doc.chunks:
        head = c.text.replace("\n", " ")
        print(f"  {c.id}  [{c.cite}]  第{c.line}行  {head[:40]}{'…' if len(head) > 40 else ''}")
    for w in m.warnings:
        print(f"注意: {w}")


def cmd_add(args: argparse.Namespace) -> int:
    corpus = _corpus_dir(args)
    seen = manage.preview(args.file, args.meta, corpus)
    if seen.document is None:
        print(f"无法加入: {seen.failure}", file=sys.stderr)
        return 1
    _show(seen.document)
    if seen.replaces is not None:
        print(f"将替换语料中的 {seen.replaces.name}")
    if not args.yes:
        reply = input("确认加入语料库并重建索引?[y/N] ").strip().lower()
        if reply not in ("y", "yes", "是"):
            print("未加入。")
            return 1
    manage.add(corpus, args.file, args.meta, replace=seen.replaces is not None)
    bot = Assistant.load(corpus, args.index, args.embedder, progress=True)
    print(f"已加入 {seen.doc_id}({len(seen.document.chunks)} 个条目);索引已更新,共 {len(bot.chunks)} 个条目。")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    corpus = _corpus_dir(args)
    if not args.yes:
        reply = input(f"确认从语料库删除“{args.id}”并重建索引?[y/N] ").strip().lower()
        if reply not in ("y", "yes", "是"):
            print("未删除。")
            return 1
    removed = manage.remove(corpus, args.id)
    bot = Assistant.load(corpus, args.index, args.embedder, progress=True)
    print(f"已删除 {'、'.join(p.name for p in removed)};索引已更新,共 {len(bot.chunks)} 个条目。")
    return 0


def register(sub: argparse._SubParsersAction, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("documents", help="列出语料库中的文件:编号、标题、文号、结构、条目数、日期、状态、问题")
    add_common(p)
    p.add_argument("--json", action="store_true", help="输出 JSON(与 GET /api/documents 相同)")
    p.set_defaults(func=cmd_documents)

    p = sub.add_parser("add", help="把一个文件(.txt .md .docx .pdf .html)加入语料库:先显示解析结果,确认后复制并重建索引")
    add_common(p)
    p.add_argument("file", help="要加入的文件;文件名(去掉扩展名)即文件编号")
    p.add_argument("--meta", help="元数据文件(TOML),默认使用文件旁的 <文件名>.meta.toml")
    p.add_argument("--yes", action="store_true", help="不询问,直接加入")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="从语料库删除一个文件(主文件不能删除)并重建索引")
    add_common(p)
    p.add_argument("id", help="文件编号(policy-assistant documents 中的第一列)")
    p.add_argument("--yes", action="store_true", help="不询问,直接删除")
    p.set_defaults(func=cmd_remove)
