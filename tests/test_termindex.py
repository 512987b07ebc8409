"""The character index answers exactly what a scan of the corpus answers."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from rag.synonyms import term_in
from rag.termindex import TermIndex

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _scan_occurs(term: str, text: str) -> bool:
    """The scan the index replaces (the corpus as one string)."""
    if term in text or term.lower() in text.lower():
        return True
    if len(term) < 3 or not re.fullmatch(r"[\u4e00-\u9fff]+", term):
        return False
    return re.search(".{0,3}".join(map(re.escape, term)), text) is not None


def _paragraphs(path: Path) -> list[str]:
    return [p.strip() for p in path.read_text("utf-8").split("\n\n") if p.strip()]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    # Two kinds of document: the research paper and a national policy text.
    paper = next(CORPUS.glob("*.md"))
    policy = sorted((CORPUS / "policies").glob("关于*.md"))[0]
    return _paragraphs(paper) + _paragraphs(policy) + ["AI Agent 与 GPU 集群", "", "　"]


def _probe_terms(texts: list[str]) -> list[str]:
    rng = random.Random(7)
    joined = "".join(texts)
    terms = []
    for _ in range(300):  # substrings of the corpus, one to eight characters
        start = rng.randrange(len(joined) - 8)
        terms.append(joined[start : start + rng.randint(1, 8)])
    terms += ["数据要素", "数字底座", "城市大脑|城市运行管理平台", "ai", "AI", "Gpu", "agent"]
    terms += ["深圳", "字节跳动", "信通院", "数底座", "量子引力", "2025年", "x", "〔2024〕"]
    return terms


def test_document_frequency_matches_a_scan(texts: list[str]) -> None:
    index = TermIndex(texts)
    for term in _probe_terms(texts):
        expected = sum(1 for text in texts if term_in(term, text))
        assert index.document_frequency(term) == expected, term


def test_occurs_matches_a_scan_including_titles(texts: list[str]) -> None:
    titles = ["上海市数据条例", "信息通信研究院年报"]
    index = TermIndex(texts, titles)
    corpus = "\n".join([*texts, *titles])
    for term in [*_probe_terms(texts), "上海", "信通院", "上海数据条例", "海市"]:
        assert index.occurs(term) is _scan_occurs(term, corpus), term
        assert index.contains(term) is (term in corpus), term
    # Titles are searched but never counted as chunks.
    assert index.n == len(texts)
    assert index.document_frequency("上海市数据条例") == 0


def test_empty_and_whitespace_corpus() -> None:
    for texts in ([], [""], ["   ", "\n"]):
        index = TermIndex(texts)
        assert index.document_frequency("数据") == 0
        assert not index.occurs("数据")
        assert not index.contains("数据")
    assert TermIndex(["数据"]).occurs("")  # nothing asked: nothing is missing


def test_saved_index_is_used_only_for_the_same_texts(texts: list[str], tmp_path: Path) -> None:
    ids = [f"c{i}" for i in range(len(texts))]
    TermIndex(texts, ["上海市数据条例"]).save(tmp_path / "terms", ids)
    by_id = dict(zip(ids, texts, strict=True))
    loaded = TermIndex.load(tmp_path / "terms", by_id)
    assert loaded is not None and loaded.n == len(texts)
    for term in ("数据要素", "上海", "数字底座", "AI"):
        assert loaded.document_frequency(term) == TermIndex(texts).document_frequency(term)
        assert loaded.occurs(term)
    # Another chunk set, or the same ids with changed text: never the stale postings.
    assert TermIndex.load(tmp_path / "terms", {**by_id, "extra": "新片段"}) is None
    assert TermIndex.load(tmp_path / "terms", {**by_id, ids[0]: "改过的文字"}) is None
    assert TermIndex.load(tmp_path / "missing", by_id) is None
    (tmp_path / "terms" / "texts.json").write_text("{", "utf-8")  # damaged
    assert TermIndex.load(tmp_path / "terms", by_id) is None


def test_texts_without_case_are_not_copied_to_be_lowered() -> None:
    index = TermIndex(["城市数字化转型", "AI Agent 与 GPU 集群"])
    assert index._lower[0] is index.texts[0]  # Chinese has no case: the text itself
    assert index._lower[1] == "ai agent 与 gpu 集群"
    assert index.occurs("gpu") and index.contains("GPU") and not index.contains("gpu")
