"""A web page as saved from a Chinese government site, read with selectolax (the lexbor HTML5 parser: fast, tolerant of
the broken markup these CMSs emit, and a CSS-selector API to find the article).

Only the article is the document. It is found
1. in the containers government CMSs put it in (TRS's div.TRS_Editor, #zoom, .article-content, .pages_content, …,
   or an <article>), else
2. as the densest block of text that is not link text, once navigation, headers, footers and sidebars are set aside;
   a page with no such block (a column list, an error page) is refused: 「网页中找不到正文」.
Inside it, scripts, styles, forms, share buttons and lines such as 「浏览次数：123」, 【打印本页】 are dropped; block
elements become lines; a <table> row becomes one 「cell | cell」 line (a table used only for layout, one cell per row,
is read as the blocks inside it).

发布时间 / 来源 / 发文字号 and similar labelled lines found on the page outside the article (the info bar under the title,
a metadata table) go to `fields`, verbatim; the government-site <meta> tags (ArticleTitle, PubDate, ContentSource)
fill in what the page text does not say. The title is 「标题」: the ArticleTitle meta tag, else the page's first
heading outside the article, else the <title> up to the site name.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path

from .base import DocumentReadError, SourceText

# Where government CMSs (TRS WCM, 政府网站集约化平台, 博思, 大汉 …) put the article, most specific first.
BODY_SELECTORS = (
    "div.TRS_Editor",
    "div.TRS_UEDITOR",
    "#UCAP-CONTENT",
    "#zoom",
    ".article-content",
    ".article_content",
    ".pages_content",
    ".art_con",
    "#Zoom",
    "article",
)
MIN_BODY_CHARS = 10  # a known container with less non-link text than this is an empty placeholder
CONTAINER_TAGS = frozenset({"div", "section", "article", "main", "td", "body"})  # blocks the fallback may choose
MIN_DENSE_CHARS = 60  # without a known container, a block with less text than this is a list page or an error page

# Never content, wherever they are.
_DROP_TAG_NAMES = "script style noscript template iframe svg canvas object embed button select input textarea link meta"
DROP_TAGS = tuple(_DROP_TAG_NAMES.split())
# Page furniture around the article, for the densest-block search (an article inside an element named so is still
# found by BODY_SELECTORS first).
# (Not <form>: ASP.NET sites wrap the whole page in one.)
FURNITURE_TAGS = ("nav", "header", "footer", "aside")
FURNITURE_NAMES = re.compile(
    r"^(?:nav|navbar|menu|top|topbar|header|footer|foot|bottom|copyright|crumb|crumbs|breadcrumb|position"
    r"|location|dqwz|sidebar|side|share|bdshare|bdsharebuttonbox|fenxiang|tools|print|related"
    r"|xgwz|xglj|links|friendlink|pager|pagination|search|login)$",
    re.IGNORECASE,
)
LOGO_NAMES = re.compile(r"^(?:logo|banner|site-?name|sitename)$", re.IGNORECASE)
# Inside the article only what is surely not text is removed (a div named "right" may hold the signature).
BODY_FURNITURE_NAMES = re.compile(
    r"^(?:share|bdshare|bdsharebuttonbox|fenxiang|tools|print|related|xgwz|xglj|pager|pagination|crumb|crumbs"
    r"|breadcrumb|position|dqwz)$",
    re.IGNORECASE,
)
# Lines inside the article that are page furniture, not text: counters, print/close links, share and font-size bars.
FURNITURE_LINES = re.compile(
    r"^(?:(?:当前位置|您的位置|您现在的位置|所在位置)\s*[:：]"
    r"|.{0,20}(?:浏览|阅读|访问|点击)(?:次数|量|数)\s*(?:[:：]\s*\d*|\d+)\s*次?$"  # needs 「：」 or a count
    r"|[【\[]?\s*(?:打印本页|打印|关闭窗口|关闭|返回顶部|收藏|纠错)\s*[】\]]?(?:\s*[【\[]?\s*(?:打印本页|打印|关闭窗口|关闭|返回顶部|收藏|纠错)\s*[】\]]?)*$"
    r"|(?:分享到|扫一扫在手机打开当前页|字号)\s*[:：]?.{0,30}$)"
)
# Labels of the page's own metadata, outside the article. 浏览次数 and the like only end a value.
FIELD_LABELS = (
    "发布时间",
    "发布日期",
    "成文日期",
    "发文日期",
    "信息来源",
    "文章来源",
    "来源",
    "发文字号",
    "文号",
    "发文机关",
    "发布机构",
    "索引号",
    "主题分类",
    "有效性",
)
STOP_LABELS = ("浏览次数", "阅读次数", "访问量", "点击数", "字号", "作者", "编辑", "责任编辑", "打印", "分享")
_LABEL_RE = re.compile("(" + "|".join(map(re.escape, FIELD_LABELS + STOP_LABELS)) + r")\s*[:：]\s*")
META_FIELDS = {"pubdate": "发布时间", "contentsource": "来源"}  # government-site meta names (政府网站发展指引)

_BLOCK_TAG_NAMES = (
    "address article aside blockquote body center dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 header "
    "hr li main nav ol p pre section summary details ul caption"
)
BLOCK_TAGS = frozenset(_BLOCK_TAG_NAMES.split())
CJK = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_SOFT_BREAK = "\x00"  # whitespace that held a newline: nothing between two CJK characters, a space elsewhere
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def read(path: Path) -> SourceText:
    from selectolax.lexbor import LexborHTMLParser  # imported here so a missing parser only affects .html files

    tree = LexborHTMLParser(_decode(path.read_bytes()))
    meta = {
        (node.attributes.get("name") or "").strip().lower(): (node.attributes.get("content") or "").strip()
        for node in tree.css("meta[name]")
    }
    page_title = tree.css_first("title")
    page_title_text = page_title.text(strip=True) if page_title is not None else ""
    _remove(tree.css(",".join(DROP_TAGS)))

    body = _find_body(tree)
    if body is None:
        raise DocumentReadError(path, "网页中找不到正文(可能是栏目列表页、错误页或需要脚本加载的页面)")
    _remove(body.css(",".join(FURNITURE_TAGS)))
    _remove(
        [node for node in body.traverse() if node.mem_id != body.mem_id and _is_furniture(node, BODY_FURNITURE_NAMES)]
    )
    lines = [line for line in _Renderer().render(body) if not FURNITURE_LINES.match(line)]
    if not lines:
        raise DocumentReadError(path, "网页中找不到正文")

    # What the page says about the article, outside it: render the page with the article left out.
    outside = tree.body if tree.body is not None else tree.root
    heading = _heading_before(outside, body)
    outside_lines = _Renderer(skip=body.mem_id).render(outside) if outside is not None else []
    fields: dict[str, str] = {}
    title = meta.get("articletitle") or heading or _title_from_page_title(page_title_text)
    if title:
        fields["标题"] = title
    for label, value in _labelled(outside_lines):
        fields.setdefault(label, value)
    for name, label in META_FIELDS.items():
        if meta.get(name) and label not in fields and not (label == "发布时间" and "发布日期" in fields):
            fields[label] = meta[name]
    return SourceText(
        path=str(path),
        format="html",
        lines=tuple(unicodedata.normalize("NFC", line) for line in lines),
        fields=tuple((label, unicodedata.normalize("NFC", value)) for label, value in fields.items()),
    )


def _decode(raw: bytes) -> str:
    """Decode by BOM, then the declared charset, then UTF-8, then GB18030 (a superset of the GB2312/GBK that older
    government sites declare)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    candidates = []
    declared = _CHARSET.search(raw[:4096])
    if declared:
        name = declared.group(1).decode("ascii").lower()
        candidates.append("gb18030" if name in ("gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936") else name)
    candidates += ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("utf-8", errors="replace")


