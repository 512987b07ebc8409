"""Answering on the real paper index: retrieval, filters, extractive answers, refusal, API."""

from __future__ import annotations

import json

import pytest

from rag.errors import InvalidInputError
from rag.types import REFUSAL_TEXT
from rag.verify import MARKER, claim_text, split_answer_sentences


@pytest.fixture
def assistant(corpus_index):
    return corpus_index.assistant


def test_three_dimensions_answer_cites_section_2_2(assistant) -> None:
    answer = assistant.ask("城市数字化转型包括哪三个维度？")
    assert not answer.refused
    for name in ("技术维度", "业务维度", "管理维度"):
        assert name in answer.text
    assert any("2.2" in c.section for c in answer.citations)
    assert answer.faithfulness == 1.0


def test_every_extractive_sentence_is_verbatim_and_cited(assistant) -> None:
    answer = assistant.ask("数据要素驱动路径主要包含哪些内容？")
    by_n = {c.n: c for c in answer.citations}
    sentences = split_answer_sentences(answer.text)
    assert sentences
    for sentence in sentences:
        claim = claim_text(sentence)
        if not claim:
            continue  # the fixed lead-in
        numbers = [int(n) for n in MARKER.findall(sentence)]
        assert numbers, sentence
        if claim.startswith("【"):  # a section heading line
            assert all(claim.strip("【】") in by_n[n].section for n in numbers), sentence
            continue
        assert any(claim in by_n[n].text for n in numbers), sentence


def test_extracts_stand_under_their_section_heading(assistant) -> None:
    """The heading often names what was asked: Qingdao's cases stand under 3.2, Hangzhou's
    under 3.4; each heading appears once, right before its section's sentences."""
    answer = assistant.ask("青岛和杭州的案例分别对应论文中的哪条主导路径？")
    assert not answer.refused and answer.faithfulness == 1.0
    text = answer.text
    assert text.count("【3.2 数字底座驱动路径】") == 1
    assert text.count("【3.4 数字治理驱动路径】") == 1
    assert text.index("【3.2") < text.index("青岛") < text.index("【3.4") < text.index("杭州")


def test_a_biography_is_answered_with_the_name_above_it(assistant) -> None:
    answer = assistant.ask("作者里谁研究数字孪生和数据要素？是什么职称？")
    assert "张竞涛：中国信息通信研究院产业与规划研究所工程师" in answer.text
    assert answer.faithfulness == 1.0


def test_list_question_keeps_the_enumeration_whole(assistant) -> None:
    answer = assistant.ask("数据要素驱动路径主要包含哪些内容？")
    assert "一是推进数据要素市场化配置改革" in answer.text
    assert "二是以多跨场景为抓手深化数据利用" in answer.text


def test_outline_question_lists_the_six_paths(assistant) -> None:
    answer = assistant.ask("城市数字化转型有哪六条主导路径？")
    for name in (
        "制度创新驱动",
        "数字底座驱动",
        "数据要素驱动",
        "数字治理驱动",
        "特色产业驱动",
        "数字生活驱动",
    ):
        assert name in answer.text
    assert len(answer.citations) == 6
    assert answer.faithfulness == 1.0


def test_colloquial_outline_question_lists_every_stage(assistant) -> None:
    """ "这些年走过了哪几个阶段" asks for what heading 1.1 ("“四阶段”") lists, although its
    other words ("这些年", "走过") are in no heading."""
    answer = assistant.ask("这些年我国城市数字化建设大致走过了哪几个阶段？")
    for stage in ("概念导入期", "条线建设期", "集成推进期", "全域数字化转型期"):
        assert stage in answer.text
    assert len(answer.citations) == 4 and answer.faithfulness == 1.0


def test_path_filter_restricts_citations(assistant) -> None:
    answer = assistant.ask("有哪些具体做法？", path="governance")
    passages = assistant.retrieve("有哪些具体做法？", path="数字治理驱动", top_k=5)
    assert passages
    assert all("数字治理驱动" in p.names("paths") for p in passages)
    assert all("数字治理驱动" in c.paths for c in answer.citations)


def test_dimension_filter_accepts_chinese_and_alias(assistant) -> None:
    by_name = assistant.retrieve("运营模式", dimension="管理", top_k=3)
    by_alias = assistant.retrieve("运营模式", dimension="management", top_k=3)
    assert [p.id for p in by_name] == [p.id for p in by_alias]
    assert all("管理" in p.names("dimensions") for p in by_name)


def test_unknown_filter_lists_valid_values(assistant) -> None:
    with pytest.raises(InvalidInputError) as info:
        assistant.ask("问题", path="交通驱动")
    assert "数字治理驱动" in str(info.value) and "governance" in str(info.value)


