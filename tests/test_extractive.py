"""Unit selection of the extractive answerer, on hand-made scored units (no embedder)."""

from __future__ import annotations

from rag.extractive import ExtractiveAnswerer, Unit, split_units


def _units(texts: list[str], scores: list[float]) -> list[Unit]:
    group = ("doc", "§1")
    return [
        Unit(text, 0, i, score, None, group, (0, i))
        for i, (text, score) in enumerate(zip(texts, scores, strict=True))
    ]


def _select(question: str, texts: list[str], scores: list[float]) -> list[str]:
    answerer = ExtractiveAnswerer(embed_model=None)  # type: ignore[arg-type]
    return [u.text for u in answerer.select(question, _units(texts, scores))]


def test_short_item_heading_brings_its_explanation() -> None:
    texts = [
        "三是研究制定设计方法与标准规范。",
        "通过规划编制指南、制定标准等方式,逐步健全规范体系。",
        "另一段无关的话。",
    ]
    assert _select("怎样推进标准规范建设？", texts, [0.9, 0.3, 0.1]) == texts[:2]


def test_short_sentence_brings_the_sentence_that_goes_on_about_it() -> None:
    texts = ["2014—2016年是第二阶段,即条线建设期。", "这一阶段聚焦开展顶层设计。", "其他。"]
    assert _select("条线建设期的特点是什么？", texts, [0.9, 0.3, 0.1]) == texts[:2]


def test_announced_items_follow_their_announcement() -> None:
    texts = ["提出了三大核心观点。", "一是明确内涵特征;", "二是总结六大路径;", "三是提出三点建议。"]
    picked = _select("论文给出的答案是什么？", texts, [0.9, 0.2, 0.2, 0.2])
    assert picked == texts


def test_a_long_sentence_stands_alone() -> None:
    long = "城市数字化转型是指综合运用信息与通信技术、公共资源和政策工具,实现城市发展新形态的过程。"
    texts = [long, "这一概念强调系统集成。"]
    assert _select("概念是什么？", texts, [0.9, 0.1]) == [long]


def test_a_short_label_paragraph_heads_the_next_one() -> None:
    """A name above a biography is not an answer unit of its own; it heads the biography."""
    text = "张竞涛\n\n中国信息通信研究院工程师。长期从事数字孪生研究。\n刘小林\n高级工程师。"
    assert split_units(text) == [
        "张竞涛：中国信息通信研究院工程师。",
        "长期从事数字孪生研究。",
        "刘小林：高级工程师。",
    ]
    # A last line has nothing to head; a line with punctuation is a sentence, not a label.
    assert split_units("正文。\n附录") == ["正文。", "附录"]
    # An enumeration item without a full stop is an item, not a label.
    assert split_units("一是技术维度\n正文。") == ["一是技术维度", "正文。"]


def test_sentence_vector_cache_is_bounded() -> None:
    """A long-running server sees ever new passages; the least recently used are dropped."""
    import numpy as np

    from rag.types import Passage

    class CountingEmbedder:
        calls = 0

        def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
            CountingEmbedder.calls += 1
            return [list(np.ones(4)) for _ in texts]

    answerer = ExtractiveAnswerer(CountingEmbedder(), cache_size=2)  # type: ignore[arg-type]
    passages = [Passage(f"c{i}", f"第{i}句。", {}) for i in range(3)]
    for p in (passages[0], passages[1], passages[0], passages[2]):
        answerer.units(p)
    assert CountingEmbedder.calls == 3  # the second c0 was a cache hit
    assert list(answerer._cache) == ["c0", "c2"]  # c1 was least recently used