def _remove(nodes) -> None:
    """Remove these elements, each once: one inside another goes with its ancestor (decomposing a node whose parent
    was already freed is not something to ask of a C parser)."""
    chosen = {node.mem_id: node for node in nodes}
    outermost = []
    for node in chosen.values():  # decide everything before freeing anything
        parent = node.parent
        while parent is not None and parent.mem_id not in chosen:
            parent = parent.parent
        if parent is None:
            outermost.append(node)
    for node in outermost:
        node.decompose()


def _own_text_length(node) -> int:
    """Characters of text under `node` that are not link text."""
    total = len(re.sub(r"\s+", "", node.text(deep=True) or ""))
    links = sum(len(re.sub(r"\s+", "", a.text(deep=True) or "")) for a in node.css("a"))
    return total - links


def _find_body(tree):
    root = tree.body if tree.body is not None else tree.root
    if root is None:
        return None
    for selector in BODY_SELECTORS:
        candidates = [(node, _own_text_length(node)) for node in tree.css(selector)]
        candidates = [(node, length) for node, length in candidates if length >= MIN_BODY_CHARS]
        if candidates:
            return max(candidates, key=lambda pair: pair[1])[0]
    # No known container: set the furniture aside and take the block holding the most non-link text of its own
    # (text in its paragraphs and inline elements, not in nested blocks of their own).
    _remove(root.css(",".join(FURNITURE_TAGS)))
    _remove([node for node in root.traverse() if node.mem_id != root.mem_id and _is_furniture(node, FURNITURE_NAMES)])
    scores: dict[int, tuple[object, float]] = {}
    for node in root.traverse(include_text=True):
        if node.tag != "-text":
            continue
        text = re.sub(r"\s+", "", node.text(deep=False) or "")
        if not text:
            continue
        container, in_link = node.parent, False
        while container is not None and container.tag not in CONTAINER_TAGS:
            in_link = in_link or container.tag == "a"
            container = container.parent
        if in_link or container is None:
            continue
        _add_score(scores, container, len(text))
        # Half to the enclosing block too (as readability does): an article whose paragraphs each sit in a div of
        # their own is found as their common parent.
        parent = _container(container.parent)
        if parent is not None:
            _add_score(scores, parent, len(text) / 2)
    if not scores:
        return None
    node, _ = max(scores.values(), key=lambda pair: pair[1])
    # Less prose than this outside links: a column list, a menu or an error notice, not an article.
    return node if _own_text_length(node) >= MIN_DENSE_CHARS else None


