"""``eval.metrics`` on hand-made cases: perfect, empty, partial, duplicates, exact values."""

from __future__ import annotations

import math

import pytest

from eval import metrics as m

P_A = "城市数字底座包含城市感、连、算、网、融等基础设施,构成城市数字化转型的基础底座。"
P_B = "城市核心平台包含数据中台、技术中台和交互中心,构成城市数字化转型的智能中枢。"
P_C = "数字生活驱动路径主要以数字服务为亮点牵引城市数字化转型。"
GOLD_A = "构成城市数字化转型的基础底座"
GOLD_B = "数据中台、技术中台和交互中心"


# ----- retrieval ----------------------------------------------------------------------------
def test_relevance_ignores_whitespace() -> None:
    spaced = "城市核心平台包含数据中台、技术中台\n和 交互中心"
    assert m.relevance([spaced, P_C], [GOLD_B]) == [1, 0]


def test_perfect_ranking() -> None:
    ranked = [P_A, P_B, P_C]
    gold = [GOLD_A, GOLD_B]
    assert m.hit_at_k(ranked, gold, 1) == 1.0
    assert m.recall_at_k(ranked, gold, 2) == 1.0
    assert m.mrr_at_k(ranked, gold) == 1.0
    assert m.ndcg_at_k(ranked, gold, 10, n_relevant=2) == pytest.approx(1.0)


def test_empty_ranking_and_empty_gold() -> None:
    assert m.hit_at_k([], [GOLD_A], 5) == 0.0
    assert m.recall_at_k([], [GOLD_A], 5) == 0.0
    assert m.mrr_at_k([], [GOLD_A]) == 0.0
    assert m.ndcg_at_k([], [GOLD_A], 10, n_relevant=1) == 0.0
    assert m.recall_at_k([P_A], [], 5) == 0.0
    assert m.ndcg_at_k([P_A], [], 10) == 0.0


def test_partial_ranking_exact_values() -> None:
    ranked = [P_C, P_A, P_C, P_B]  # relevant at ranks 2 and 4
    gold = [GOLD_A, GOLD_B]
    assert m.hit_at_k(ranked, gold, 1) == 0.0
    assert m.hit_at_k(ranked, gold, 2) == 1.0
    assert m.recall_at_k(ranked, gold, 3) == 0.5
    assert m.recall_at_k(ranked, gold, 4) == 1.0
    assert m.mrr_at_k(ranked, gold) == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert m.ndcg_at_k(ranked, gold, 10, n_relevant=2) == pytest.approx(dcg / idcg)


def test_mrr_and_ndcg_cut_off_at_k() -> None:
    ranked = [P_C] * 10 + [P_A]
    assert m.mrr_at_k(ranked, [GOLD_A], 10) == 0.0
    assert m.ndcg_at_k(ranked, [GOLD_A], 10, n_relevant=1) == 0.0
    assert m.mrr_at_k([P_C, P_C, P_A], [GOLD_A], 10) == pytest.approx(1 / 3)


def test_ndcg_ideal_counts_relevant_passages_of_the_collection() -> None:
    # One relevant passage retrieved at rank 1, but three exist in the collection.
    value = m.ndcg_at_k([P_A, P_C], [GOLD_A], 10, n_relevant=3)
    assert value == pytest.approx(1 / (1 + 1 / math.log2(3) + 1 / math.log2(4)))
    # Without n_relevant the list itself is the ideal.
    assert m.ndcg_at_k([P_C, P_A], [GOLD_A], 10) == pytest.approx(1 / math.log2(3))


def test_duplicate_passages_count_once_for_recall() -> None:
    assert m.recall_at_k([P_A, P_A, P_A], [GOLD_A, GOLD_B], 3) == 0.5


# ----- answers ------------------------------------------------------------------------------
def test_key_point_coverage_with_alternatives() -> None:
    answer = "城市核心平台包含数据中台。[1]"
    assert m.key_point_coverage(answer, ["数据中台", "技术中台|交互中心"]) == 0.5
    assert m.key_point_coverage(answer, ["技术中台|数据 中台"]) == 1.0
    assert m.key_point_coverage("", ["数据中台"]) == 0.0
    assert m.key_point_coverage(answer, []) == 0.0
    assert m.missing_key_points(answer, ["数据中台", "交互中心"]) == ["交互中心"]


