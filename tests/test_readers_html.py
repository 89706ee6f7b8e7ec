"""The web-page reader: a 政策问答 page saved from a government site comes back as its article only — no navigation,
footer, scripts, share bar or visit counter — with 发布时间/来源 as fields; a page without an article is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.documents.readers import DocumentReadError, read_source

LIBRARY = Path(__file__).parent / "fixtures" / "library"
QA = LIBRARY / "qa-employment-subsidy.html"

SITE_TOP = """<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}_青岛市城阳区人民政府（示例）</title>
<script>var counter = "浏览次数";</script><style>p {{ margin: 0 }}</style></head><body>
<div class="nav"><a href="/">首页</a><a href="/zwgk">政务公开</a><a href="/zcjd">政策解读</a><a href="/bsfw">办事服务</a></div>
"""
SITE_BOTTOM = """<div class="footer"><p>主办单位：青岛市城阳区人民政府办公室（示例）　网站标识码：3702140000</p>
<p>地址：城阳区正阳路（示例）　电话：0532-00000000</p></div></body></html>"""


def _page(
    tmp_path: Path, body: str, *, title: str = "示例文件", charset: str = "utf-8", name: str = "page.html"
) -> Path:
    path = tmp_path / name
    html = SITE_TOP.format(charset=charset, title=title) + body + SITE_BOTTOM
    path.write_bytes(html.encode("gb18030" if charset.lower() in ("gb2312", "gbk") else charset))
    return path


def test_a_qa_page_reads_as_its_article_only():
    source = read_source(QA)
    lines = source.lines
    assert lines[0] == "为便于群众了解就业补贴政策，现就常见问题解答如下。"
    assert lines[1:3] == (
        "问：哪些人员可以申请一次性创业补贴？",
        # The source breaks this paragraph with a newline between two Chinese characters: no space in the text.
        "答：在城阳区首次创办小微企业或从事个体经营，且正常运营1年以上的离校2年内高校毕业生、就业困难人员，可以申请一次性创业补贴。",
    )
    # <br> splits a paragraph into lines; the last line of the article is the phone line.
    assert lines[-2:] == (
        "答：在城阳区办理就业登记并依法缴纳社会保险的外地户籍人员，符合条件的可以申请。",
        "咨询电话：0532-87865432（工作日9:00—17:00）。",
    )
    text = source.text
    for furniture in (
        "首页",
        "当前位置",
        "浏览次数",
        "1234",
        "字号",
        "分享到",
        "打印本页",
        "关闭窗口",
        "相关链接",
        "主办单位",
        "ICP",
        "console.log",
        "统计代码",
        "text-indent",
    ):
        assert furniture not in text, furniture
    assert source.format == "html"


def test_a_table_in_the_article_becomes_cell_lines():
    lines = read_source(QA).lines
    start = lines.index("人员类别 | 补贴标准 | 补贴期限")
    assert lines[start + 1 : start + 3] == (
        "就业困难人员 | 实际缴费的2/3 | 最长3年",
        "离校2年内高校毕业生 | 实际缴费的2/3 | 最长2年",
    )


def test_publication_fields_come_from_outside_the_article():
    fields = read_source(QA).fields
    assert fields == (
        ("标题", "城阳区就业补贴政策问答（示例）"),
        ("发布时间", "2025-04-15 10:30"),
        ("来源", "青岛市城阳区人力资源和社会保障局"),
    )


def test_a_page_without_an_article_is_refused_naming_the_file():
    path = LIBRARY / "unreadable" / "no-body.html"
    with pytest.raises(DocumentReadError, match="网页中找不到正文") as caught:
        read_source(path)
    assert str(path) in str(caught.value)


def test_a_gb2312_page_reads_like_a_utf8_one(tmp_path: Path):
    body = '<div id="zoom"><p>　　离校未就业高校毕业生可以申请求职创业补贴，每人1000元。</p><p>咨询电话：0532-87865432。</p></div>'
    utf8 = read_source(_page(tmp_path, body, name="u.html"))
    gb = read_source(_page(tmp_path, body, charset="gb2312", name="g.html"))
    assert (
        gb.lines
        == utf8.lines
        == ("离校未就业高校毕业生可以申请求职创业补贴，每人1000元。", "咨询电话：0532-87865432。")
    )


def test_without_a_known_container_the_densest_text_block_is_the_article(tmp_path: Path):
    body = """
<div class="wrap"><div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/zcwj">政策文件</a></div>
<div class="left"><ul><li><a href="/1">通知公告</a></li><li><a href="/2">政策文件</a></li><li><a href="/3">政策解读</a></li></ul></div>
<div class="wenzhang">
  <h2>城阳区零工驿站服务指南（示例）</h2>
  <p>一、服务对象</p><p>有灵活就业意愿的劳动者和有临时用工需求的企业。</p>
  <p>二、服务时间</p><p>零工驿站每日6时至18时开放，节假日不休息，进站求职不收取任何费用。</p>
  <p>三、咨询电话</p><p>0532-87861111</p>
