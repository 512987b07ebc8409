"""The structure-aware Chinese chunker, on the real paper and on policy-style texts."""

from __future__ import annotations

import hashlib
import itertools
import re
import time

import pytest
from conftest import MAX_CHARS, OVERLAP_CHARS, PAPER_TITLE, split_text

from ingest.chunker import (
    ChineseStructureSplitter,
    Heading,
    Sentence,
    detect_heading,
    pack_sentences,
    parse_sections,
    sentence_spans,
)

S3 = "3 城市数字化转型六大主导路径"
S1_1 = "1 研究背景 > 1.1 我国城市数字化建设呈现“四阶段”发展趋势"

# A sentence terminator, possibly followed by closing quotes/brackets (cf. the chunker's own
# pattern, restated here so the test does not trust it).
_ENDS_SENTENCE = re.compile(r"(?:[。！？；!?;]|(?<=[a-z0-9)\]])\.)[”’」』）)】\"]*$")


# ----- the real paper ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("passage", "section"),
    [
        ("数字治理驱动路径主要是利用", f"{S3} > 3.4 数字治理驱动路径"),
        ("制度创新驱动路径主要通过率先消除", f"{S3} > 3.1 制度创新驱动路径"),
        (
            "城市数字化转型的三大维度分别是",
            "2 城市数字化转型“三维”模型 > 2.2 城市数字化转型“三维”模型",
        ),
        ("2017—2020年是城市数字化建设的第三阶段", f"{S1_1} > 1.1.3 集成推进期:服务改革、条块整合"),
        ("2008—2013年是城市数字化建设的第", f"{S1_1} > 1.1.1 概念导入期:概念辨析、局部试点"),
        (
            "推动政企协同与多方参与",
            "4 促进城市数字化发展的思考和建议 > 4.2 管理维度:推动管运分离、多方协同",
        ),
        ("摘要:城市数字化转型已成为推动", "摘要"),
        ("Abstract: The urban", "Framework and practical path of urban digital transformation"),
    ],
)
def test_known_passage_lands_in_its_section(paper_nodes, passage: str, section: str) -> None:
    holders = [n for n in paper_nodes if passage in n.text]
    assert holders, f"no chunk contains {passage!r}"
    assert {n.metadata["section"] for n in holders} == {section}
    assert {n.metadata["section_top"] for n in holders} == {section.split(" > ")[0]}


def test_document_title_is_not_part_of_section_paths(paper_nodes) -> None:
    assert all(PAPER_TITLE not in n.metadata["section"] for n in paper_nodes)
    # The author line sits under the "# <title>" heading only, so its section path is empty.
    authors = [n for n in paper_nodes if "张竞涛1 刘小林1" in n.text]
    assert [n.metadata["section"] for n in authors] == [""]


def test_paper_has_expected_chunking(paper_nodes) -> None:
    # 28 chunks at the default settings: a large change means the chunker changed behaviour.
    assert 20 <= len(paper_nodes) <= 40
    assert [n.metadata["chunk_index"] for n in paper_nodes] == list(range(len(paper_nodes)))
    assert len({n.node_id for n in paper_nodes}) == len(paper_nodes)


def test_chunk_text_is_a_verbatim_slice(paper, paper_nodes) -> None:
    for node in paper_nodes:
        start, end = node.metadata["char_start"], node.metadata["char_end"]
        assert node.text == paper.text[start:end]
        assert (node.start_char_idx, node.end_char_idx) == (start, end)
        assert node.metadata["content_hash"] == hashlib.sha1(node.text.encode()).hexdigest()


def test_no_chunk_crosses_a_top_level_section(paper, paper_nodes) -> None:
    # "## x" opens a top-level section; "# <document title>" closes it (its path is empty).
    tops = [
        (m.start(), "" if m.group(1) == "#" else m.group(2))
        for m in re.finditer(r"^(##?) (.+)$", paper.text, re.M)
    ]
    assert len(tops) >= 8
    for node in paper_nodes:
        start, end = node.metadata["char_start"], node.metadata["char_end"]
        assert not any(start < pos < end for pos, _ in tops), node.text[:40]
        before = [title for pos, title in tops if pos < start]
        assert node.metadata["section_top"] == (before[-1] if before else "")


def test_chunks_are_bounded_unless_one_sentence(paper, paper_nodes) -> None:
    for node in paper_nodes:
        start, end = node.metadata["char_start"], node.metadata["char_end"]
        if end - start > MAX_CHARS:
            assert len(list(sentence_spans(paper.text, start, end))) == 1, node.text[:40]
    # The paper has no over-long sentence, so here the bound holds for every chunk.
    assert max(len(n.text) for n in paper_nodes) <= MAX_CHARS


def test_one_overlong_sentence_may_exceed_max(splitter) -> None:
    long_sentence = "城市数字化转型" * 100 + "。"  # 701 chars, under the 2*max hard cut
    text = "## 1 总体要求\n\n坚持统筹规划。" + long_sentence + "坚持分步实施。\n"
    nodes = split_text(splitter, text)
    assert any(n.text == long_sentence for n in nodes)
    for node in nodes:
        start, end = node.metadata["char_start"], node.metadata["char_end"]
        assert end - start <= MAX_CHARS or len(list(sentence_spans(text, start, end))) == 1


