"""Question terms worded differently by a passage, compared word by word with the real
embedder: colloquial questions about a regulation and a policy text."""

from __future__ import annotations

import pytest

from rag.settings import Settings
from rag.termsim import TermSimilarity

FLOOR = Settings().term_similarity or 0.7  # the calibrated floor (rag/calibration/answering.json)


@pytest.fixture(scope="module")
def neighbours(embedder, tokenizer) -> TermSimilarity:
    return TermSimilarity(embedder, tokenizer.tokenize)


@pytest.mark.parametrize(
    ("term", "passage", "wording"),
    [
        # a regulation's article: "收点钱" is its 收费
        ("收点钱", "第二十条 公共数据开放不得收费，法律、行政法规另有规定的除外。", "收费"),
        # a policy text: "收钱" is its 收费
        ("收钱", "推进公共数据有条件有偿使用，依规合理确定收费标准。", "收费"),
    ],
)
def test_a_colloquial_term_finds_the_documents_wording(
    neighbours: TermSimilarity, term: str, passage: str, wording: str
) -> None:
    similarity, word = neighbours.closest([term], passage)[term]
    assert wording in word and similarity >= FLOOR


def test_a_related_topic_does_not_cover_a_different_thing(neighbours: TermSimilarity) -> None:
    """ "数字孪生" is not worded by a passage about 城市信息模型 and 三维数据: the word, not the
    topic, must match (the related-passage unanswerable)."""
    similarity, _ = neighbours.closest(
        ["数字孪生"], "建设城市信息模型平台，汇聚地上地下三维数据。"
    )["数字孪生"]
    assert similarity < FLOOR


def test_empty_terms_and_passages_and_the_cache_is_bounded(embedder, tokenizer) -> None:
    small = TermSimilarity(embedder, tokenizer.tokenize, cache_size=3)
    assert small.closest([], "公共数据开放") == {}
    assert small.closest(["收费"], "   ") == {"收费": (0.0, "")}
    small.closest(["收费"], "公共数据开放平台由市大数据管理局建设和运行维护")
    assert len(small._cache) <= 3


def test_part_of_a_term_is_not_a_rewording(neighbours: TermSimilarity) -> None:
    """A passage saying only "公开" lacks the 招标 of "公开招标": a more general word does not
    word the term."""
    _, word = neighbours.closest(["公开招标"], "政务数据依法公开。")["公开招标"]
    assert word != "公开"
    _, word = neighbours.closest(["小企业"], "支持企业数字化转型。")["小企业"]
    assert word != "企业"
