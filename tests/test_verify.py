"""The citation verifier on its own: fabricated, mis-cited and uncited sentences are flagged."""

from __future__ import annotations

import pytest

from rag.lexical import ChineseTokenizer
from rag.query import QueryAnalyzer
from rag.types import Citation
from rag.verify import CitationVerifier, faithfulness, split_answer_sentences

PASSAGE = (
    "城市数字化转型的三大维度分别是技术维度、业务维度和管理维度,如图1所示。"
    "一是技术维度,包含城市数字底座、城市数据体系、城市核心平台、城市应用场景4个层级。"
)
OTHER = "数据要素驱动路径主要以数据要素价值释放为牵引推动城市数字化转型。"


def _citation(n: int, text: str) -> Citation:
    return Citation(n, "d", "论文", "paper.md", "2.2 三维模型", None, text, 1.0, [], [])


@pytest.fixture(scope="module")
def verifier(embedder) -> CitationVerifier:
    return CitationVerifier(embedder, QueryAnalyzer(ChineseTokenizer()))


@pytest.fixture
def citations() -> list[Citation]:
    return [_citation(1, PASSAGE), _citation(2, OTHER)]


def test_verbatim_sentence_is_supported(verifier, citations) -> None:
    checks = verifier.check(
        "根据资料：城市数字化转型的三大维度分别是技术维度、业务维度和管理维度,如图1所示。[1]",
        citations,
    )
    assert [c.supported for c in checks] == [True]
    assert faithfulness(checks) == 1.0


def test_fabricated_sentence_is_flagged(verifier, citations) -> None:
    checks = verifier.check("城市数字化转型包括七大维度,由深圳率先提出。[1]", citations)
    assert [c.supported for c in checks] == [False]
    assert "没有" in checks[0].reason or "不支持" in checks[0].reason


def test_wrong_number_is_flagged(verifier, citations) -> None:
    checks = verifier.check("技术维度包含城市数字底座等4个层级。[7]", citations)
    assert not checks[0].supported and "不存在" in checks[0].reason


def test_citing_the_wrong_passage_is_flagged(verifier, citations) -> None:
    checks = verifier.check(
        "城市数字化转型的三大维度分别是技术维度、业务维度和管理维度,如图1所示。[2]", citations
    )
    assert not checks[0].supported


def test_sentence_without_citation_is_flagged(verifier, citations) -> None:
    text = (
        "城市数字化转型的三大维度分别是技术维度、业务维度和管理维度,如图1所示。[1]"
        "这一模型已在全国推广。"
    )
    checks = verifier.check(text, citations)
    assert [c.supported for c in checks] == [True, False]
    assert checks[1].reason == "没有引用标注"
    assert faithfulness(checks) == 0.5


def test_wrong_number_in_claim_is_flagged(verifier, citations) -> None:
    checks = verifier.check("技术维度包含城市数字底座、城市数据体系等5个层级。[1]", citations)
    assert not checks[0].supported


def test_close_paraphrase_is_supported(verifier, citations) -> None:
    checks = verifier.check(
        "技术维度包含城市数字底座、城市数据体系、城市核心平台和城市应用场景4个层级。[1]",
        citations,
    )
    assert checks[0].supported


def test_paper_footnote_marks_are_not_citations() -> None:
    sentences = split_answer_sentences("截至2023年8月,已有226个城市建成平台[^3]。[1]下一句。[2]")
    assert sentences == ["截至2023年8月,已有226个城市建成平台[^3]。[1]", "下一句。[2]"]


def test_empty_answer_has_no_sentences(verifier, citations) -> None:
    assert verifier.check("", citations) == []
    assert verifier.check("根据资料：", citations) == []


# A regulation's wording, the second kind of text these checks must hold on.
REGULATION = (
    "行政机关依申请提供政府信息，不收取费用。"
    "申请人申请公开政府信息的数量、频次明显超过合理范围的，行政机关可以收取信息处理费。"
)


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        ("三大维度分别不是技术维度、业务维度和管理维度。[1]", PASSAGE),  # negation added
        ("行政机关依申请提供政府信息，收取费用。[1]", REGULATION),  # negation dropped
        ("行政机关依申请提供政府信息，没有收取费用的规定。[1]", REGULATION),
    ],
)
def test_negation_changes_are_flagged(verifier, claim: str, passage: str) -> None:
    checks = verifier.check(claim, [_citation(1, passage)])
    assert not checks[0].supported and "否定" in checks[0].reason, checks[0]


def test_claim_attached_to_the_wrong_entity_is_flagged(verifier, citations) -> None:
    # The components belong to the technology dimension, not the business one.
    checks = verifier.check(
        "一是业务维度,包含城市数字底座、城市数据体系、城市核心平台、城市应用场景4个层级。[1]",
        citations,
    )
    assert not checks[0].supported, checks[0]


def test_negated_wording_that_the_passage_has_is_supported(verifier) -> None:
    checks = verifier.check(
        "行政机关依申请提供政府信息,不收取费用。[1]", [_citation(1, REGULATION)]
    )
    assert checks[0].supported


def test_heading_and_title_lines_are_labels_not_claims(verifier, citations) -> None:
    answer = (
        "【2.2 三维模型】[1]\n一是技术维度,包含城市数字底座、城市数据体系、城市核心平台、"
        "城市应用场景4个层级。[1]\n《论文》[1]"
    )
    checks = verifier.check(answer, citations)
    assert [c.label for c in checks] == [True, False, True]
    assert all(c.supported for c in checks) and faithfulness(checks) == 1.0
    # A label citing the wrong passage still lowers the score; a supported one never raises it.
    wrong = verifier.check("【9.9 别的章节】[2]\n城市数字化转型包括七大维度。[1]", citations)
    assert [c.label for c in wrong] == [True, False] and faithfulness(wrong) == 0.0
