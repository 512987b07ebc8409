"""Honest refusal: decide whether the retrieved evidence can answer the question.

Thresholds were calibrated on the answerable and unanswerable planner questions in
``tests/data/calibration.jsonl`` (see ``tests/test_refusal.py``); they are properties of the
scoring functions, not of particular questions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.query import coverage
from rag.synonyms import term_in
from rag.types import REFUSAL_TEXT, Passage

# Share of the question's IDF-weighted content terms the top passages must contain.
MIN_COVERAGE = 0.35
# Floors for the relevance (cosine blended with term coverage) of the best passage and the
# score of the best answer sentence. They only catch keyword coincidences: colloquial
# paraphrases of answerable questions score 0.23-0.30 with the bundled USE embedder, the same
# band as off-topic questions, so the coverage check and the answer types decide those.
MIN_TOP_SCORE = 0.2
MIN_SENTENCE_SCORE = 0.2
EVIDENCE_PASSAGES = 3


@dataclass(frozen=True)
class Evidence:
    refuse: bool
    reason: str
    coverage: float = 0.0
    top_score: float = 0.0
    best_sentence: float = 0.0
    missing_terms: list[str] = field(default_factory=list)
    # Question terms the passages word differently ("收钱" -> "收费"), with their wording.
    reworded: dict[str, str] = field(default_factory=dict)


# (question terms not in the passages, passages' text) -> {term: passage word wording it}
Rewordings = Callable[[list[str], str], dict[str, str]]


def assess(
    passages: list[Passage],
    weights: dict[str, float],
    missing_terms: list[str],
    best_sentence: float,
    focus: str | None = None,
    rewordings: Rewordings | None = None,
) -> Evidence:
    if not passages:
        return Evidence(True, "没有检索到任何片段")
    top = passages[:EVIDENCE_PASSAGES]
    joined = "\n".join(f"{p.context}\n{p.text}" for p in top)
    cov = coverage(weights, joined)
    reworded: dict[str, str] = {}
    if cov < MIN_COVERAGE and rewordings is not None:
        # Colloquial wording: a term counts when the passages word it in their own way.
        absent = [t for t in weights if not term_in(t, joined)]
        reworded = rewordings(absent, joined)
        total = sum(weights.values())
        if total > 0:
            cov += sum(weights[t] for t in reworded) / total
    top_score = max(p.score for p in top)
    facts = {
        "coverage": round(cov, 3),
        "top_score": round(top_score, 3),
        "best_sentence": round(best_sentence, 3),
        "missing_terms": missing_terms,
        "reworded": reworded,
    }
    if missing_terms:
        return Evidence(True, f"资料中没有出现：{'、'.join(missing_terms)}", **facts)
    if focus and not term_in(focus, joined):
        return Evidence(True, f"资料中没有关于“{focus}”的数据", **facts)
    if cov < MIN_COVERAGE:
        return Evidence(True, "检索到的片段未覆盖问题的关键词", **facts)
    if top_score < MIN_TOP_SCORE or best_sentence < MIN_SENTENCE_SCORE:
        return Evidence(True, "检索到的片段与问题相关度过低", **facts)
    return Evidence(False, "", **facts)


ASK_IN_CHINESE = (
    "资料库中的文档为中文，请用中文提问，检索与引用会准确得多。"
    "(The library's documents are in Chinese: please ask in Chinese.)"
)
_HAN = re.compile(r"[\u3400-\u9fff]")


def asks_in_chinese(question: str) -> bool:
    """Whether the question has any Chinese characters. A question in another language can
    still match a passage written in it (a paper's English abstract); when it does not, the
    refusal says to ask in Chinese rather than that the library knows nothing."""
    return bool(_HAN.search(question))


def refusal_text(passages: list[Passage], question: str = "") -> str:
    """The refusal message, listing the closest passages as 可能相关 with their markers."""
    head = [REFUSAL_TEXT] if asks_in_chinese(question) or not question else [ASK_IN_CHINESE]
    if not passages:
        return head[0]
    lines = [*head, "", "可能相关："]
    for n, p in enumerate(passages, start=1):
        where = " · ".join(x for x in (str(p.metadata.get("doc_title", "")), p.section) if x)
        lines.append(f"[{n}] {where}")
    return "\n".join(lines)