@pytest.mark.parametrize(
    "question",
    ["深圳市2023年城市数字化转型的财政投入是多少？", "字节跳动为成都公园城市提供了哪些技术支持？"],
)
def test_out_of_corpus_question_is_refused(assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.refused
    assert answer.text.startswith(REFUSAL_TEXT)
    assert "可能相关" in answer.text
    assert answer.citations  # the closest passages are listed


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", None, "问" * 2001])
def test_invalid_questions_are_rejected(assistant, bad) -> None:
    with pytest.raises(InvalidInputError):
        assistant.ask(bad)


def test_top_k_is_validated(assistant) -> None:
    with pytest.raises(InvalidInputError):
        assistant.retrieve("数据要素", top_k=0)


def test_answer_json_schema(assistant) -> None:
    data = assistant.ask("技术维度包含哪些层级？", id="q1").to_dict()
    json.dumps(data, ensure_ascii=False)
    assert list(data) == [
        "id",
        "question",
        "answer",
        "refused",
        "faithfulness",
        "citations",
        "timings_ms",
        "relevance",
        "low_relevance",
    ]
    assert set(data["timings_ms"]) == {"retrieve", "answer", "total"}
    citation = data["citations"][0]
    assert list(citation) == [
        "n",
        "doc_title",
        "source",
        "section",
        "page",
        "text",
        "score",
        "dimensions",
        "paths",
        "doc_number",
        "issuers",
        "doc_type",
        "date",
        "article",
        "item",
        "label",
    ]
    assert citation["text"] in (assistant.store.chunks()[c].text for c in assistant.store.chunks())


def test_retrieval_deduplicates_overlapping_passages(assistant) -> None:
    passages = assistant.retrieve("城市数字化转型面临哪些挑战", top_k=10)
    keys = [(p.doc_id, p.metadata["char_start"]) for p in passages]
    assert len(keys) == len(set(keys))
    for i, a in enumerate(passages):
        for b in passages[i + 1 :]:
            if a.doc_id == b.doc_id:
                overlap = min(a.metadata["char_end"], b.metadata["char_end"]) - max(
                    a.metadata["char_start"], b.metadata["char_start"]
                )
                assert overlap < 0.6 * min(len(a.text), len(b.text))


def test_stream_yields_the_answer_text(assistant) -> None:
    pieces = list(assistant.stream("管理维度包括哪些环节？"))
    assert "".join(pieces) == assistant.ask("管理维度包括哪些环节？").text


def test_models_are_loaded_once(assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.embeddings

    def fail(*args, **kwargs):
        raise AssertionError("an embedder was rebuilt for a question")

    monkeypatch.setattr(rag.embeddings, "build_embedder", fail)
    monkeypatch.setattr(rag.embeddings.UseM3Embedding, "__init__", fail)
    assistant.ask("城市核心平台由什么组成？")
    assistant.ask("城市应用场景分为哪几类？")


def test_the_papers_reference_marks_stay_out_of_answers(assistant) -> None:
    """The paper's own ``[^4]`` marks are the source's, not the answer's citations: the answer
    and its checked sentences drop them; the cited passage keeps them verbatim."""
    answer = assistant.ask("上海成立了什么来统筹推进城市数字化转型工作？")
    assert not answer.refused and "领导小组" in answer.text
    assert "[^" not in answer.text and all("[^" not in s.text for s in answer.sentences)
    assert any("[^4]" in c.text for c in answer.citations)
    assert answer.faithfulness == 1.0


def test_a_question_in_english_that_finds_nothing_is_told_to_ask_in_chinese(assistant) -> None:
    from rag.refusal import ASK_IN_CHINESE

    answer = assistant.ask("Which ministry approves the city budget every year?")
    assert answer.refused and answer.text.startswith(ASK_IN_CHINESE)
    assert answer.refusal_reason == "问题不是中文"
    chinese = assistant.ask("青岛市的地铁票价是多少钱？")
    assert chinese.refused and chinese.text.startswith(REFUSAL_TEXT)


def test_heading_lines_are_checked_but_not_counted_as_claims(assistant) -> None:
    from ui.render import badge_text

    answer = assistant.ask("上海成立了什么来统筹推进城市数字化转型工作？")
    labels = [s for s in answer.sentences if s.label]
    assert labels and all(s.text.startswith("【") for s in labels)
    assert labels[0].supported  # the heading is its passage's own section
    claims = len(answer.sentences) - len(labels)
    assert f"（{claims}/{claims} 句有引文支持）" in badge_text(answer)


def test_answers_carry_their_relevance_and_the_json_shows_it(library_index) -> None:
    """Relevance is the best answer sentence's score (paper, policy and regulation answers);
    a refusal has none but says why, in the JSON too."""
    assistant = library_index.assistant
    for question in (
        "城市数字化转型包括哪三个维度？",
        "数据二十条对数据产权怎么规定？",
    ):
        answer = assistant.ask(question)
        assert not answer.refused
        assert answer.relevance is not None and 0.0 < answer.relevance <= 1.0
        out = answer.to_dict()
        assert out["relevance"] == round(answer.relevance, 4)
        assert out["low_relevance"] is (answer.relevance < assistant.settings.low_relevance)
    refused = assistant.ask("深圳地铁14号线的造价是多少？")
    assert refused.refused and refused.relevance is None
    assert refused.to_dict()["refusal_reason"] == refused.refusal_reason != ""
    assert "relevance" not in refused.to_dict()


def test_a_low_relevance_answer_is_not_shown_with_the_green_badge() -> None:
    from rag.types import Answer
    from ui.render import badge_class, badge_text

    answer = Answer("先干哪块？", "根据资料：……[1]", [], False, 1.0, relevance=0.12)
    assert badge_class(answer) == "cq-good"
    answer.low_relevance = True
    assert badge_class(answer) == "cq-warn"
    assert badge_text(answer).startswith("相关度低（12%）")
