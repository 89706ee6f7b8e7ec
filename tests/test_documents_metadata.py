"""Metadata read from a document's own text, a sidecar that overrides it, and the lifecycle it implies."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from assistant.corpus import read_document
from assistant.documents.metadata import parse_date, split_closing
from assistant.errors import CorpusError

STRUCTURES = Path(__file__).resolve().parent / "fixtures" / "structures"


def test_metadata_from_the_text_of_a_rule() -> None:
    m = read_document(STRUCTURES / "gongyi-banfa.txt").meta
    assert m.title == "城阳区城乡公益性岗位管理办法（示例）"
    assert m.number == "青城人社发〔2025〕7号"
    assert m.issuer == "青岛市城阳区人力资源和社会保障局" and m.written == dt.date(2025, 2, 10)
    assert m.effective == dt.date(2025, 3, 1)
    assert m.expires == dt.date(2028, 2, 29)  # 有效期3年 from the 施行 date
    assert m.phone == "0532-87861234"


def test_activity_period_phone_under_a_heading_and_publication_line() -> None:
    tongzhi = read_document(STRUCTURES / "chunfeng-tongzhi.txt").meta
    assert tongzhi.expires == dt.date(2025, 3, 31) and tongzhi.phone == "0532-87860001"
    assert tongzhi.status(dt.date(2025, 3, 31)) == "现行" and tongzhi.status(dt.date(2025, 4, 1)) == "已过期"
    guide = read_document(STRUCTURES / "chuangye-zhinan.txt").meta
    assert (guide.phone, guide.consult_dept) == ("0532-87869876", "区就业创业服务中心")
    assert read_document(STRUCTURES / "lingong-wenda.txt").meta.published == dt.date(2025, 4, 1)


@pytest.mark.parametrize(
    ("head", "number"),
    [("青城人社发[2025]7号", "青城人社发〔2025〕7号"), ("青城人社发【2025】7号", "青城人社发〔2025〕7号")],
)
def test_number_bracket_variants(tmp_path: Path, head: str, number: str) -> None:
    text = (STRUCTURES / "gongyi-banfa.txt").read_text(encoding="utf-8").replace("青城人社发〔2025〕7号", head)
    (tmp_path / "b.txt").write_text(text, encoding="utf-8")
    assert read_document(tmp_path / "b.txt").meta.number == number


def test_dates_in_chinese_numerals_and_the_closing() -> None:
    assert parse_date("二〇二五年三月一日") == dt.date(2025, 3, 1)
    assert parse_date("2025-3-1") == dt.date(2025, 3, 1) and parse_date("2025年2月30日") is None
    body, closing = split_closing([(1, "第一条 正文。"), (2, "青岛市城阳区人力资源和社会保障局"), (3, "2025年2月10日")])
    assert body == [(1, "第一条 正文。")] and [n for n, _ in closing] == [2, 3]


def test_sidecar_overrides_and_declares(tmp_path: Path) -> None:
    shutil.copy(STRUCTURES / "gongyi-banfa.txt", tmp_path / "gongyi-banfa.txt")
    (tmp_path / "gongyi-banfa.txt.meta.toml").write_text(
        'phone = "0532-80000000"\nimplements = ["m11"]\nstatus = "废止"\nsuperseded_by = "xin-banfa"\nrepealed_on = 2025-06-30\n',
        encoding="utf-8",
    )
    m = read_document(tmp_path / "gongyi-banfa.txt").meta
    assert m.phone == "0532-80000000" and m.implements == ("m11",)
    assert m.number == "青城人社发〔2025〕7号"  # what the sidecar does not name is still read from the text
    assert m.status(dt.date(2025, 5, 1)) == "已废止"
    note = m.lifecycle_note(dt.date(2025, 7, 1), {"xin-banfa": "新办法（示例）"})
    assert note.startswith("已废止") and "2025-06-30" in note and "《新办法（示例）》" in note


def test_a_broken_sidecar_names_itself(tmp_path: Path) -> None:
    shutil.copy(STRUCTURES / "gongyi-banfa.txt", tmp_path / "x.txt")
    (tmp_path / "x.txt.meta.toml").write_text('implements = "m11"\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="implements") as err:
        read_document(tmp_path / "x.txt")
    assert err.value.path.endswith("x.txt.meta.toml")
