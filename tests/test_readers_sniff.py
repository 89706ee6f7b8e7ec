"""A file's type is judged by its content: `sniff_format` names it, and `read_source` refuses a file whose content
contradicts its suffix (a web page saved as 通知.pdf) with a message saying what the file really is."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from assistant.documents.readers import DocumentReadError, read_source, sniff_format

LIBRARY = Path(__file__).parent / "fixtures" / "library"
UNREADABLE = LIBRARY / "unreadable"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (LIBRARY / "notice-spring-fair.pdf", "pdf"),
        (UNREADABLE / "encrypted.pdf", "pdf"),
        (LIBRARY / "guide-startup-subsidy.docx", "docx"),
        (UNREADABLE / "broken.docx", "docx"),  # cut short: still recognisably a Word file, which then fails to open
        (LIBRARY / "qa-employment-subsidy.html", "html"),
        (UNREADABLE / "really-html.pdf", "html"),
        (Path(__file__).parent / "data" / "related-rule.txt", "text"),
    ],
)
def test_fixtures_are_recognised_by_content(path: Path, expected: str):
    assert sniff_format(path.read_bytes()) == expected


def test_chinese_text_in_either_published_encoding_is_text():
    text = "城阳区就业补贴政策问答（示例）\n问：一次性创业补贴的标准是多少？\n"
    assert sniff_format(text.encode("utf-8")) == "text"
    assert sniff_format(text.encode("gb18030")) == "text"
    # A sample cut inside a multi-byte character is still text.
    assert sniff_format(text.encode("utf-8")[:10]) == "text"


def test_other_binaries_and_other_zips_are_not_documents():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(20)
    assert sniff_format(png) is None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert sniff_format(buf.getvalue()) == "zip"


def test_a_web_page_saved_as_pdf_is_refused_for_what_it_is():
    path = UNREADABLE / "really-html.pdf"
    with pytest.raises(DocumentReadError) as caught:
        read_source(path)
    assert str(caught.value) == f"无法读取文件 {path}: 文件内容是网页(HTML),与扩展名 .pdf 不符"


@pytest.mark.parametrize(
    ("source", "name", "what"),
    [
        (LIBRARY / "notice-spring-fair.pdf", "通知.docx", "PDF"),
        (LIBRARY / "guide-startup-subsidy.docx", "办事指南.txt", "Word 文档"),
        (LIBRARY / "qa-employment-subsidy.html", "问答.md", "网页(HTML)"),
        (LIBRARY / "notice-spring-fair.pdf", "页面.html", "PDF"),
    ],
)
def test_content_that_contradicts_the_suffix_is_refused(tmp_path: Path, source: Path, name: str, what: str):
    path = tmp_path / name
    path.write_bytes(source.read_bytes())
    with pytest.raises(DocumentReadError, match=re.escape(f"文件内容是{what}")) as caught:
        read_source(path)
    assert name in str(caught.value)


def test_a_spreadsheet_renamed_docx_is_refused_as_not_word(tmp_path: Path):
    path = tmp_path / "表格.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DocumentReadError, match="ZIP 压缩包"):
        read_source(path)


def test_an_empty_file_is_refused(tmp_path: Path):
    path = tmp_path / "空白.pdf"
    path.write_bytes(b"")
    with pytest.raises(DocumentReadError, match="文件是空的"):
        read_source(path)


def test_a_page_fragment_without_html_markers_still_goes_to_the_html_reader(tmp_path: Path):
    # Saved pages sometimes lack <html>/<!DOCTYPE>; the HTML reader, not the sniffer, decides if there is an article.
    path = tmp_path / "片段.html"
    path.write_text(
        '<div class="TRS_Editor"><p>问：失业保险金怎么领取？</p><p>答：持社会保障卡到所在街道申领。</p></div>',
        encoding="utf-8",
    )
    assert read_source(path).lines == ("问：失业保险金怎么领取？", "答：持社会保障卡到所在街道申领。")


def test_an_old_or_encrypted_word_file_is_told_to_be_saved_as_docx(tmp_path: Path):
    # Word 97–2003 .doc, WPS .wps and password-protected .docx files are all OLE compound files.
    path = tmp_path / "办事指南.docx"
    path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))
    with pytest.raises(
        DocumentReadError,
        match=r"旧版 Word/WPS 文件\(\.doc/\.wps\)或加密的 Word 文件,请用 Word 或 WPS 另存为未加密的 \.docx",
    ):
        read_source(path)


@pytest.mark.parametrize("suffix", [".doc", ".wps"])
def test_an_old_word_suffix_is_told_to_be_saved_as_docx(tmp_path: Path, suffix: str):
    path = tmp_path / f"办事指南{suffix}"
    path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))
    with pytest.raises(DocumentReadError, match=r"另存为 \.docx"):
        read_source(path)
