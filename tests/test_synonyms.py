"""The domain thesaurus: loading, phrase matching, and how it widens term matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.lexical import ChineseTokenizer
from rag.query import QueryAnalyzer, coverage, idf_weights
from rag.settings import GENERIC_VOCABULARY, REPO_ROOT
from rag.synonyms import Thesaurus, term_forms, term_in
from rag.termindex import TermIndex

BUNDLED = REPO_ROOT / "corpus" / "synonyms.yaml"


@pytest.fixture(scope="module")
def analyzer() -> QueryAnalyzer:
    return QueryAnalyzer(
        ChineseTokenizer(), Thesaurus([["没人用", "使用率较低"], ["手工", "人工"]])
    )


def test_bundled_thesauri_load_and_keep_money_out() -> None:
    thesaurus = Thesaurus.load_all([GENERIC_VOCABULARY, BUNDLED])
    assert len(thesaurus) > 200
    assert len(Thesaurus.load(GENERIC_VOCABULARY)) > 100 and len(Thesaurus.load(BUNDLED)) > 100
    # Grouping money words would let out-of-corpus budget questions look answered.
    for word in ("预算", "投资", "资金", "金额", "经费"):
        assert all(word not in phrase for phrase, _ in thesaurus.find(word)), word


def test_the_generic_vocabulary_serves_a_library_without_the_papers_file(
    settings_for, tmp_path: Path
) -> None:
    """A user's own policy library (no synonyms.yaml of its own) still has the generic
    vocabulary of policy texts and laws; the paper's wordings come only with its file."""
    settings = settings_for(tmp_path, corpus_dir=tmp_path / "mine")
    assert settings.thesaurus_paths == [GENERIC_VOCABULARY]
    generic = Thesaurus.load_all(settings.thesaurus_paths)
    assert "信息孤岛" in dict(generic.find("数据孤岛怎么破"))["数据孤岛"]
    assert "分为" in dict(generic.find("分成哪几类"))["分成"]
    assert generic.find("首席体验官") == []  # a notion of the paper's, in its own file
    bundled = settings_for(tmp_path, corpus_dir=REPO_ROOT / "corpus")
    assert Thesaurus.load_all(bundled.thesaurus_paths).find("首席体验官")


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        # a policy text: 有条件无偿使用 / 有条件有偿使用 (数据二十条's wording)
        (
            "公共数据什么时候能免费给、什么时候可以收钱？",
            "公共数据有条件无偿使用，探索有条件有偿使用。",
        ),
        # a regulation: 不收取费用 (as 政府信息公开条例 words it)
        ("申请政府信息要交钱吗？", "行政机关依申请提供政府信息，不收取费用。"),
        # a separable verb-object word with a quantity inside (收点钱), against a regulation
        ("公共数据开放要收点钱吗？", "公共数据开放，不得收取费用。"),
    ],
)
def test_colloquial_money_words_meet_the_official_wording(question: str, passage: str) -> None:
    """Officials say 免费 / 收钱 / 交钱; policy texts and laws write 无偿 / 有偿 / 收取费用."""
    generic = QueryAnalyzer(ChineseTokenizer(), Thesaurus.load(GENERIC_VOCABULARY))
    plain = QueryAnalyzer(ChineseTokenizer(), Thesaurus())
    corpus = TermIndex([passage, "城市数字化转型的总体要求。", "数据资源目录。"])

    def covered(analyzer: QueryAnalyzer) -> float:
        weights = idf_weights(analyzer.terms(question).content, corpus)
        return coverage(weights, passage)

    assert covered(generic) > covered(plain)
    assert covered(generic) >= 0.5


def test_longest_phrase_wins_and_matches_do_not_overlap() -> None:
    thesaurus = Thesaurus([["维护", "运维"], ["没人维护", "缺乏运维"]])
    assert thesaurus.find("系统没人维护怎么办") == [("没人维护", ["缺乏运维"])]
    assert [p for p, _ in thesaurus.find("维护和没人维护")] == ["维护", "没人维护"]
    assert thesaurus.find("") == []


