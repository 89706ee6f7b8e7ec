"""The Word reader: a 办事指南 .docx comes back as its lines — table rows as 「cell | cell」, Word's automatic numbers in
front of the headings and list items they number — and broken or hostile files are refused naming the file."""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_BREAK
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from assistant.documents.readers import DocumentReadError, read_source
from assistant.documents.readers import docx as docx_reader

FIXTURES = Path(__file__).parent / "fixtures"
GUIDE = FIXTURES / "library" / "guide-startup-subsidy.docx"


def _generator():
    spec = importlib.util.spec_from_file_location("make_library", FIXTURES / "make_library.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_library"] = module
    spec.loader.exec_module(module)
    return module


make_library = _generator()


def _numbered_docx(path: Path, levels: list[tuple[str, str]], items: list[tuple[int, str]], restart_at=None) -> Path:
    """A .docx with one list whose levels have the given (numFmt, lvlText); items are (level, text). With
    `restart_at`, items from that index on use a second list instance restarting at 1 (Word's 「重新开始编号」)."""
    doc = Document()
    numbering = doc.part.numbering_part.element
    lvls = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/></w:lvl>'
        for i, (fmt, text) in enumerate(levels)
    )
    abstract = parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="77">{lvls}</w:abstractNum>')
    first_num = numbering.find(parse_xml(f'<w:num {nsdecls("w")} w:numId="1"/>').tag)
    first_num.addprevious(abstract)
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="77"><w:abstractNumId w:val="77"/></w:num>'))
    numbering.append(
        parse_xml(
            f'<w:num {nsdecls("w")} w:numId="78"><w:abstractNumId w:val="77"/>'
            '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
        )
    )
    for index, (level, text) in enumerate(items):
        num_id = 78 if restart_at is not None and index >= restart_at else 77
        para = doc.add_paragraph(text)
        para._p.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')
        )
    doc.save(path)
    return path


def test_a_service_guide_reads_as_table_rows_and_numbered_headings():
    source = read_source(GUIDE)
    expected = [make_library.GUIDE_TITLE, "基本信息"]
    label = ""
    for name, value in make_library.GUIDE_TABLE:
        label = name or label  # a cell merged down repeats its text in the rows it spans
        expected.append(f"{label} | {value}")
    for n, (heading, body) in enumerate(make_library.GUIDE_SECTIONS):
        expected.append("一二三四五六七八九"[n] + "、" + heading)
        if isinstance(body, str):
            expected.extend(body.split("\n"))  # a manual line break is a line break
        else:
            expected.extend(f"{i}.{item}" for i, item in enumerate(body, start=1))  # restarts under each heading
    expected += ["青岛市城阳区人力资源和社会保障局（示例）", "2025年3月1日"]
    assert list(source.lines) == expected
    assert source.format == "docx"
    assert source.warnings == ()


def test_the_core_title_is_a_field():
    assert dict(read_source(GUIDE).fields) == {"标题": make_library.GUIDE_TITLE}


def test_chinese_numbering_goes_past_ten_and_nests(tmp_path: Path):
    items = [(0, f"第{n}项") for n in range(1, 13)]
    items[10:10] = [(1, "子项甲"), (1, "子项乙")]
    path = _numbered_docx(tmp_path / "n.docx", [("chineseCounting", "%1、"), ("chineseCounting", "（%2）")], items)
    lines = read_source(path).lines
    assert lines[:2] == ("一、第1项", "二、第2项")
    assert lines[9:14] == ("十、第10项", "（一）子项甲", "（二）子项乙", "十一、第11项", "十二、第12项")


def test_multilevel_numbers_combine_their_levels(tmp_path: Path):
    items = [(0, "总则"), (1, "适用范围"), (1, "定义"), (0, "申请"), (1, "条件")]
    path = _numbered_docx(tmp_path / "m.docx", [("decimal", "%1."), ("decimal", "%1.%2")], items)
    assert read_source(path).lines == ("1.总则", "1.1 适用范围", "1.2 定义", "2.申请", "2.1 条件")


def test_restarted_numbering_starts_again(tmp_path: Path):
    items = [(0, "甲"), (0, "乙"), (0, "丙"), (0, "丁")]
    path = _numbered_docx(tmp_path / "r.docx", [("decimal", "%1.")], items, restart_at=2)
    assert read_source(path).lines == ("1.甲", "2.乙", "1.丙", "2.丁")


def test_an_unknown_number_format_is_a_warning_not_a_guess(tmp_path: Path):
    path = _numbered_docx(tmp_path / "u.docx", [("hindiVowels", "%1.")], [(0, "申请条件"), (0, "申请材料")])
    source = read_source(path)
    assert source.lines == ("申请条件", "申请材料")
    assert source.warnings == ("Word 自动编号格式 hindiVowels 无法还原,这些段落前的编号未读出",)


