"""Questions about parallel items ("A和B分别…") are split into one question per item."""

from __future__ import annotations

import pytest

from rag.decompose import split_parallel
from rag.lexical import ChineseTokenizer

POS_CUT = ChineseTokenizer(["技术维度", "管理维度", "城市大脑"]).pos_cut


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "青岛和杭州的案例分别对应哪条路径？",
            ["青岛的案例对应哪条路径？", "杭州的案例对应哪条路径？"],
        ),
        (
            "论文在技术维度和管理维度上分别给出了什么建议？",
            ["论文在技术维度上给出了什么建议？", "论文在管理维度上给出了什么建议？"],
        ),
        ("“6123”中的“1”和“2”分别指什么？", ["“6123”中的“1”指什么？", "“6123”中的“2”指什么？"]),
        (
            "技术、业务和管理维度分别包括什么？",
            ["技术维度包括什么？", "业务维度包括什么？", "管理维度包括什么？"],
        ),
    ],
)
def test_parallel_items_become_one_question_each(question: str, parts: list[str]) -> None:
    assert split_parallel(question, POS_CUT) == parts


@pytest.mark.parametrize(
    "question",
    [
        "城市数字化转型包括哪三个维度？",  # no 分别/各自
        "技术维度和管理维度有什么区别？",  # a comparison, not one answer per item
        "分别",
        "",
        "城市数字化转型的基本特征分别是什么？",  # 分别 without coordinated items
    ],
)
def test_other_questions_are_left_whole(question: str) -> None:
    assert split_parallel(question, POS_CUT) == []


def test_each_item_is_answered(corpus_index) -> None:
    answer = corpus_index.assistant.ask("杭州和长沙的城市大脑各自发展到了什么版本？")
    assert not answer.refused and answer.faithfulness == 1.0
    assert "杭州" in answer.text and "长沙" in answer.text
