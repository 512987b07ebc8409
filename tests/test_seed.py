"""Tests for the seed cleaner (ingest/seed.py), the seed corpus file and taxonomy.yaml."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = REPO_ROOT.parent / "shared/seed/000_04338ddd5d35a0cd.txt"
CORPUS_FILE = REPO_ROOT / "corpus" / "城市数字化转型总体架构和实践路径研究.md"
TAXONOMY_FILE = REPO_ROOT / "corpus" / "taxonomy.yaml"
TITLE = "城市数字化转型总体架构和实践路径研究"

needs_seed = pytest.mark.skipif(
    not SEED_FILE.is_file(),
    reason=f"raw seed export not available at {SEED_FILE} (shared/seed is outside the repo)",
)


def _load_seed_module() -> ModuleType:
    """Import ingest.seed, falling back to loading it by path when not on sys.path."""
    try:
        return importlib.import_module("ingest.seed")
    except ModuleNotFoundError:
        spec = importlib.util.spec_from_file_location("ingest.seed", REPO_ROOT / "ingest/seed.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look the module up here
        spec.loader.exec_module(module)
        return module


seed = _load_seed_module()


def _footnotes(text: str) -> str:
    """The expected rewrite of the paper's reference markers."""
    return re.sub(r"\[(\d+)\]", r"[^\1]", text)


@pytest.fixture(scope="module")
def corpus() -> str:
    return CORPUS_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def raw() -> str:
    return SEED_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def taxonomy() -> dict:
    return yaml.safe_load(TAXONOMY_FILE.read_text(encoding="utf-8"))


# --- the cleaner on a small synthetic export (no seed needed) ------------------------------

SYNTHETIC_RAW = """大数跨境
0
0

专题丨测试论文标题

专题丨测试论文标题 测试公众号
2024-01-02
0
导读:甲,乙
※ \u00a0口号 \u00a0※


作者简介

\u00a0甲

某研究所工程师。


论文引用格式:

甲, 乙. 测试论文标题[J]. 测试期刊, 2024, 1(2): 3-4.


测试论文标题


甲1\u00a0 乙2


1.某研究所,北京 100000;


摘要:这是摘要[1]。

关键词:测试


0\u00a0 引言


引言正文,含逗号[2]。\t\x20



1\u00a0 背景

1.1\u00a0 小节

1.1.1 \u00a0细节

细节正文。

来源:某研究所

图1\u00a0 \u00a0示意图


Title in English

Abstract:\u00a0Text.



本文刊于《测试期刊》

主办:某研究院

推荐阅读
“在看”我吗?
【声明】内容源于网络
粉丝 0
"""

SYNTHETIC_MARKDOWN = """---
title: 测试论文标题
authors: [甲, 乙]
journal: 测试期刊
year: 2024
volume: 1
issue: 2
pages: 3-4
citation: "甲, 乙. 测试论文标题[J]. 测试期刊, 2024, 1(2): 3-4."
source: 微信公众号“测试公众号”2024-01-02 推文（原始导出见 shared/seed）
note: 原文参考文献标注以 [^n] 表示；导出中缺少参考文献列表。
---

# 测试论文标题

甲1 乙2

1.某研究所,北京 100000;

## 作者简介

甲

某研究所工程师。

## 摘要

摘要:这是摘要[^1]。

关键词:测试

## 0 引言

引言正文,含逗号[^2]。

## 1 背景

### 1.1 小节

#### 1.1.1 细节

细节正文。

来源:某研究所

图1 示意图

## Title in English

Abstract: Text.
"""


def test_cleaner_on_synthetic_export() -> None:
    assert seed.clean_wechat_export(SYNTHETIC_RAW) == SYNTHETIC_MARKDOWN


def test_cleaner_accepts_crlf_line_ends() -> None:
    crlf = SYNTHETIC_RAW.replace("\n", "\r\n")
    assert seed.clean_wechat_export(crlf) == SYNTHETIC_MARKDOWN


def test_cleaner_rejects_export_without_citation() -> None:
    with pytest.raises(ValueError):
        seed.clean_wechat_export("大数跨境\n0\n只是一段文字。\n")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0 引言", "## 0 引言"),
        ("3.4 数字治理驱动路径", "### 3.4 数字治理驱动路径"),
        (
            "1.1.4 全域数字化转型期:场景驱动、制度创新",
            "#### 1.1.4 全域数字化转型期:场景驱动、制度创新",
        ),
        ("2008—2013年是城市数字化建设的第一阶段。", "2008—2013年是城市数字化建设的第一阶段。"),
        ("1.中国信息通信研究院产业与规划研究所,北京 100191;", None),
        ("5 个城市开展试点。", None),
    ],
)
def test_to_heading(line: str, expected: str | None) -> None:
    assert seed.to_heading(line) == (line if expected is None else expected)