def test_no_sentence_is_cut(paper, paper_nodes) -> None:
    text = paper.text
    for node in paper_nodes:
        start, end = node.metadata["char_start"], node.metadata["char_end"]
        line_start = text.rfind("\n", 0, start) + 1
        assert start == line_start or _ENDS_SENTENCE.search(text[line_start:start].rstrip()), (
            f"chunk starts mid-sentence: {text[max(0, start - 15) : start + 15]!r}"
        )
        assert end == len(text) or text[end] == "\n" or _ENDS_SENTENCE.search(node.text), (
            f"chunk ends mid-sentence: {text[end - 15 : end + 15]!r}"
        )


def test_chunks_of_each_section_cover_all_its_sentences(paper, paper_nodes) -> None:
    sections = parse_sections(paper.text, paper.title)
    assert len(sections) >= 25
    for section in sections:
        name = " > ".join(section.path)
        spans = [
            (n.metadata["char_start"], n.metadata["char_end"])
            for n in paper_nodes
            if n.metadata["section"] == name
        ]
        assert spans, f"section {name!r} has no chunk"
        for sent in section.sentences:
            assert any(s <= sent.start and sent.end <= e for s, e in spans), (
                f"sentence not covered in {name!r}: {paper.text[sent.start : sent.end][:30]!r}"
            )


def test_overlap_is_whole_sentences_and_limited(splitter) -> None:
    # One long paragraph of 40-char sentences: it must be cut, with a small overlap.
    sentences = [
        f"第{i:02d}句城市数字化转型需要统筹规划分步实施并持续评估运营效果好。" for i in range(40)
    ]
    text = "## 1 总体要求\n\n" + "".join(sentences) + "\n"
    nodes = split_text(splitter, text)
    assert len(nodes) >= 3
    for prev, nxt in itertools.pairwise(nodes):
        overlap = prev.metadata["char_end"] - nxt.metadata["char_start"]
        assert 0 < overlap <= OVERLAP_CHARS
        assert nxt.text.startswith("第") and prev.text.endswith("。")
    rebuilt = nodes[0].text + "".join(
        nxt.text[prev.metadata["char_end"] - nxt.metadata["char_start"] :]
        for prev, nxt in itertools.pairwise(nodes)
    )
    assert rebuilt == "".join(sentences)


# ----- headings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("第一章 总则", Heading(2, "第一章 总则")),
        ("第二节 组织实施", Heading(3, "第二节 组织实施")),
        ("一、总体要求", Heading(3, "一、总体要求")),
        ("（二）主要任务", Heading(4, "（二）主要任务")),
        ("1 总体要求", Heading(2, "1 总体要求")),
        ("1.1 基本原则", Heading(3, "1.1 基本原则")),
        ("1.1.3 集成推进期:服务改革、条块整合", Heading(4, "1.1.3 集成推进期:服务改革、条块整合")),
        ("## 3 城市数字化转型六大主导路径", Heading(2, "3 城市数字化转型六大主导路径")),
        ("# 某市数字化转型方案", Heading(1, "某市数字化转型方案")),
    ],
)
def test_detect_heading(line: str, expected: Heading) -> None:
    assert detect_heading(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "2024 年5月，国家发展和改革委员会等部门联合发布了指导意见。",
        "2024 年5月国家发布指导意见",
        # a long line starting with a number (no punctuation at all) is body text
        "10 个城市已经率先开展全域数字化转型试点工作并在数据要素流通和城市运行管理等方面"
        "取得了显著成效形成了一批可复制可推广的经验做法",
        "1 个平台支撑全市数字化转型，形成统一入口。",
        "第三条 为了规范城市数据管理，制定本办法。",  # an article, not a pure heading
        "一是加强统筹协调",
        "城市数字化转型是一项系统工程",
    ],
)
def test_not_a_heading(line: str) -> None:
    assert detect_heading(line) is None


POLICY = """# 某市城市数字化转型管理办法

第一章 总则

第一条 为了推进城市全域数字化转型，制定本办法。

第二条 本办法适用于本市行政区域内的数字化转型工作。

第三条 市数据局负责统筹协调。区数据局负责本区工作。

第二章 主要任务

一、总体要求

坚持统筹规划。坚持分步实施。

2024 年5月，国家发展和改革委员会等部门发布指导意见。

（一）建设数字底座

推进5G网络建设。

（二）主要任务

建设城市大脑中枢系统。

第三章 附则

第四条 本办法自发布之日起施行。
"""