def test_sentence_splitting_keeps_markers() -> None:
    text = "根据资料：一是甲。[1]二是乙。[1][2]\n3.1 标题：丙[3]丁戊。"
    assert m.split_sentences(text) == [
        "根据资料：一是甲。[1]",
        "二是乙。[1][2]",
        "3.1 标题：丙[3]",
        "丁戊。",
    ]
    assert m.markers("乙。[2][1][2]") == [2, 1]
    assert m.claim_of("根据资料：一是甲[^4]。[1]") == "一是甲。"


def test_perfect_answer_is_faithful() -> None:
    answer = f"根据资料：{P_A}[1]{P_B}[2]"
    checks = m.sentence_support(answer, {1: P_A, 2: P_B})
    assert len(checks) == 2
    assert m.faithfulness(checks) == 1.0
    assert m.citation_precision(checks) == 1.0


def test_uncited_unknown_and_unsupported_sentences() -> None:
    answer = f"{P_A}[1]{P_C}[5]上海的数字化转型预算为100亿元。[1]没有标注的句子。"
    checks = m.sentence_support(answer, {1: P_A, 2: P_B})
    assert [c.supported for c in checks] == [True, False, False, False]
    assert checks[1].unknown == (5,)
    assert m.faithfulness(checks) == 0.25
    # pairs: (s1,[1]) ok, (s2,[5]) unknown, (s3,[1]) unsupported; the uncited one has none
    assert m.citation_precision(checks) == pytest.approx(1 / 3)


def test_duplicate_citations_count_once() -> None:
    answer = f"{P_A}[1][1][2]"
    checks = m.sentence_support(answer, {1: P_A, 2: P_C})
    assert checks[0].cited == (1, 2)
    assert checks[0].supported  # together the passages support it
    assert m.citation_precision(checks) == 0.5  # [2] alone does not


def test_paraphrase_with_high_bigram_recall_is_supported() -> None:
    near = "城市数字底座包含感、连、算、网、融等基础设施,构成城市数字化转型的基础底座。[1]"
    assert m.sentence_support(near, {1: P_A})[0].supported
    far = "数字底座就是城市的地基。[1]"
    assert not m.sentence_support(far, {1: P_A})[0].supported


def test_empty_answer_and_bare_lead_in() -> None:
    assert m.sentence_support("", {1: P_A}) == []
    assert m.sentence_support("根据资料：", {1: P_A}) == []
    assert m.faithfulness([]) == 0.0
    assert m.citation_precision([]) == 0.0


def test_footnote_marks_are_not_citations() -> None:
    sentence = "如杭州先后发布了1.0和2.0版本[^5],实现交通应用。[1]"
    passage = "如杭州先后发布了1.0和2.0版本[^5],实现交通应用。"
    check = m.sentence_support(sentence, {1: passage})[0]
    assert check.cited == (1,) and check.supported


def test_citation_recall() -> None:
    assert m.citation_recall([P_A, P_C], [GOLD_A, GOLD_B]) == 0.5
    assert m.citation_recall([P_A, P_A, P_B], [GOLD_A, GOLD_B]) == 1.0
    assert m.citation_recall([], [GOLD_A]) == 0.0


def test_answer_length_ignores_markers_and_spaces() -> None:
    assert m.answer_length("甲乙。[1] 丙[2]") == 4


# ----- refusal and latency ------------------------------------------------------------------
def test_refusal_metrics() -> None:
    refused = [True, False, True, False, False]
    answerable = [False, False, True, True, True]
    assert m.refusal_recall(refused, answerable) == 0.5
    assert m.false_refusal_rate(refused, answerable) == pytest.approx(1 / 3)
    assert m.refusal_recall([False], [True]) == 0.0  # no unanswerables
    assert m.false_refusal_rate([], []) == 0.0


def test_percentiles() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert m.percentile(values, 50) == 30.0
    assert m.percentile(values, 95) == pytest.approx(48.0)
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) == 0.0
    assert m.mean([]) is None