# --- the generated corpus file ------------------------------------------------------------


@needs_seed
def test_corpus_file_is_up_to_date(corpus: str, raw: str) -> None:
    assert corpus == seed.clean_wechat_export(raw), "regenerate with: python -m ingest.seed"


@needs_seed
def test_main_writes_cleaned_file(tmp_path: Path, raw: str) -> None:
    out = tmp_path / "sub" / "paper.md"
    assert seed.main([str(SEED_FILE), str(out)]) == 0
    assert out.read_bytes() == seed.clean_wechat_export(raw).encode("utf-8")


def test_main_reports_missing_source(tmp_path: Path) -> None:
    assert seed.main([str(tmp_path / "missing.txt"), str(tmp_path / "out.md")]) == 2
    assert not (tmp_path / "out.md").exists()


def test_corpus_file_format() -> None:
    data = CORPUS_FILE.read_bytes()
    text = data.decode("utf-8")
    assert b"\r" not in data
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\n\n\n" not in text
    assert not [line for line in text.split("\n") if line != line.strip()]
    assert not re.search(r"[\u00a0\u3000\u2000-\u200d\u202f\ufeff\t]", text)


def test_front_matter(corpus: str) -> None:
    assert corpus.startswith("---\n")
    block = corpus.split("\n---\n", 1)[0].removeprefix("---\n")
    meta = yaml.safe_load(block)
    assert meta["title"] == TITLE
    assert meta["authors"] == ["张竞涛", "刘小林", "肖丽", "刘梦", "王瑜", "周旗"]
    assert meta["journal"] == "信息通信技术与政策"
    assert (meta["year"], meta["volume"], meta["issue"], meta["pages"]) == (2024, 50, 9, "2-7")
    assert meta["citation"] == (
        "张竞涛, 刘小林, 肖丽, 等. 城市数字化转型总体架构和实践路径研究[J]. "
        "信息通信技术与政策, 2024, 50(9): 2-7."
    )
    assert "2024-11-13" in meta["source"]
    assert "[^n]" in meta["note"]


@pytest.mark.parametrize(
    "heading",
    [
        f"# {TITLE}",
        "## 作者简介",
        "## 摘要",
        "## 0 引言",
        "## 1 研究背景",
        "### 1.1 我国城市数字化建设呈现“四阶段”发展趋势",
        "#### 1.1.1 概念导入期:概念辨析、局部试点",
        "#### 1.1.4 全域数字化转型期:场景驱动、制度创新",
        "## 2 城市数字化转型“三维”模型",
        "### 3.4 数字治理驱动路径",
        "### 4.2 管理维度:推动管运分离、多方协同",
        "## 5 结束语",
        "## Framework and practical path of urban digital transformation",
    ],
)
def test_heading_present(corpus: str, heading: str) -> None:
    assert heading in corpus.split("\n")


