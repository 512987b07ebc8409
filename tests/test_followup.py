"""Follow-up questions are rewritten with the previous turn, without an LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.followup import standalone_question
from rag.taxonomy import Taxonomy

TAXONOMY = Path(__file__).resolve().parents[1] / "corpus" / "taxonomy.yaml"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load(TAXONOMY)


def _history(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": "……[1]"}]


@pytest.mark.parametrize(
    ("previous", "message", "expected"),
    [
        ("技术维度包括哪些层级？", "那管理维度呢？", "管理维度包括哪些层级？"),
        ("业务维度是什么？", "它包括哪些环节？", "业务维度包括哪些环节？"),
        ("数据要素驱动路径包含哪些内容？", "那数字治理驱动呢？", "数字治理驱动路径包含哪些内容？"),
        ("杭州城市大脑是如何起步的？", "那长沙呢？", "长沙是如何起步的？"),
    ],
)
def test_rewrites(taxonomy, previous: str, message: str, expected: str) -> None:
    assert standalone_question(_history(previous), message, taxonomy) == expected


def test_standalone_question_is_unchanged(taxonomy) -> None:
    question = "城市数字化转型有哪六条主导路径？"
    assert standalone_question(_history("技术维度包括哪些层级？"), question, taxonomy) == question


def test_no_history_leaves_message(taxonomy) -> None:
    assert standalone_question([], "那管理维度呢？", taxonomy) == "那管理维度呢？"


def test_pair_history_is_accepted(taxonomy) -> None:
    history = [("技术维度包括哪些层级？", "……")]
    assert standalone_question(history, "那业务维度呢？", taxonomy) == "业务维度包括哪些层级？"


def test_chat_answers_the_follow_up(corpus_index) -> None:
    assistant = corpus_index.assistant
    answer = assistant.chat(_history("技术维度包括哪些层级？"), "那管理维度呢？")
    assert answer.question == "那管理维度呢？"
    assert answer.rewritten_question == "管理维度包括哪些层级？"
    assert not answer.refused
    assert "规划" in answer.text and "管控" in answer.text


@pytest.mark.parametrize(
    ("previous", "message", "glued"),
    [
        # a new question with its own subject stands alone (the paper; a regulation)
        ("数据要素驱动路径包含哪些内容？", "青岛对应哪条路径？", False),
        ("青岛的做法有哪些？", "作者是谁？", False),
        ("上海市数据条例对公共数据开放怎么规定？", "要交钱吗？", False),
        # elliptical: no topic of its own, a continuation, or a reference back
        ("杭州城市大脑是如何起步的？", "有哪些特点？", True),
        ("杭州城市大脑是如何起步的？", "为什么？", True),
        ("上海市数据条例对公共数据开放怎么规定？", "那钱从哪来？", True),
        ("上海市数据条例对公共数据开放怎么规定？", "谁负责？", True),
        ("上海市数据条例对公共数据开放怎么规定？", "上面说的开放清单由哪个部门制定？", True),
    ],
)
def test_only_elliptical_follow_ups_are_rewritten(
    taxonomy, tokenizer, previous: str, message: str, glued: bool
) -> None:
    rewritten = standalone_question(_history(previous), message, taxonomy, tokenizer.pos_cut)
    assert (rewritten != message) is glued, rewritten
    if glued:
        assert rewritten.startswith(previous.rstrip("？")) and rewritten.endswith(message)
