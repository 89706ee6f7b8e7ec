"""The PDF reader: a 通知 as a text-layer PDF comes back as its paragraphs, without the page furniture; PDFs it cannot
read are refused with a message naming the file and the reason."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from assistant.documents.readers import DocumentReadError, read_source
from assistant.documents.readers import pdf as pdf_reader

FIXTURES = Path(__file__).parent / "fixtures"
LIBRARY = FIXTURES / "library"
NOTICE = LIBRARY / "notice-spring-fair.pdf"


def _generator():
    """tests/fixtures/make_library.py, the fixtures' source text."""
    spec = importlib.util.spec_from_file_location("make_library", FIXTURES / "make_library.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_library"] = module
    spec.loader.exec_module(module)
    return module


make_library = _generator()
FONT = make_library.FONT
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _pdf(tmp_path: Path, pages: list[list[tuple[float, float, str]]], name: str = "doc.pdf", size: float = 16) -> Path:
    """A PDF whose pages hold the given (x, y-from-top, text) lines, in STSong-Light; an empty page is an image."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    for lines in pages:
        if not lines:
            c.drawInlineImage(Image.new("L", (40, 60), 128), 50, 50, 400, 600)
        for x, y, text in lines:
            c.setFont(FONT, size)
            c.drawString(x, A4[1] - y, text)
        c.showPage()
    c.save()
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


def test_a_two_page_notice_reads_as_its_paragraphs_without_page_furniture():
    source = read_source(NOTICE)
    written = [make_library.NOTICE_TITLE] + [text for kind, text in make_library.NOTICE_BODY if text]
    # Every paragraph comes back whole, in order: lines cut by the page width (mid-number, across the page break)
    # are rejoined, and nothing else is joined (headings, the signature and its date stay lines of their own).
    assert list(source.lines) == written
    assert source.format == "pdf"
    assert source.warnings == ()


def test_numbers_cut_by_the_page_width_come_back_whole():
    text = read_source(NOTICE).text
    assert "2025年2月10日至2025年3月31日" in text  # cut after the second 「2025」 on the page
    assert "联系电话：0532-87868686。" in text  # cut inside the phone number
    assert "开展2025年春风行动" in text  # cut inside 「2025」


def test_running_header_and_page_numbers_are_not_text():
    lines = read_source(NOTICE).lines
    assert make_library.NOTICE_HEADER not in lines
    assert not [line for line in lines if "页 共" in line or line.startswith("—")]
    # The body still holds the issuer's name where the document signs it.
    assert "青岛市城阳区人力资源和社会保障局" in lines


def test_the_pdf_title_metadata_is_a_field():
    assert dict(read_source(NOTICE).fields)["标题"] == make_library.NOTICE_TITLE


@pytest.mark.parametrize(
    ("footer", "header"),
    [
        ("-{n}-", None),
        ("— {n} —", None),
        ("第 {n} 页 共 3 页", None),
        ("{n}", "城阳区就业政策汇编（示例）"),
        ("{n}/3", None),
    ],
)
def test_page_number_styles_are_dropped(tmp_path: Path, footer: str, header: str | None):
    body = ["一、申请对象为离校未就业高校毕业生。", "二、补贴标准为每人1000元。", "三、咨询电话0532-87868686。"]
    pages = []
    for n, text in enumerate(body, start=1):
        lines = [(79, 60, header)] if header else []
        lines += [(79, 120, text), (280, 790, footer.format(n=n))]
        pages.append(lines)
    source = read_source(_pdf(tmp_path, pages))
    assert list(source.lines) == body


def test_without_paragraph_indents_a_full_line_ending_a_sentence_is_not_joined(tmp_path: Path):
    # No paragraph is indented, so only punctuation tells a paragraph's end from a wrap.
    width = make_library.RIGHT - make_library.LEFT
    first = make_library._wrap(
        "活动期间参加招聘会的企业须提前登记岗位信息并按时进场，招聘时间至2025年12月31日。", width, 16, 0
    )
    second = "二、其他事项"
    lines = [
        (make_library.LEFT, 100 + 28 * i, text) for i, text in enumerate([*first, "咨询电话：0532-87868686。", second])
    ]
    source = read_source(_pdf(tmp_path, [lines]))
    assert source.lines[0] == "活动期间参加招聘会的企业须提前登记岗位信息并按时进场，招聘时间至2025年12月31日。"
    assert source.lines[1:] == ("咨询电话：0532-87868686。", "二、其他事项")


def test_a_wrapped_line_is_not_joined_onto_a_numbered_item(tmp_path: Path):
    width = make_library.RIGHT - make_library.LEFT
    wrapped = make_library._wrap(
        "申请人应当提交居民身份证、营业执照副本等材料，并填写申请表格后交所在街道", width, 16, 0
    )
    assert len(wrapped) == 2 and pdfmetrics.stringWidth(wrapped[0], FONT, 16) > width - 16
    lines = [
        (make_library.LEFT, 100, wrapped[0]),
        (make_library.LEFT, 128, "1.5万元以内的补贴由街道审核"),
        (make_library.LEFT, 156, "2.其他补贴由区人社局审核"),
    ]
    source = read_source(_pdf(tmp_path, [lines]))
    # 「1.5万元」 is an amount, not item 1: the wrap joins; 「2.」 starts an item: it does not.
    assert source.lines == (wrapped[0] + "1.5万元以内的补贴由街道审核", "2.其他补贴由区人社局审核")


def test_kangxi_radical_glyphs_read_as_ordinary_characters(tmp_path: Path):
    # Some producers map glyphs to Kangxi radicals (U+2F64 「⽤」 looks like 「用」 but matches no search).
    source = read_source(_pdf(tmp_path, [[(79, 100, "\u2f64\u2f08单位须按时发放\u2f2f资。")]]))
    assert source.lines == ("用人单位须按时发放工资。",)


def test_a_page_without_text_is_a_warning_when_others_have_text(tmp_path: Path):
    path = _pdf(tmp_path, [[(79, 100, "第一页有文字。")], []])
    source = read_source(path)
    assert source.lines == ("第一页有文字。",)
    assert source.warnings == ("第2页没有文字层(可能是扫描页),该页内容未读取",)


@pytest.mark.parametrize(
    ("name", "reason"),
    [("encrypted.pdf", "PDF 已加密"), ("scanned.pdf", "扫描版 PDF,没有文字层,无法读取")],
)
def test_unreadable_pdfs_are_refused_naming_the_file(name: str, reason: str):
    path = LIBRARY / "unreadable" / name
    with pytest.raises(DocumentReadError) as caught:
        read_source(path)
    assert reason in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_truncated_pdf_is_refused_as_damaged(tmp_path: Path):
    path = tmp_path / "cut.pdf"
    path.write_bytes(NOTICE.read_bytes()[:2500])
    with pytest.raises(DocumentReadError, match="损坏") as caught:
        read_source(path)
    assert "cut.pdf" in str(caught.value)


def test_the_reader_refuses_non_pdf_bytes_even_when_called_directly(tmp_path: Path):
    # read_source sniffs first; a caller of the format module alone still gets a clear message, not a parser trace.
    path = tmp_path / "page.pdf"
    path.write_bytes((LIBRARY / "unreadable" / "really-html.pdf").read_bytes())
    with pytest.raises(DocumentReadError, match="不是有效的 PDF 文件"):
        pdf_reader.read(path)


def test_a_copy_protected_pdf_without_an_open_password_is_read(tmp_path: Path):
    # Government PDFs often forbid copying (an owner password) but open without one: they are not 「已加密」 to us.
    from reportlab.lib.pdfencrypt import StandardEncryption

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, encrypt=StandardEncryption("", ownerPassword="owner", canCopy=0))
    c.setFont("Helvetica", 12)
    c.drawString(79, 700, "Employment service hotline: 0532-87868686.")
    c.save()
    path = tmp_path / "protected.pdf"
    path.write_bytes(buf.getvalue())
    assert read_source(path).lines == ("Employment service hotline: 0532-87868686.",)


def test_a_text_layer_that_cannot_be_decoded_is_refused_not_read_as_glyph_numbers(tmp_path: Path):
    # pdfminer cannot map this copy-protected file's CID font back to Unicode (its encrypted CIDSystemInfo); the
    # reader must say so rather than hand on 「(cid:1841)(cid:4287)…」 as the document's text.
    from reportlab.lib.pdfencrypt import StandardEncryption

    path = tmp_path / "protected-cjk.pdf"
    path.write_bytes(make_library.make_notice_pdf(encrypt=StandardEncryption("", ownerPassword="owner", canCopy=0)))
    with pytest.raises(DocumentReadError, match="PDF 的文字层无法解码") as caught:
        read_source(path)
    assert "protected-cjk.pdf" in str(caught.value)


def test_a_ruled_table_reads_as_one_cell_line_per_row(tmp_path: Path):
    # 办事指南 are often tables; a cell's text wrapped by the cell's width is one cell again.
    rows = [
        ("事项名称", ["一次性创业补贴申领"]),
        ("申请材料", ["居民身份证原件、营业执照副本", "原件、就业创业证。"]),
        ("咨询电话", ["0532-87865432"]),
    ]
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setFont(FONT, 16)
    c.drawString(79, A4[1] - 100, "一、基本信息")
    top, x0, split, x1 = 130.0, 79.0, 180.0, 516.0
    y = top
    for label, cell_lines in rows:
        height = 10 + 22 * len(cell_lines)
        c.rect(x0, A4[1] - y - height, x1 - x0, height)
        c.line(split, A4[1] - y, split, A4[1] - y - height)
        c.drawString(x0 + 6, A4[1] - y - 24, label)
        for i, text in enumerate(cell_lines):
            c.drawString(split + 6, A4[1] - y - 24 - 22 * i, text)
        y += height
    c.drawString(111, A4[1] - y - 40, "申请人可通过政务服务网在线办理。")
    c.save()
    path = tmp_path / "guide.pdf"
    path.write_bytes(buf.getvalue())
    assert read_source(path).lines == (
        "一、基本信息",
        "事项名称 | 一次性创业补贴申领",
        "申请材料 | 居民身份证原件、营业执照副本原件、就业创业证。",
        "咨询电话 | 0532-87865432",
        "申请人可通过政务服务网在线办理。",
    )


def test_a_few_undecodable_glyphs_are_shown_as_boxes_and_reported(tmp_path: Path):
    # Same copy-protected CID font as above, but only two of its glyphs among plain Latin text: the line is kept, with
    # each undecodable glyph visible as 「□」 rather than silently dropped.
    from reportlab.lib.pdfencrypt import StandardEncryption

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, encrypt=StandardEncryption("", ownerPassword="owner", canCopy=0))
    c.setFont("Helvetica", 12)
    c.drawString(79, 700, "Employment service hotline for all districts: 0532-87868686")
    c.setFont(FONT, 12)
    c.drawString(420, 700, "城阳")
    c.save()
    path = tmp_path / "mixed.pdf"
    path.write_bytes(buf.getvalue())
    source = read_source(path)
    assert source.lines == ("Employment service hotline for all districts: 0532-87868686 □□",)
    assert source.warnings == ("PDF 中有 2 个字符无法解码(字体缺少 Unicode 映射),以「□」代替",)


def test_a_pdf_longer_than_the_page_limit_is_refused_before_parsing(tmp_path: Path):
    pages = [[(79, 100, "第一条")]] * (pdf_reader.MAX_PAGES + 1)
    with pytest.raises(DocumentReadError, match=f"超过 {pdf_reader.MAX_PAGES} 页的上限") as caught:
        read_source(_pdf(tmp_path, pages, name="long.pdf"))
    assert "long.pdf" in str(caught.value)