def test_a_separable_word_is_found_with_a_quantity_or_particle_inside() -> None:
    """Chinese verb-object words split around a quantity or an aspect particle (离合词):
    收点钱 / 交了钱 / 收过费 are 收钱 / 交钱 / 收费, reported as written; other two-character
    phrases are not split at will, and a longer phrase never is."""
    thesaurus = Thesaurus([["收钱", "收费", "收取费用"], ["交钱", "付费"], ["没人用", "闲置"]])
    assert thesaurus.find("能不能收点钱") == [("收点钱", ["收钱", "收费", "收取费用"])]
    assert thesaurus.find("要先交了钱吗")[0][0] == "交了钱"
    assert thesaurus.find("收过费没有")[0] == ("收过费", ["收费", "收钱", "收取费用"])
    assert thesaurus.find("收钱和收点钱")[0][0] == "收钱"  # the contiguous wording first
    assert thesaurus.find("收入和钱款") == []  # a word between that is not a quantity
    assert thesaurus.find("没人点用") == []


def test_a_phrase_in_two_groups_gets_both_groups_alternatives() -> None:
    thesaurus = Thesaurus([["小城市", "小微城市"], ["中小城市", "小微城市", "中等城市"]])
    assert thesaurus.find("小微城市")[0][1] == ["小城市", "中小城市", "中等城市"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("groups: [[没人用]]\n", "第 1 组"),
        ("groups:\n  - [没人用, 使用率低]\n  - [好, 使用率低]\n", "第 2 组"),
        ("version: 1\n", "缺少 groups"),
        ("groups: [[a, b]\n", "无法读取"),
    ],
)
def test_bad_thesaurus_file_names_the_file_and_the_group(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "synonyms.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Thesaurus.load(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_missing_configured_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="无法读取"):
        Thesaurus.load(tmp_path / "nope.yaml")


def test_question_phrase_becomes_one_alternative_term(analyzer: QueryAnalyzer) -> None:
    terms = analyzer.terms("系统建好以后没人用，怎么办？")
    assert "没人用|使用率较低" in terms.content
    assert "没人" not in terms.content  # the phrase's pieces do not count twice
    assert term_forms("没人用|使用率较低") == ["没人用", "使用率较低"]
    assert term_in("没人用|使用率较低", "平台使用率较低。")


def test_coverage_counts_any_wording(analyzer: QueryAnalyzer) -> None:
    weights = {"没人用|使用率较低": 2.0, "系统": 1.0}
    assert coverage(weights, "部分平台使用率较低") == pytest.approx(2 / 3)
    assert coverage(weights, "系统无人问津") == pytest.approx(1 / 3)


def test_term_without_any_wording_in_corpus_falls_back_to_its_words(
    analyzer: QueryAnalyzer,
) -> None:
    chunks = TermIndex(["推动产业发展。", "数字化建设。"])
    weights = idf_weights(
        ["本地的产业|地方产业"], chunks, pieces={"本地的产业|地方产业": ("产业",)}
    )
    assert list(weights) == ["产业"]
    # A wording the corpus does use keeps the term whole.
    kept = idf_weights(["产业|本地产业"], chunks, pieces={"产业|本地产业": ("产业",)})
    assert kept == {"产业|本地产业": pytest.approx(weights["产业"])}


def test_settings_choose_the_thesaurus(settings_for, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    assert settings_for(tmp_path, corpus_dir=corpus).synonyms_path is None  # none in the folder
    corpus.mkdir()
    (corpus / "synonyms.yaml").write_text("groups: []\n", encoding="utf-8")
    assert settings_for(tmp_path, corpus_dir=corpus).synonyms_path == corpus / "synonyms.yaml"
    off = settings_for(tmp_path, query_expansion=False)
    assert off.synonyms_path is None
    own = tmp_path / "mine.yaml"
    assert settings_for(tmp_path, synonyms_file=own).synonyms_path == own
    assert settings_for(tmp_path, synonyms_file=own).thesaurus_paths == [GENERIC_VOCABULARY, own]
    assert settings_for(tmp_path, synonyms_file=own, generic_vocabulary=False).thesaurus_paths == [
        own
    ]
    assert off.thesaurus_paths == []
