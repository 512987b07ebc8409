"""Unit selection of the extractive answerer, on hand-made scored units (no embedder)."""

from __future__ import annotations

import pytest

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


def _units_of(text: str, best: str) -> list[Unit]:
    """Units of one passage, as the answerer splits it; ``best`` scores highest."""
    from rag.extractive import units_with_leads

    units = []
    for i, (unit, lead) in enumerate(units_with_leads(text)):
        u = Unit(unit, 0, i, 0.9 if best in unit else 0.2, None, ("doc", "§"), (0, i))
        u.opens_paragraph = not lead
        units.append(u)
    return units


def _select_text(question: str, text: str, best: str) -> list[str]:
    answerer = ExtractiveAnswerer(embed_model=None)  # type: ignore[arg-type]
    return [u.text for u in answerer.select(question, _units_of(text, best))]


def test_a_legal_article_announcing_its_items_gets_every_item() -> None:
    """ "符合下列条件的…：" then （一）…（五）: a regulation's list of conditions, whole."""
    article = (
        "第九条 申请开放数据，同时符合下列条件的，予以批准：\n（一）申请人已登记；\n"
        "（二）用途明确；\n（三）具备安全保护能力；\n（四）承诺不转让。\n"
        "第十条 开放平台由市数据部门建设。"
    )
    picked = _select_text("申请开放数据要符合哪些条件？", article, "符合下列条件")
    assert picked[0].startswith("第九条") and len(picked) == 5
    assert picked[-1] == "（四）承诺不转让。"


def test_unnumbered_parallel_paragraphs_are_a_list() -> None:
    """A policy's principles, one paragraph each, opening alike ("坚持…。"), are all listed;
    a paper-style paragraph that only opens the same way once is not."""
    principles = (
        "坚持统筹规划、分步实施。先行先试，逐步推广到全市。\n"
        "坚持需求牵引、应用为先。围绕群众办事的难点推进建设。\n"
        "坚持安全可控、开放合作。落实数据分类分级保护制度。\n"
        "坚持改革创新、协同推进。健全跨部门工作机制。"
    )
    picked = _select_text("方案确立了哪几条基本原则？", principles, "围绕群众")
    leads = [p for p in picked if p.startswith("坚持")]
    assert len(leads) == 4
    prose = "坚持问题导向。城市大脑建设要从需求出发。\n平台建设应当统一标准。坚持集约建设。"
    assert _select_text("有哪些要求？", prose, "需求出发") == ["城市大脑建设要从需求出发。"]


def test_a_long_list_keeps_every_item_before_explanations() -> None:
    """Twelve items with long explanations: every item is kept, explanations only while the
    list budget allows (a list is never cut short for the sake of one item's detail)."""
    detail = (
        "具体措施包括加强统筹协调、完善配套政策、强化资金保障、开展评估考核等多个方面的工作内容。"
        * 2
    )
    text = (
        "重点领域包括以下方面：\n"
        + "\n".join(f"（{n}）领域{n}建设。{detail}" for n in "一二三四五六七八九十")
        + "\n（十一）领域十一建设。\n（十二）领域十二建设。"
    )
    picked = _select_text("重点领域包括哪些？", text, "重点领域包括")
    for n in ["一", "五", "十", "十一", "十二"]:
        assert f"（{n}）领域{n}建设。" in picked


def test_stored_sentence_vectors_are_used_and_only_the_rest_embedded() -> None:
    import numpy as np

    from rag.types import Passage

    embedded: list[str] = []

    class RecordingEmbedder:
        def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
            embedded.extend(texts)
            return [[0.0, 1.0] for _ in texts]

    def stored(wanted):  # the index holds the first unit of each passage
        return {(cid, pos): np.array([1.0, 0.0]) for cid, pos, _ in wanted if pos == 0}

    answerer = ExtractiveAnswerer(RecordingEmbedder(), stored=stored)  # type: ignore[arg-type]
    passages = [Passage("a", "第一句很长的话。第二句。", {}), Passage("b", "另一句话。短。", {})]
    answerer.prefetch(passages)
    assert embedded == ["第二句。", "短。"]  # one batch for both passages, stored ones skipped
    pairs, vectors = answerer.units(passages[0])
    assert [u for u, _ in pairs] == ["第一句很长的话。", "第二句。"]
    assert vectors.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_stored_vectors_match_the_embedder_on_two_kinds_of_document(corpus_index) -> None:
    """What ingest stored is what the answerer would compute (the paper and a policy text)."""
    import numpy as np

    from rag.extractive import units_with_leads

    assistant = corpus_index.assistant
    store = assistant.store
    for question in ("数字底座包括哪些内容？", "公共数据授权运营有什么要求？"):
        passages = assistant.retrieve(question, top_k=3)
        wanted = [
            (p.id, i, unit)
            for p in passages
            for i, (unit, _) in enumerate(units_with_leads(p.text))
        ]
        found = store.stored_sentence_vectors(wanted)
        assert found, question
        for (cid, pos), vector in found.items():
            unit = next(u for c, i, u in wanted if (c, i) == (cid, pos))
            fresh = np.asarray(assistant.embed_model.get_text_embedding(unit), np.float32)
            assert float(vector @ fresh) == pytest.approx(1.0, abs=1e-4)
        # A unit whose text differs from the stored sentence is never given its vector.
        cid, pos, _ = wanted[0]
        assert store.stored_sentence_vectors([(cid, pos, "别的句子。")]) == {}
        # Best-sentence cosines by sentence id agree with a scan of the stored vectors.
        query = assistant.embed_model.get_query_embedding(question)
        ids = [p.id for p in passages]
        got = store.sentences.get(
            where={"chunk_id": {"$in": ids}}, include=["embeddings", "metadatas"]
        )
        scan: dict[str, float] = {}
        for meta, vec in zip(got["metadatas"], got["embeddings"], strict=True):
            cos = float(np.dot(vec, query))
            scan[meta["chunk_id"]] = max(scan.get(meta["chunk_id"], -1.0), cos)
        assert store.sentence_cosines(query, ids) == pytest.approx(scan)