SECTION_NUMBERS = [
    *("0", "1", "1.1", "1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.2", "1.3"),
    *("2", "2.1", "2.2"),
    *("3", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6"),
    *("4", "4.1", "4.2", "4.3"),
    "5",
]


def test_numbered_headings_in_order_and_at_depth(corpus: str) -> None:
    found = re.findall(r"^(#+) (\d+(?:\.\d+)*) ", corpus, flags=re.M)
    for hashes, number in found:
        assert len(hashes) == number.count(".") + 2, number
    assert [number for _, number in found] == SECTION_NUMBERS


def test_section_order(corpus: str) -> None:
    markers = ["# 城市", "张竞涛1 刘小林1", "## 作者简介", "## 摘要", "## 0 引言", "## 5 结束语"]
    positions = [corpus.index(marker) for marker in markers]
    assert positions == sorted(positions)
    assert corpus.index("## Framework") > positions[-1]


@pytest.mark.parametrize(
    "junk",
    [
        "大数跨境",
        "在看",
        "【声明】",
        "投稿指南",
        "粉丝",
        "总阅读",
        "推荐阅读",
        "本文刊于",
        "主办",
        "期刊荣誉",
        "论文引用格式",
        "导读",
        "专题丨",
        "※",
        "思想库",
        "ictp.caict.ac.cn",
    ],
)
def test_boilerplate_removed(corpus: str, junk: str) -> None:
    assert junk not in corpus


def test_no_bare_counters(corpus: str) -> None:
    assert not [line for line in corpus.split("\n") if line.isdigit()]


def test_reference_markers_are_footnotes(corpus: str) -> None:
    for number in range(1, 7):
        assert f"[^{number}]" in corpus
    assert not re.search(r"\[\d+\]", corpus)


def test_ascii_punctuation_kept(corpus: str) -> None:
    assert "截至2023年8月,我国" in corpus
    assert "1.1.4 全域数字化转型期:场景驱动" in corpus
    assert "，" not in corpus.split("\n---\n", 1)[1]  # the paper uses ASCII commas only


def test_figure_caption_kept(corpus: str) -> None:
    lines = corpus.split("\n")
    assert "来源:中国信息通信研究院" in lines
    assert "图1 城市数字化转型三维模型" in lines


def _paper_lines(raw: str) -> list[str]:
    """Raw lines of the abstract and of the body (0 引言 up to the English title)."""
    start = re.search(r"^0\s+引言", raw, flags=re.M)
    assert start is not None
    end = raw.index("Framework and practical path")
    abstract = [line for line in raw.splitlines() if line.startswith(("摘要:", "关键词:"))]
    return abstract + raw[start.start() : end].splitlines()


@needs_seed
def test_every_sentence_verbatim(corpus: str, raw: str) -> None:
    checked = 0
    for line in _paper_lines(raw):
        collapsed = " ".join(line.split())
        if not collapsed:
            continue
        if re.match(r"\d+(\.\d+)* |图\d", collapsed):  # heading or caption: spaces collapsed
            assert collapsed in corpus, collapsed
            checked += 1
            continue
        for sentence in line.split("。"):
            sentence = sentence.strip()
            if sentence:
                assert _footnotes(sentence) in corpus, sentence
                checked += 1
    assert checked >= 130  # 138 sentences, headings and captions


@needs_seed
def test_author_bios_kept(corpus: str, raw: str) -> None:
    bios = [
        line for line in raw.splitlines() if line.startswith("中国信息通信研究院") and "。" in line
    ]
    assert len(bios) == 6
    section = corpus.split("## 作者简介", 1)[1].split("## 摘要", 1)[0]
    for bio in bios:
        assert bio in section


# --- taxonomy.yaml --------------------------------------------------------------------------

DIMENSIONS = {
    "技术": ("technology", ["城市数字底座", "城市数据体系", "城市核心平台", "城市应用场景"]),
    "业务": ("business", ["智能发现", "综合研判", "融合调度", "分析评价"]),
    "管理": ("management", ["规划", "设计", "管控", "运营", "改革"]),
}
PATHS = {
    "制度创新驱动": "institution",
    "数字底座驱动": "infrastructure",
    "数据要素驱动": "data",
    "数字治理驱动": "governance",
    "特色产业驱动": "industry",
    "数字生活驱动": "life",
}
CITY_NAMES = ("北京", "上海", "浙江", "广东", "广州", "青岛", "杭州", "长沙", "成都", "海南")


def test_taxonomy_header(taxonomy: dict) -> None:
    assert taxonomy["version"] == 1
    assert "§2.2" in taxonomy["source"] and "§3" in taxonomy["source"]


def test_taxonomy_dimensions(taxonomy: dict) -> None:
    dims = taxonomy["dimensions"]
    assert len(dims) == 3
    assert {d["name"]: (d["alias"], d["components"]) for d in dims} == DIMENSIONS
    for dim in dims:
        assert 15 <= len(dim["keywords"]) <= 30, dim["name"]


def test_taxonomy_paths(taxonomy: dict) -> None:
    paths = taxonomy["paths"]
    assert len(paths) == 6
    assert {p["name"]: p["alias"] for p in paths} == PATHS
    for path in paths:
        assert len(path["keywords"]) >= 8, path["name"]


def _entries(taxonomy: dict) -> list[dict]:
    return taxonomy["dimensions"] + taxonomy["paths"]


def test_taxonomy_terms_occur_in_corpus(taxonomy: dict, corpus: str) -> None:
    paper = corpus.split("\n---\n", 1)[1]
    for entry in _entries(taxonomy):
        terms = [str(term) for term in entry["keywords"] + entry.get("components", [])]
        missing = [term for term in terms if term not in paper]
        assert not missing, (entry["name"], missing)


def test_taxonomy_descriptions_quote_the_paper(taxonomy: dict, corpus: str) -> None:
    for entry in _entries(taxonomy):
        description = entry["description"]
        assert description.strip(), entry["name"]
        for sentence in filter(None, description.split("。")):
            assert sentence in corpus, (entry["name"], sentence)


def test_path_keywords_not_shared(taxonomy: dict) -> None:
    counts = Counter(str(k) for path in taxonomy["paths"] for k in set(path["keywords"]))
    assert not [keyword for keyword, count in counts.items() if count > 1]


def test_keywords_unique_across_all_entries(taxonomy: dict) -> None:
    keywords = [str(k) for entry in _entries(taxonomy) for k in entry["keywords"]]
    assert not [keyword for keyword, count in Counter(keywords).items() if count > 1]


def test_no_city_names_as_keywords(taxonomy: dict) -> None:
    keywords = [str(k) for entry in _entries(taxonomy) for k in entry["keywords"]]
    assert not [k for k in keywords if any(city in k for city in CITY_NAMES)]
