"""Normalisation: what a phone keyboard does to a question must not stop it finding its measure."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus import load_corpus
from assistant.text import Lexicon, normalize

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    corpus = load_corpus(REPO / "corpus")
    return Lexicon(REPO / "corpus" / "lexicon", [c.text for c in corpus.chunks])


def test_traditional_fullwidth_and_spaces() -> None:
    assert normalize("  送外賣的騎手　有沒有保險補貼？ＡＢＣ１２３ ") == "送外卖的骑手有没有保险补贴?abc123"
    assert normalize("城阳 app 怎么 下载") == "城阳 app 怎么下载"  # only a space between two Chinese characters goes


def test_a_spaced_out_voice_transcript_reads_like_typed_text(lexicon: Lexicon) -> None:
    # The voice button's transcripts space every word; a typo split across two of them is still repaired.
    spaced = lexicon.expand("俺 孙女 是 高效 毕业生 有 啥 政策")
    assert spaced.repaired == lexicon.expand("俺孙女是高效毕业生有啥政策").repaired
    assert "高校毕业生" in spaced.repaired


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("以工待赈是什么", "以工代赈"), ("创业代款怎么申请", "贷款"), ("三支一复", "三支一扶"), ("灵活就叶有补贴吗", "灵活就业")],
)
def test_same_pinyin_typos_are_repaired_to_corpus_words(lexicon: Lexicon, typed: str, meant: str) -> None:
    expansion = lexicon.expand(typed)
    assert meant in expansion.repaired
    assert meant in lexicon.tokens(expansion.text)


@pytest.mark.parametrize(
    "text",
    # Two words that sound like one corpus word are not a typo of it: 班|是 is not 办事, 活|的 not 获得.
    ["我是事业单位的", "措施二是关于什么的", "第十条", "城阳哪家火锅好吃", "订单班是怎么回事", "有没有帮着找活的站点"],
)
def test_real_words_and_numbers_are_left_alone(lexicon: Lexicon, text: str) -> None:
    assert lexicon.expand(text).corrections == ()


def test_glossary_maps_colloquial_words_to_policy_terms(lexicon: Lexicon) -> None:
    expansion = lexicon.expand("送外卖的骑手有没有保险")
    (variants, terms), *_ = [(v, t) for v, t in expansion.glossary if "外卖" in v]
    assert variants == "外卖、骑手" and "新业态" in terms  # every variant said, one concept
    assert "意外伤害保险补贴" in expansion.text
    # The glossary only points at policy wording: every term it adds occurs in the corpus or lexicon.
    corpus_text = "".join(c.text + c.title + c.section + "".join(c.lead_units) for c in load_corpus(REPO / "corpus").chunks)
    for entry in lexicon.glossary:
        for term in entry.terms:
            assert term in corpus_text or term.lower() in corpus_text.lower(), term


@pytest.mark.parametrize(
    "text", ["你好", "您好，在吗？", "谢谢你，辛苦了", "好的，明白了，谢谢", "Hello!", "太感谢了！", "好嘞", "收到，谢谢啦", "您好，我想咨询一下"]
)
def test_greetings(lexicon: Lexicon, text: str) -> None:
    assert lexicon.is_greeting(text)


@pytest.mark.parametrize(
    "text", ["你好，送外卖的有补贴吗", "谢谢，那创业贷款呢", "火锅", "", "我想咨询一下灵活就业", "真的吗", "我们呢"]
)
def test_questions_are_not_greetings(lexicon: Lexicon, text: str) -> None:
    assert not lexicon.is_greeting(text)


def test_tokens_drop_stopwords_and_punctuation(lexicon: Lexicon) -> None:
    tokens = lexicon.tokens("请问，城阳区的以工代赈是什么？")
    assert "以工代赈" in tokens
    assert not {"请问", "的", "是", "什么", "，", "？"} & set(tokens)


def test_malformed_glossary_names_file_and_line(tmp_path: Path) -> None:
    from assistant.errors import CorpusError

    (tmp_path / "glossary.tsv").write_text("# comment\n\n外卖\t新业态\n骑手 没有制表符\n", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        Lexicon(tmp_path)
    assert err.value.line == 4 and "glossary.tsv:4" in str(err.value)


def test_a_gap_variant_matches_a_phrase_split_by_aspect_and_duration(tmp_path: Path) -> None:
    """「欠了三个月工资」 and 「工资拖了俩月没发」 are how people say 欠工资: a glossary variant written
    with … finds its parts in order inside one clause, and reports the words as said."""
    (tmp_path / "glossary.tsv").write_text("欠…工资|工资…没发\t拖欠农民工工资\n", encoding="utf-8")
    lex = Lexicon(tmp_path)
    for said in ("欠了三个月工资", "工资拖了俩月没发"):
        expansion = lex.expand(f"公司{said}，这个政策管不管")
        assert expansion.glossary == ((said, ("拖欠农民工工资",)),)
        assert "拖欠农民工工资" in expansion.text
    # Not across a clause, nor with a whole sentence between the parts.
    assert lex.expand("我欠了钱，工资卡被冻结了").glossary == ()
    assert lex.expand("欠下的人情要还上，年底发了工资再说").glossary == ()


def test_a_mistyped_spoken_name_of_the_glossary_is_repaired_and_understood(tmp_path: Path) -> None:
    """People type the glossary's colloquial names (公益岗) with a pinyin keyboard as often as the policy's terms,
    and mistype them the same way: 「公易岗」 is repaired to the spoken name, which then means the policy term."""
    (tmp_path / "glossary.tsv").write_text("公益岗|托底岗位\t城乡公益性岗位\n", encoding="utf-8")
    lex = Lexicon(tmp_path, ["开发城乡公益性岗位，托底安置就业困难人员。"])
    expansion = lex.expand("村里的公易岗怎么报名")
    assert ("公易岗", "公益岗") in expansion.corrections
    assert "城乡公益性岗位" in expansion.text


def test_a_two_character_glossary_word_is_read_when_jieba_does_not_know_it(tmp_path: Path) -> None:
    """jieba glues a word it does not know to its neighbour (「干代驾的」 → 干代驾|的), and a two-character glossary word
    must be a word of the question: the tokenizer learns the glossary's words, so the driver's question is understood."""
    (tmp_path / "glossary.tsv").write_text("代驾|跑单\t新业态\n", encoding="utf-8")
    lex = Lexicon(tmp_path)
    assert [found for found, _ in lex.expand("干代驾的有保险补助吗").glossary] == ["代驾"]
    assert "代驾" in lex.tokens("干代驾的有保险补助吗")


def test_fuzzy_syllables_of_pinyin_keyboards_are_repaired_over_three_characters(lexicon: Lexicon) -> None:
    """Many users type with the keyboard's fuzzy-sound setting (-in/-ing, -en/-eng, z/zh…): 「农名工」 is 农民工. Over two
    characters a fuzzy match is too often another word, so only runs of three or more are repaired."""
    expansion = lexicon.expand("俺们农名工在城阳打工有啥政策")
    assert ("农名工", "农民工") in expansion.corrections
    assert "农民工" in lexicon.tokens(expansion.text)
    assert lexicon.expand("干位多不多").corrections == ()  # 干位 ~ 岗位 only fuzzily, and two characters