def _container(node):
    while node is not None and node.tag not in CONTAINER_TAGS:
        node = node.parent
    return node


def _add_score(scores: dict, node, amount: float) -> None:
    scores[node.mem_id] = (node, scores.get(node.mem_id, (node, 0.0))[1] + amount)


def _is_furniture(node, names_re: re.Pattern[str]) -> bool:
    if node.tag in ("-text", "-comment") or node.attributes is None:
        return False
    names = (node.attributes.get("class") or "").split() + (node.attributes.get("id") or "").split()
    return any(names_re.match(name) for name in names)


def _heading_before(root, body) -> str | None:
    """The last h1–h3 before the article in reading order (the article's own title, not the site's logo heading
    further up), outside the page's furniture."""
    if root is None:
        return None
    last = None
    for node in root.traverse():
        if node.mem_id == body.mem_id:
            break
        if node.tag in ("h1", "h2", "h3") and not _in_furniture(node):
            text = re.sub(r"\s+", " ", node.text(deep=True) or "").strip()
            if text:
                last = text
    return last


def _in_furniture(node) -> bool:
    while node is not None:
        if node.tag in FURNITURE_TAGS or _is_furniture(node, FURNITURE_NAMES) or _is_furniture(node, LOGO_NAMES):
            return True
        node = node.parent
    return False


def _title_from_page_title(text: str) -> str | None:
    # 「标题_栏目_站点」 or 「标题 - 站点」
    head = re.split(r"\s*(?:_|\||｜|-{1,2}|—|–)\s*", text.strip())[0].strip()
    return head or None


def _labelled(lines: list[str]) -> list[tuple[str, str]]:
    """(label, value) pairs from lines such as 「发布时间：2025-04-15 来源：区人社局 浏览次数：12」 or a metadata table
    row 「发文字号 | 城人社发〔2025〕3号 | 成文日期 | 2025-03-01」."""
    found: list[tuple[str, str]] = []
    for line in lines:
        cells = line.split(" | ")
        if len(cells) > 1:
            for label, value in itertools.pairwise(cells):
                label = label.strip().rstrip(":：").strip()
                if label in FIELD_LABELS and not _LABEL_RE.match(value) and value.strip():
                    found.append((label, value.strip()))
        matches = list(_LABEL_RE.finditer(line))
        for i, match in enumerate(matches):
            label = match.group(1)
            if label not in FIELD_LABELS:
                continue
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            value = line[match.end() : end].strip(" \u3000\xa0|｜【】[]")
            if value:
                found.append((label, value))
    return found


class _Renderer:
    """Turns an element into lines: a block element ends the line, <br> breaks it, a table row becomes 「a | b」."""

    def __init__(self, skip: int | None = None) -> None:
        self.skip = skip  # the mem_id of an element left out (the article, when reading the page around it)
        self.lines: list[str] = []
        self.current: list[str] = []

    def render(self, node) -> list[str]:
        self._children(node)
        self._flush()
        return self.lines

    def _flush(self) -> None:
        text = "".join(self.current)
        self.current = []
        text = re.sub(f"(?<=[{CJK}]){_SOFT_BREAK}+(?=[{CJK}])", "", text)
        text = re.sub(f"[ {_SOFT_BREAK}]+", " ", text).strip(" \u3000")
        if text:
            self.lines.append(text)

    def _children(self, node) -> None:
        for child in node.iter(include_text=True):
            self._node(child)

    def _node(self, node) -> None:
        tag = node.tag
        if tag == "-text":
            text = (node.text(deep=False) or "").replace("\xa0", " ")
            text = re.sub(r"[ \t\r\f\v]*\n\s*", _SOFT_BREAK, text)
            self.current.append(re.sub(r"[ \t\r\f\v]+", " ", text))
        elif tag == "-comment" or (self.skip is not None and node.mem_id == self.skip):
            return
        elif tag == "br":
            self._flush()
        elif tag == "table":
            self._flush()
            self._table(node)
        elif tag in BLOCK_TAGS:
            self._flush()
            self._children(node)
            self._flush()
        else:
            self._children(node)

    def _table(self, table) -> None:
        rows = []
        for tr in table.css("tr"):
            nearest = _nearest(tr, "table")
            if nearest is None or nearest.mem_id != table.mem_id:
                continue  # a nested table's row: read with its cell
            cells = [cell for cell in tr.iter() if cell.tag in ("td", "th")]
            rows.append([_Renderer(self.skip).render(cell) for cell in cells])
        if all(sum(1 for cell in row if cell) <= 1 for row in rows):
            # One cell per row: a table used for layout; its cells hold ordinary blocks.
            for row in rows:
                for cell in row:
                    self.lines.extend(cell)
            return
        for row in rows:
            texts = [" ".join(cell) for cell in row if cell]
            if texts:
                self.lines.append(" | ".join(texts))


def _nearest(node, tag: str):
    parent = node.parent
    while parent is not None and parent.tag != tag:
        parent = parent.parent
    return parent