</div></div>"""
    source = read_source(_page(tmp_path, body))
    assert source.lines == (
        "城阳区零工驿站服务指南（示例）",
        "一、服务对象",
        "有灵活就业意愿的劳动者和有临时用工需求的企业。",
        "二、服务时间",
        "零工驿站每日6时至18时开放，节假日不休息，进站求职不收取任何费用。",
        "三、咨询电话",
        "0532-87861111",
    )


def test_a_metadata_table_outside_the_article_fills_fields(tmp_path: Path):
    body = """
<table class="xxgk"><tr><td>索引号：</td><td>000014349/2025-00012</td><td>发文机关：</td><td>青岛市城阳区人力资源和社会保障局</td></tr>
<tr><td>发文字号：</td><td>城人社发〔2025〕3号</td><td>成文日期：</td><td>2025-03-01</td></tr></table>
<h1>城阳区就业见习管理办法（示例）</h1>
<div class="pages_content"><p>第一条　为规范就业见习管理，制定本办法。</p><p>第二条　本办法自2025年4月1日起施行。</p></div>"""
    source = read_source(_page(tmp_path, body, title="城阳区就业见习管理办法（示例）"))
    assert source.lines == ("第一条　为规范就业见习管理，制定本办法。", "第二条　本办法自2025年4月1日起施行。")
    assert dict(source.fields) == {
        "标题": "城阳区就业见习管理办法（示例）",
        "索引号": "000014349/2025-00012",
        "发文机关": "青岛市城阳区人力资源和社会保障局",
        "发文字号": "城人社发〔2025〕3号",
        "成文日期": "2025-03-01",
    }


def test_a_layout_table_inside_the_article_keeps_its_paragraphs_apart(tmp_path: Path):
    # Text pasted from Word often arrives wrapped in a one-column table: its paragraphs are still paragraphs.
    body = """<div class="TRS_Editor"><table><tr><td>
<p>一、补贴对象为就业困难人员。</p><p>二、补贴标准为每人每月500元。</p></td></tr></table>
<p style="text-align:right">青岛市城阳区人力资源和社会保障局</p><p>浏览次数：<span>77</span></p></div>"""
    assert read_source(_page(tmp_path, body)).lines == (
        "一、补贴对象为就业困难人员。",
        "二、补贴标准为每人每月500元。",
        "青岛市城阳区人力资源和社会保障局",
    )


def test_the_title_is_the_heading_above_the_article_not_the_site_logo(tmp_path: Path):
    body = """<div class="logo"><h1>青岛市城阳区人民政府（示例）</h1></div>
<div class="detail"><h2>城阳区公益性岗位补贴申领指南（示例）</h2><div class="info">发布日期：2025-05-06</div>
<div class="article-content"><p>公益性岗位补贴按月申领，每人每月1000元。</p></div></div>"""
    source = read_source(_page(tmp_path, body))
    assert source.lines == ("公益性岗位补贴按月申领，每人每月1000元。",)
    assert dict(source.fields) == {"标题": "城阳区公益性岗位补贴申领指南（示例）", "发布日期": "2025-05-06"}


def test_a_page_wrapped_in_one_form_still_has_its_article_found(tmp_path: Path):
    # ASP.NET sites put the whole page inside <form id="form1">; the form is not page furniture.
    body = """<form id="form1" method="post"><div class="search"><input name="q"><button>搜索</button></div>
<div class="detail"><div class="txt">
<p>各街道办事处：</p><p>为做好2025年高校毕业生就业见习工作，区人力资源和社会保障局将于5月开展见习岗位征集，
请各街道组织辖区企业于5月31日前报送见习岗位。</p></div></div></form>"""
    assert read_source(_page(tmp_path, body)).lines == (
        "各街道办事处：",
        "为做好2025年高校毕业生就业见习工作，区人力资源和社会保障局将于5月开展见习岗位征集，请各街道组织辖区企业于5月31日前报送见习岗位。",
    )


def test_paragraphs_each_in_their_own_div_are_found_together(tmp_path: Path):
    body = """<div class="detail">
<div class="para">一、见习对象为离校2年内未就业高校毕业生和16至24岁失业青年。</div>
<div class="para">二、见习期限一般为3至12个月，见习期间由见习单位发放基本生活费。</div>
<div class="para">三、见习补贴按当地最低工资标准的60%给予见习单位。</div></div>"""
    assert read_source(_page(tmp_path, body)).lines == (
        "一、见习对象为离校2年内未就业高校毕业生和16至24岁失业青年。",
        "二、见习期限一般为3至12个月，见习期间由见习单位发放基本生活费。",
        "三、见习补贴按当地最低工资标准的60%给予见习单位。",
    )


def test_only_counter_lines_are_dropped_not_lines_about_visits(tmp_path: Path):
    body = """<div class="TRS_Editor"><p>一、本年度零工驿站服务情况统计如下。</p>
<table><tr><td>指标</td><td>访问量</td></tr><tr><td>零工驿站</td><td>3.2万人次</td></tr></table>
<p>阅读次数：<span id="c"></span></p><p>点击数 88</p></div>"""
    assert read_source(_page(tmp_path, body)).lines == (
        "一、本年度零工驿站服务情况统计如下。",
        "指标 | 访问量",
        "零工驿站 | 3.2万人次",
    )