def test_a_number_the_author_also_typed_is_not_doubled(tmp_path: Path):
    path = _numbered_docx(tmp_path / "t.docx", [("chineseCounting", "%1、")], [(0, "一、申请对象"), (0, "申请条件")])
    assert read_source(path).lines == ("一、申请对象", "二、申请条件")


def test_hidden_text_and_page_breaks_are_not_lines(tmp_path: Path):
    doc = Document()
    para = doc.add_paragraph("补贴标准为每人")
    hidden = para.add_run("（内部备注）")
    hidden.font.hidden = True
    para.add_run("1000元。")
    para = doc.add_paragraph("办理时限为")
    para.add_run().add_break(WD_BREAK.PAGE)  # the paragraph goes on over the page: layout, not a line break
    para.add_run("20个工作日。")
    doc.save(tmp_path / "h.docx")
    assert read_source(tmp_path / "h.docx").lines == ("补贴标准为每人1000元。", "办理时限为20个工作日。")


def test_a_broken_docx_is_refused_naming_the_file():
    path = FIXTURES / "library" / "unreadable" / "broken.docx"
    with pytest.raises(DocumentReadError) as caught:
        read_source(path)
    assert "不是有效的 Word 文件" in str(caught.value)
    assert str(path) in str(caught.value)


def _bomb(path: Path, *, entries: int = 0, zeros_mb: int = 0) -> Path:
    """A zip built to exhaust a reader: a real Word file plus thousands of entries or a huge run of zeros."""
    with (
        zipfile.ZipFile(io.BytesIO(GUIDE.read_bytes())) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst,  # fast: zeros shrink anyway
    ):
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for n in range(entries):
            dst.writestr(f"word/media/pad{n}.bin", b"")
        if zeros_mb:
            with dst.open("word/media/zeros.bin", "w") as out:
                block = bytes(1024 * 1024)
                for _ in range(zeros_mb):
                    out.write(block)
    return path


def test_a_zip_bomb_is_refused_before_decompressing(tmp_path: Path):
    path = _bomb(tmp_path / "bomb.docx", zeros_mb=docx_reader.MAX_EXPANDED_BYTES // (1024 * 1024) + 1)
    assert path.stat().st_size < 1024 * 1024  # what arrives is small; what it expands to is not
    with pytest.raises(DocumentReadError, match="疑似压缩炸弹") as caught:
        read_source(path)
    assert "bomb.docx" in str(caught.value)


def test_a_docx_with_too_many_entries_is_refused(tmp_path: Path):
    path = _bomb(tmp_path / "many.docx", entries=docx_reader.MAX_ENTRIES)
    with pytest.raises(DocumentReadError, match="个条目") as caught:
        read_source(path)
    assert "many.docx" in str(caught.value)


def test_a_paragraph_numbered_by_a_missing_list_is_a_warning(tmp_path: Path):
    doc = Document()
    para = doc.add_paragraph("申请材料")
    para._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="999"/></w:numPr>')
    )
    doc.save(tmp_path / "missing.docx")
    source = read_source(tmp_path / "missing.docx")
    assert source.lines == ("申请材料",)
    assert source.warnings == ("1 个段落的自动编号在文件中没有定义,编号未读出",)


def test_a_text_box_is_read_before_the_paragraph_it_is_anchored_to(tmp_path: Path):
    # WPS and Word templates often set the 文号 in a text box; a modern box carries a legacy copy in mc:Fallback.
    doc = Document()
    doc.add_paragraph("各街道办事处：")
    box = "<w:txbxContent><w:p><w:r><w:t>城人社字〔2025〕8号</w:t></w:r></w:p></w:txbxContent>"
    run = parse_xml(
        f'<w:r {nsdecls("w")} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
        'xmlns:v="urn:schemas-microsoft-com:vml"><mc:AlternateContent>'
        f'<mc:Choice Requires="wps"><w:drawing><wps:txbx>{box}</wps:txbx></w:drawing></mc:Choice>'
        f"<mc:Fallback><w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>"
    )
    doc.paragraphs[0]._p.append(run)
    doc.save(tmp_path / "box.docx")
    source = read_source(tmp_path / "box.docx")
    assert source.lines == ("城人社字〔2025〕8号", "各街道办事处：")
    assert source.warnings == ()


def test_an_item_starting_with_a_decimal_amount_still_gets_its_number(tmp_path: Path):
    path = _numbered_docx(
        tmp_path / "d.docx", [("decimal", "%1.")], [(0, "1.5万元以下的由街道审核"), (0, "其余由区人社局审核")]
    )
    assert read_source(path).lines == ("1.1.5万元以下的由街道审核", "2.其余由区人社局审核")