def test_policy_sections_and_articles() -> None:
    sections = {
        " > ".join(s.path): [POLICY[x.start : x.end] for x in s.sentences]
        for s in parse_sections(POLICY, "某市城市数字化转型管理办法")
    }
    assert sections == {
        "第一章 总则 > 第一条": ["第一条 为了推进城市全域数字化转型，制定本办法。"],
        "第一章 总则 > 第二条": ["第二条 本办法适用于本市行政区域内的数字化转型工作。"],
        "第一章 总则 > 第三条": ["第三条 市数据局负责统筹协调。", "区数据局负责本区工作。"],
        "第二章 主要任务 > 一、总体要求": [
            "坚持统筹规划。",
            "坚持分步实施。",
            "2024 年5月，国家发展和改革委员会等部门发布指导意见。",
        ],
        "第二章 主要任务 > 一、总体要求 > （一）建设数字底座": ["推进5G网络建设。"],
        "第二章 主要任务 > 一、总体要求 > （二）主要任务": ["建设城市大脑中枢系统。"],
        "第三章 附则 > 第四条": ["第四条 本办法自发布之日起施行。"],
    }


def test_article_text_is_kept_in_its_chunk(splitter) -> None:
    nodes = split_text(splitter, POLICY, "某市城市数字化转型管理办法")
    by_section = {n.metadata["section"]: n.text for n in nodes}
    assert by_section["第一章 总则 > 第三条"] == (
        "第三条 市数据局负责统筹协调。区数据局负责本区工作。"
    )
    assert by_section["第三章 附则 > 第四条"].startswith("第四条 本办法")
    assert all(
        n.metadata["section_top"] in ("第一章 总则", "第二章 主要任务", "第三章 附则")
        for n in nodes
    )


def test_markdown_headings_nest() -> None:
    text = (
        "# 标题\n\n## 1 总则\n\n### 1.1 目标\n\n建设数字底座。\n\n## 2 任务\n\n推进数据要素流通。\n"
    )
    paths = [s.path for s in parse_sections(text, "标题")]
    assert paths == [("1 总则", "1.1 目标"), ("2 任务",)]


# ----- degenerate input -------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", " ", "\n\n\n", " \u3000\n\t\n  "])
def test_empty_document_gives_no_nodes(splitter, text: str) -> None:
    assert parse_sections(text) == []
    assert split_text(splitter, text) == []


def test_headings_only_document_gives_no_nodes(splitter) -> None:
    assert split_text(splitter, "# 标题\n\n## 1 总则\n\n### 1.1 目标\n") == []


def test_huge_run_on_text_is_bounded_and_fast() -> None:
    splitter = ChineseStructureSplitter(min_chars=150, max_chars=MAX_CHARS, overlap_chars=100)
    text = "城市数字化转型" * 30_000  # 210k characters, no punctuation, no line break
    started = time.perf_counter()
    nodes = split_text(splitter, text)
    assert time.perf_counter() - started < 10
    assert max(len(n.text) for n in nodes) <= 2 * MAX_CHARS
    # Contiguous and complete: the pieces tile the whole text.
    assert nodes[0].metadata["char_start"] == 0 and nodes[-1].metadata["char_end"] == len(text)
    for prev, nxt in itertools.pairwise(nodes):
        assert nxt.metadata["char_start"] == prev.metadata["char_end"]


def test_run_on_sentence_is_cut_at_commas(splitter) -> None:
    clause = "推进城市数字化转型" * 3  # 27 chars
    text = "，".join([clause] * 80) + "。"  # about 2.2k chars in one "sentence"
    nodes = split_text(splitter, text)
    assert len(nodes) >= 3
    assert all(len(n.text) <= 2 * MAX_CHARS for n in nodes)
    assert all(n.text.endswith(("，", "。")) for n in nodes)
    assert "".join(n.text for n in nodes) == text


def test_pack_sentences_merges_a_short_tail() -> None:
    sents = [
        Sentence(0, 300, True, 300),
        Sentence(301, 600, True, 700),
        Sentence(600, 700, False, 700),
    ]
    packed = pack_sentences(sents, min_chars=150, max_chars=500, overlap_chars=100)
    assert [[(s.start, s.end) for s in group] for group in packed] == [
        [(0, 300)],
        [(301, 600), (600, 700)],
    ]


def test_pdf_page_numbers_from_page_starts(splitter) -> None:
    page1 = "## 1 总则\n\n" + "第一页的句子。" * 40
    page2 = "第二页接着讲总则。" * 30  # same section, starts a new chunk right at the page
    page3 = "## 2 任务\n\n" + "第三页的句子。" * 10
    text = "\n\n".join([page1, page2, page3])
    starts = [0, len(page1) + 2, len(page1) + len(page2) + 4]
    nodes = split_text(splitter, text, page_starts=starts)
    pages = [
        (n.metadata["section"], n.metadata["page"], n.metadata["page_end"], n.text[:3])
        for n in nodes
    ]
    assert pages == [
        ("1 总则", 1, 1, "第一页"),
        ("1 总则", 2, 2, "第二页"),
        ("2 任务", 3, 3, "第三页"),
    ]
    assert nodes[1].metadata["char_start"] == starts[1]
    assert all("page_starts" not in n.metadata for n in nodes)
