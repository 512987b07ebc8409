"""The policy library: document metadata, the structure of official documents, citations by
文号 and article, and filters that every kind of answer honours.

Documents of two kinds are used throughout: a regulation written the way 地方性法规 are
(章 / 条 / 项), and a 文件 the way notices and 指导意见 are (一、/（一）, run-in item
headings, a signature block), plus one of the bundled national policy texts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS_DIR, outcomes_by_source, write_text

from ingest.chunker import SIGNATURE_TITLE, parse_sections
from ingest.loaders import LoadError, load_file
from ingest.metadata import find_date
from rag.errors import InvalidInputError
from rag.types import Citation, Passage

POLICY_660 = CORPUS_DIR / "policies" / "关于深化智慧城市发展推进城市全域数字化转型的指导意见.md"

REGULATION = """---
title: 临江市公共数据条例
issuing bodies: 临江市人民代表大会常务委员会
document number: 无（地方性法规）
date: 2023-06-30 通过（自2023-10-01起施行）
type: 地方性法规
source: 测试用虚构条例
completeness: partial — 第四章以后缺失
---

# 临江市公共数据条例

## 第一章  总则

第一条 为了规范公共数据管理，促进公共数据开放利用，制定本条例。

第二条 本条例所称公共数据，是指本市国家机关在履行职责过程中收集和产生的数据。

## 第二章  公共数据开放

第三条 公共数据按照开放属性分为下列三类：

（一）无条件开放类；

（二）有条件开放类；

（三）非开放类。

第四条 市大数据管理局负责建设全市统一的公共数据开放平台，开放平台应当免费向社会提供无条件
开放类公共数据。
"""

NOTICE = """临江市人民政府关于推进城市数字孪生建设的通知

临政发〔2024〕7号

各区人民政府，市政府各部门：

一、总体目标

到2026年，建成覆盖全市的城市数字孪生底座，形成一批典型应用场景。

二、重点任务

（一）夯实数字孪生底座。建设城市信息模型平台，汇聚地上地下三维数据，实现全域覆盖。

（二）拓展孪生应用场景。在交通、水务、应急等领域开展孪生仿真应用，提升城市治理精细化水平。

临江市人民政府
2024年3月8日
"""


@pytest.fixture
def library(tmp_path: Path, settings_for, open_assistant):
    settings = settings_for(tmp_path / "home")
    folder = tmp_path / "docs"
    write_text(folder / "临江市公共数据条例.md", REGULATION)
    write_text(folder / "数字孪生通知.txt", NOTICE)
    (folder / POLICY_660.name).write_bytes(POLICY_660.read_bytes())
    assistant = open_assistant(settings)
    report = assistant.ingest([folder])
    assert report.count("ingested") == 3, report.to_dict()
    return assistant


def _doc(assistant, title_part: str):
    return next(d for d in assistant.documents() if title_part in d.title)


# ----- metadata ----------------------------------------------------------------------------
def test_header_becomes_metadata_never_body_text(library) -> None:
    regulation = _doc(library, "临江市公共数据条例")
    assert (regulation.doc_type, regulation.kind, regulation.date) == (
        "地方性法规",
        "法规",
        "2023-06-30",
    )
    assert regulation.issuers == ("临江市人民代表大会常务委员会",)
    assert regulation.doc_number == ""  # "无（地方性法规）" is a note, not a 文号
    assert regulation.completeness == "partial" and "第四章" in regulation.completeness_note
    policy = _doc(library, "全域数字化转型")
    assert policy.doc_number == "发改数据〔2024〕660号" and policy.date == "2024-05-14"
    assert policy.issuers[:2] == ("国家发展改革委", "国家数据局") and policy.kind == "规范性文件"
    texts = [c.text for c in library.store.chunks().values()]
    assert not any("测试用虚构条例" in t or "source:" in t or "GitHub" in t for t in texts)
    info = [c for c in library.store.chunks().values() if c.metadata["section"] == "文档信息"]
    assert any("文号：发改数据〔2024〕660号" in c.text for c in info)


def test_header_less_document_states_its_number_and_date(library) -> None:
    notice = _doc(library, "数字孪生")
    assert notice.title == "临江市人民政府关于推进城市数字孪生建设的通知"  # its first line
    assert notice.doc_number == "临政发〔2024〕7号" and notice.date == "2024-03-08"


@pytest.mark.parametrize(
    ("title", "head", "issuers", "doc_type"),
    [
        (  # a provincial regulation: the adopting standing committee, without its term
            "河南省开发区条例",
            "1994年11月1日 河南省第八届人民代表大会常务委员会第十次会议通过",
            ["河南省人民代表大会常务委员会"],
            "地方性法规",
        ),
        (  # a city's regulation adopted, then approved by the province: the adopter
            "郑州市农业投资保障条例",
            "（2010年8月27日郑州市第十三届人民代表大会常务委员会第十一次会议通过　"
            "2010年11月26日河南省第十一届人民代表大会常务委员会第十八次会议批准）",
            ["郑州市人民代表大会常务委员会"],
            "地方性法规",
        ),
        (  # a national law
            "中华人民共和国电影产业促进法",
            "（2016年11月7日第十二届全国人民代表大会常务委员会第二十四次会议通过）",
            ["全国人民代表大会常务委员会"],
            "法律",
        ),
        ("某市数据工作要点", "各区要加快推进数据共享。", [], ""),  # no adoption line
    ],
)
def test_a_header_less_law_states_who_adopted_it(
    title: str, head: str, issuers: list[str], doc_type: str
) -> None:
    from ingest.metadata import from_text

    meta = from_text(f"# {title}\n\n{head}\n\n第一条 为了规范管理，制定本条例。\n", title)
    assert meta.issuers == issuers and meta.doc_type == doc_type
    assert meta.kind == ("法规" if doc_type else "")


def test_bad_header_names_the_field_and_the_rest_ingests(
    tmp_path: Path, settings_for, open_assistant
) -> None:
    folder = tmp_path / "docs"
    write_text(
        folder / "坏文件头.md", REGULATION.replace("completeness: partial", "completeness: 大概")
    )
    write_text(
        folder / "坏日期.md",
        REGULATION.replace("date: 2023-06-30 通过（自2023-10-01起施行）", "date: 去年夏天"),
    )
    write_text(folder / "好文件.txt", NOTICE)
    report = open_assistant(settings_for(tmp_path / "home")).ingest([folder])
    rows = outcomes_by_source(report)
    assert "completeness" in str(rows["docs/坏文件头.md"].error), rows
    assert "date" in str(rows["docs/坏日期.md"].error), rows
    assert rows["docs/好文件.txt"].status == "ingested"
    with pytest.raises(LoadError, match="title"):
        load_file(write_text(tmp_path / "x.md", "---\ntitle: [甲, 乙]\n---\n\n正文。\n"))


@pytest.mark.parametrize(
    ("text", "iso"),
    [("2021年11月25日通过", "2021-11-25"), ("二〇二四年五月十四日", "2024-05-14"), ("无日期", "")],
)
def test_dates_in_the_forms_documents_use(text: str, iso: str) -> None:
    assert find_date(text) == iso


# ----- structure ---------------------------------------------------------------------------
def test_articles_keep_their_items_and_chapters() -> None:
    body = load_file_text(REGULATION)
    paths = [" > ".join(s.path) for s in parse_sections(body, "临江市公共数据条例")]
    assert "第二章  公共数据开放 > 第三条" in paths
    third = next(s for s in parse_sections(body, "") if s.path[-1:] == ("第三条",))
    assert sum(1 for sent in third.sentences if "开放类" in body[sent.start : sent.end]) == 3


def test_run_in_items_and_signature_block_of_a_notice() -> None:
    sections = parse_sections(NOTICE, "临江市人民政府关于推进城市数字孪生建设的通知")
    paths = [" > ".join(s.path) for s in sections]
    assert "二、重点任务 > （一）夯实数字孪生底座" in paths
    assert "二、重点任务 > （二）拓展孪生应用场景" in paths
    assert SIGNATURE_TITLE in paths  # the issuer and date are not part of item （二）
    item_two = next(s for s in sections if s.path[-1:] == ("（二）拓展孪生应用场景",))
    assert not any("2024年3月8日" in NOTICE[x.start : x.end] for x in item_two.sentences)


def load_file_text(text: str) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return load_file(write_text(Path(tmp) / "x.md", text)).text


# ----- citations ---------------------------------------------------------------------------
def test_citations_name_document_number_and_place(library) -> None:
    answer = library.ask("临江市公共数据条例把公共数据开放分成哪几类？")
    assert not answer.refused, answer.text
    labels = [c.label for c in answer.citations]
    assert "《临江市公共数据条例》第三条" in labels, labels
    data = answer.to_dict()["citations"][0]
    assert {"doc_number", "issuers", "doc_type", "date", "article", "item", "label"} <= set(data)
    policy = Passage(
        "x",
        "文本",
        {
            "doc_title": "关于深化智慧城市发展 推进城市全域数字化转型的指导意见",
            "doc_number": "发改数据〔2024〕660号",
            "section": "二、全领域推进城市数字化转型 > （四）推进城市精准精细治理。",
        },
    )
    assert Citation.from_passage(1, policy).label == (
        "《关于深化智慧城市发展 推进城市全域数字化转型的指导意见》"
        "（发改数据〔2024〕660号）二、（四）"
    )


# ----- filters -----------------------------------------------------------------------------
def test_document_filters_resolve_by_number_type_issuer_and_year(library) -> None:
    policy = _doc(library, "全域数字化转型")
    assert library.filters(doc="660号").doc_ids == {policy.doc_id}
    assert library.filters(doc_type="法规").doc_ids == {_doc(library, "条例").doc_id}
    assert library.filters(issuer="临江市人民政府").doc_ids == {_doc(library, "孪生").doc_id}
    assert library.filters(year=2024).doc_ids == {policy.doc_id, _doc(library, "孪生").doc_id}
    with pytest.raises(InvalidInputError, match="对应多篇文档"):
        library.filters(doc="临江市")
    for bad in ({"doc_type": "白皮书"}, {"issuer": "外星"}, {"year": "明年"}):
        with pytest.raises(InvalidInputError):
            library.filters(**bad)


def test_bm25_within_documents_ranks_as_the_filtered_full_ranking(library) -> None:
    """Only the named documents' chunks are ranked; the result is that of walking the whole
    library's ranking and keeping theirs (the walk grows with the library)."""
    import numpy as np

    retriever = library.retriever
    chunks = library.store.chunks()
    index = library.store.bm25(library.tokenizer)
    for doc in library.store.documents():
        filters = library.filters(doc=doc.doc_id)
        for query in ("公共数据开放", "数字孪生底座建设", "城市数字化转型 数据要素"):
            scores = index.scores(library.tokenizer.tokenize(query))
            expected = [
                (index.ids[i], float(scores[i]))
                for i in np.argsort(-scores, kind="stable")
                if scores[i] > 0 and filters.accepts(chunks[index.ids[i]].metadata)
            ][: retriever.candidates]
            assert retriever._bm25(query, filters, chunks) == expected
            assert all(chunks[cid].metadata["doc_id"] == doc.doc_id for cid, _ in expected)


@pytest.mark.parametrize(
    "question",
    [
        "公共数据开放平台由哪个部门建设？",  # extractive
        "重点任务有哪些？",  # list / outline
        "临江市的数字孪生底座预算是多少亿元？",  # refusal: its 可能相关 list
    ],
)
def test_every_kind_of_answer_honours_the_filters(library, question: str) -> None:
    notice = _doc(library, "孪生")
    answer = library.ask(question, doc_type="法规")
    assert all(c.doc_title == "临江市公共数据条例" for c in answer.citations), answer.text
    narrowed = library.ask(question, issuer="临江市人民政府")
    assert all(c.doc_id == notice.doc_id for c in narrowed.citations), narrowed.text


def test_llm_answerer_sees_only_filtered_passages(library) -> None:
    seen: list[list[Passage]] = []

    class Recorder:  # plumbing only: records what the pipeline hands the model
        endpoint = "recorder"

        def stream(self, question, passages):
            seen.append(passages)
            yield "公共数据按照开放属性分为三类。[1]"

    library.pipeline.llm_answerer = Recorder()
    try:
        answer = library.ask("公共数据怎么分类开放？", doc_type="法规")
    finally:
        library.pipeline.llm_answerer = None
    assert seen and all(p.metadata["doc_title"] == "临江市公共数据条例" for p in seen[0])
    assert answer.answerer == "llm"


def test_a_question_naming_its_document_is_answered_from_it(library) -> None:
    answer = library.ask("《临江市公共数据条例》对开放平台有什么要求？")
    assert answer.citations and all(c.doc_title == "临江市公共数据条例" for c in answer.citations)


def test_stats_and_library_list_document_metadata(library) -> None:
    stats = library.stats()
    rows = {d["title"]: d for d in stats["library"]}
    assert rows["临江市公共数据条例"]["completeness_note"].startswith("部分缺失：")
    assert rows["临江市人民政府关于推进城市数字孪生建设的通知"]["doc_number"] == "临政发〔2024〕7号"
    json.dumps(stats, ensure_ascii=False)


# ----- questions about a document itself -------------------------------------------------------
def test_an_effective_date_needs_a_line_that_says_so() -> None:
    """通过/批准 dates do not answer when a text takes effect."""
    from rag.docinfo import answers_fact

    passed = "日期：2020年10月27日 通过；2020年11月27日 批准"
    assert not answers_fact("从哪天开始施行？", passed)
    assert answers_fact("从哪天开始施行？", "日期：2023年6月30日 通过（自2023年10月1日起施行）")
    assert answers_fact("是哪天通过的？", passed)
    # 实施方案 is a kind of document, not its taking effect
    assert answers_fact("这份实施方案的印发日期是哪天？", "日期：2025年10月28日")


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("《“十四五”数字经济发展规划》是以什么文号印发的？", ["文号", "发文机关"]),
        ("“数据二十条”是以哪两个机关的名义发布的？", ["发文机关"]),
        ("文件标注的落款日期是哪天？", ["日期"]),
        ("这篇论文的作者是谁？", ["作者"]),
        ("论文的作者团队来自哪个研究机构？", []),  # the affiliation is in the text
        ("公共数据开放平台由哪个部门建设？", []),  # about the content, not the document
        ("这部规定什么时候生效？", ["日期"]),
        ("从哪天起施行？", ["日期"]),
    ],
)
def test_which_identity_facts_a_question_asks(question: str, asked: list[str]) -> None:
    from rag.docinfo import asked_facts

    assert asked_facts(question) == asked


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("《临江市公共数据条例》是由哪个机关发布的？", "临江市人民代表大会常务委员会"),
        (
            "《关于深化智慧城市发展 推进城市全域数字化转型的指导意见》的文号是什么？",
            "发改数据〔2024〕660号",
        ),
        # the effective date of a regulation, from its header's date line
        ("《临江市公共数据条例》从哪天起施行？", "2023"),
        # the second part names no fact retrieval would rank first: still the named document's
        ("《临江市公共数据条例》是哪个机关发布的？落款日期是哪天？", "2023"),
    ],
)
def test_identity_questions_are_answered_from_the_document_information(
    library, question: str, expected: str
) -> None:
    answer = library.ask(question)
    assert not answer.refused and expected in answer.text, answer.text
    assert answer.citations[0].section == "文档信息" and answer.faithfulness == 1.0


# ----- list answers ---------------------------------------------------------------------------
def test_a_list_question_gets_every_item_of_a_regulation_article(library) -> None:
    answer = library.ask("临江市的条例把公共数据按开放属性分为哪几类？")
    assert not answer.refused
    for item in ("无条件开放类", "有条件开放类", "非开放类"):
        assert item in answer.text, answer.text
    assert answer.citations[0].article == "第三条"


@pytest.mark.parametrize(
    ("question", "children"),
    [
        # a bundled national policy: the quoted heading's seven numbered tasks
        (
            "指导意见里“全领域推进城市数字化转型”分了哪几块任务？",
            [
                "（一）建立城市数字化共性基础",
                "（四）推进城市精准精细治理",
                "（七）提升城市安全韧性水平",
            ],
        ),
        # a user's notice without a header: its two tasks
        (
            "数字孪生通知的“重点任务”包括哪些？",
            ["（一）夯实数字孪生底座", "（二）拓展孪生应用场景"],
        ),
    ],
)
def test_a_list_question_quoting_a_heading_lists_its_parts(
    library, question: str, children: list[str]
) -> None:
    answer = library.ask(question)
    assert not answer.refused, answer.text
    for child in children:
        assert child in answer.text, (child, answer.text)
    assert answer.faithfulness == 1.0


@pytest.mark.parametrize(
    ("question", "children"),
    [
        # a user's notice: the heading named without quotation marks
        ("数字孪生通知的重点任务包括哪些？", ["（一）夯实数字孪生底座", "（二）拓展孪生应用场景"]),
        # a bundled national policy: its 二、全领域推进城市数字化转型, named in passing
        (
            "指导意见在全领域推进城市数字化转型方面有哪些任务？",
            ["（一）建立城市数字化共性基础", "（七）提升城市安全韧性水平"],
        ),
    ],
)
def test_a_list_question_naming_a_heading_lists_its_parts(
    library, question: str, children: list[str]
) -> None:
    answer = library.ask(question)
    assert not answer.refused, answer.text
    for child in children:
        assert child in answer.text, (child, answer.text)


def test_a_heading_is_not_named_by_a_title_or_by_the_start_of_a_longer_phrase(library) -> None:
    from rag.outline import _named_heading

    store = library.store
    regulation = _doc(library, "临江市公共数据条例")
    passages = [
        Passage(c.id, c.text, c.metadata) for c in store.document_chunks(regulation.doc_id)
    ][:2]
    corpus = store.term_index().contains
    # "第二章 公共数据开放" is named; in "公共数据开放平台" the question is about the platform.
    assert _named_heading("公共数据开放包括哪些类别？", passages, store.document_chunks, corpus)
    assert not _named_heading(
        "公共数据开放平台包括哪些功能？", passages, store.document_chunks, corpus
    )
    # The document's title (in book-title marks) is not one of its sections.
    assert not _named_heading(
        "《临江市公共数据条例》有哪些规定？", passages, store.document_chunks, corpus
    )


# ----- questions that compare documents ------------------------------------------------------
def test_a_question_comparing_two_documents_is_answered_document_by_document(library) -> None:
    answer = library.ask(
        "《临江市公共数据条例》和《关于深化智慧城市发展推进城市全域数字化转型的指导意见》"
        "对公共数据开放分别有什么规定？"
    )
    assert not answer.refused, answer.text
    regulation = answer.text.find("《临江市公共数据条例》[")
    policy = answer.text.find("推进城市全域数字化转型的指导意见》[")
    assert 0 <= regulation < policy, answer.text
    titles = {c.doc_title for c in answer.citations}
    assert "临江市公共数据条例" in titles and len(titles) == 2
    assert answer.faithfulness == 1.0


def _doc_record(doc_id: str, title: str, kind: str = "法规") -> Any:
    """A catalog record with only what naming a document looks at."""
    from rag.catalog import DocRecord

    return DocRecord(
        doc_id=doc_id,
        source=f"{doc_id}.md",
        path=f"/docs/{doc_id}.md",
        title=title,
        content_hash=doc_id,
        file_type="md",
        kind=kind,
    )


def test_document_groups_by_title_and_by_place() -> None:
    from rag.docref import document_groups

    docs = [
        _doc_record("sh", "上海市数据条例"),
        _doc_record("sz", "深圳经济特区数据条例"),
        _doc_record("bj", "北京市数字经济促进条例"),
        _doc_record("p", "国家数据基础设施建设指引", "规范性文件"),
    ]
    assert document_groups("上海和深圳的数据条例对开放分类有什么不同？", docs) == [
        frozenset({"sh"}),
        frozenset({"sz"}),
    ]
    assert document_groups(
        "《国家数据基础设施建设指引》和《北京市数字经济促进条例》怎么说", docs
    ) == [
        frozenset({"p"}),
        frozenset({"bj"}),
    ]
    numbered = [
        *docs,
        dataclasses.replace(docs[3], doc_id="n", title="某意见", doc_number="某〔2024〕660号"),
    ]
    assert document_groups("660号文和《国家数据基础设施建设指引》分别怎么说", numbered) == [
        frozenset({"n"}),
        frozenset({"p"}),
    ]
    assert document_groups("上海的数据条例怎么规定数据交易？", docs) == []  # one document
    assert document_groups("数据交易有哪些规定？", docs) == []


LOCAL_REGULATION = """# 临江市数据条例

## 第三章  公共数据

第十二条 本市以需求导向、分级分类、安全可控为原则，推动公共数据面向社会开放，并持续扩大
公共数据开放范围。

公共数据按照开放类型分为无条件开放、有条件开放和非开放三类。涉及个人隐私、商业秘密的，列入非开放类。

第十三条 市大数据管理局负责建设全市统一的公共数据开放平台。
"""

STATE_COUNCIL_RULES = """# 临江省在线政务服务若干规定

第八条 政务服务机构应当推行电子证照在政务服务中的应用。

申请人提供电子证照的，政务服务机构应当予以认可，申请人可以免于提交相应的实体证照。

第九条 政务服务机构应当建立健全政务服务评价制度。
"""


@pytest.mark.parametrize(
    ("question", "article", "wanted"),
    [
        # a local regulation: the article's second paragraph (款) holds the classes
        ("临江市的数据条例把公共数据开放分成哪几类？", "第十二条", "非开放三类"),
        # rules of a provincial government: the second 款 answers, the first one frames it
        ("临江省的规定里，办事能不能拿电子证照顶替实体证照？", "第八条", "免于提交"),
    ],
)
def test_a_regulation_is_answered_article_by_article(
    tmp_path: Path, settings_for, open_assistant, question: str, article: str, wanted: str
) -> None:
    folder = tmp_path / "docs"
    write_text(folder / "临江市数据条例.md", LOCAL_REGULATION)
    write_text(folder / "临江省在线政务服务若干规定.md", STATE_COUNCIL_RULES)
    (folder / POLICY_660.name).write_bytes(POLICY_660.read_bytes())
    assistant = open_assistant(settings_for(tmp_path / "home"))
    assistant.ingest([folder])
    answer = assistant.ask(question)
    assert not answer.refused, answer.refusal_reason
    assert wanted in answer.text, answer.text
    cited = [c for c in answer.citations if c.article == article]
    assert cited, [c.article for c in answer.citations]
    # The whole article, both paragraphs, is the answer unit.
    body = [line for line in cited[0].text.split("\n") if line.strip()]
    assert all(line.split("。")[0] in answer.text for line in body), answer.text
    assert answer.faithfulness == 1.0


def test_a_question_about_a_document_the_library_lacks_is_refused(library) -> None:
    """Other documents on the same topic are not the named document's content (a 《title》
    of a regulation, and of a notice); a title the library holds is answered."""
    for question in (
        "《临江市数据交易管理办法》对数据交易场所有什么规定？",
        "《临江市人民政府关于推进智慧水务建设的通知》由哪个机构印发？",
    ):
        answer = library.ask(question)
        assert answer.refused, answer.text
        assert answer.refusal_reason.startswith("资料库中没有《临江市"), answer.refusal_reason
    held = library.ask("《临江市公共数据条例》把公共数据分为哪几类？")
    assert not held.refused
    # No research paper in this library: a question about "论文" says so.
    assert library.ask("论文里对公共数据开放怎么说？").refusal_reason == "资料库中没有论文"


def test_a_title_written_without_book_title_marks_names_its_document() -> None:
    """Readers often leave out 《》 and the 市/省 after the place: the title still names one
    document, not every document of its genre (a regulation and a policy text)."""
    from rag.docref import referenced_documents

    docs = [
        _doc_record("kfq", "河南省开发区条例"),
        _doc_record("ny", "郑州市农业投资保障条例"),
        _doc_record("p", "国家数据基础设施建设指引", "规范性文件"),
    ]
    assert referenced_documents("河南省开发区条例是从哪天开始实行的？", docs) == {"kfq"}
    assert referenced_documents("郑州农业投资保障条例里的农业包括哪些？", docs) == {"ny"}
    assert referenced_documents("国家数据基础设施建设指引提出了什么目标？", docs) == {"p"}
    # a genre word alone still names the kind; a short title fragment names nothing
    assert referenced_documents("条例里怎么说的？", docs) == {"kfq", "ny"}
    assert referenced_documents("", docs) == set()


def test_a_document_named_by_its_distinctive_words_and_genre_or_its_nickname() -> None:
    """Planners say "十四五数字经济规划", "“数据要素×”行动计划", "数据要素×那个计划",
    "一网通办那个决定", or the nickname a title carries ("数据二十条"): each names one
    document (policies and a regulation). A phrase that merely precedes a genre word, or
    words shared by documents of another genre, name none."""
    from rag.docref import naming_words, referenced_documents, without_naming_words

    docs = [
        _doc_record("plan", "国务院关于印发“十四五”数字经济发展规划的通知", "规范性文件"),
        _doc_record("x", "“数据要素×”三年行动计划（2024—2026年）", "规范性文件"),
        _doc_record("yw", "上海市人民代表大会常务委员会关于进一步促进和保障“一网通办”改革的决定"),
        _doc_record("bj", "北京市数字经济促进条例"),
        _doc_record("zj", "浙江省数字经济促进条例"),
        _doc_record(
            "d20", "中共中央 国务院关于构建数据基础制度更好发挥数据要素作用的意见（“数据二十条”）"
        ),
        _doc_record(
            "ss", "关于在国家数据基础设施建设先行先试中加强场景应用的实施方案", "规范性文件"
        ),
    ]
    assert referenced_documents("十四五数字经济规划提了哪些目标？", docs) == {"plan"}
    assert referenced_documents("“数据要素×”行动计划有哪些重点行动？", docs) == {"x"}
    assert referenced_documents("数据要素×那个计划有硬指标吗？", docs) == {"x"}
    assert referenced_documents("一网通办那个决定说了什么？", docs) == {"yw"}
    assert referenced_documents("数字经济条例对人才怎么规定？", docs) == {"bj", "zj"}
    assert referenced_documents("“数据二十条”是谁发的？", docs) == {"d20"}
    # not names: a phrase before another genre word, a generic word before 意见
    assert referenced_documents("数据基础设施的解决方案有哪些？", docs) == set()
    assert referenced_documents("你们的意见是什么？", docs) == set()
    # once the documents are chosen, the words that named them do not rank their passages
    question = "把十四五数字经济规划和“数据要素×”行动计划放在一起看，各自提出了哪些量化目标？"
    words = naming_words(question, docs)
    assert "十四五数字经济规划" in words and "数据要素×”行动计划" in words
    assert "数字经济" not in without_naming_words(question, words)
    assert (
        without_naming_words("《上海市数据条例》", ["《上海市数据条例》"]) == "《上海市数据条例》"
    )


def test_questions_about_the_document_itself_keep_the_words_that_name_it() -> None:
    from rag.docref import ranking_query

    named = ["《上海市数据条例》"]
    assert (
        ranking_query("《上海市数据条例》对公共数据开放怎么规定？", named)
        == "对公共数据开放怎么规定？"
    )
    for question in ("《上海市数据条例》什么时候施行？", "《上海市数据条例》是哪个机关发布的？"):
        assert ranking_query(question, named) == question
    assert ranking_query("公共数据怎么开放？", []) == "公共数据怎么开放？"


@pytest.mark.parametrize(
    ("question", "year", "answered"),
    [
        # a target year is part of what is asked: the notice and the 660 opinion set their
        # goals for named years, and a goal for another year does not answer
        ("数字孪生那个通知里，到2026年要建成什么？", "2026", True),
        ("数字孪生那个通知里，到2028年要建成什么？", "2028", False),
        ("660号文提出到2030年要达到什么程度？", "2030", True),
        ("660号文提出到2035年要达到什么程度？", "2035", False),
    ],
)
def test_a_target_year_must_be_the_year_of_the_answer(
    library, question: str, year: str, answered: bool
) -> None:
    answer = library.ask(question)
    assert answer.refused is not answered, (answer.text, answer.refusal_reason)
    if answered:
        assert year in answer.text
    else:
        assert year in answer.refusal_reason


def test_target_years_of_a_question() -> None:
    from rag.query import target_years

    assert target_years("到2035年核心产业占比要达到多少？") == ["2035"]
    assert target_years("截至2023年8月，全国有多少个数据开放平台？") == ["2023"]
    assert target_years("2026年底要打造多少个场景？") == ["2026"]
    # a year that dates the document or an event sets no target
    assert target_years("2024年印发的那份意见说了什么？") == []
    assert target_years("条例自2022年1月1日起施行吗？") == []


@pytest.mark.parametrize(
    ("quoted", "heading", "names_it"),
    [
        # a quote names a section when it is the heading or most of it, without its ordinal
        # (a policy's task, a regulation's chapter)
        ("全领域推进城市数字化转型", "二、全领域推进城市数字化转型", True),
        ("公共数据", "第三章 公共数据", True),
        # a word of a longer heading or of the title is what the question is about, not a
        # name for that part ("“数字经济”是怎么定义的")
        ("数字经济", "“十四五”数字经济发展规划", False),
        ("精细治理", "（四）推进城市精准精细治理。", False),
    ],
)
def test_a_quote_names_a_heading_only_when_it_is_most_of_it(
    quoted: str, heading: str, names_it: bool
) -> None:
    from rag.outline import _most_of

    assert _most_of(quoted, heading) is names_it


def test_a_document_title_above_every_section_is_not_a_section() -> None:
    from rag.outline import _title_depth
    from rag.store import ChunkRecord

    def chunk(section: str) -> ChunkRecord:
        return ChunkRecord("id", "text", {"section": section})

    plan = [chunk("规划 > 一、现状"), chunk("规划 > 二、目标 > （一）总体目标")]
    assert _title_depth(plan) == 1
    regulation = [chunk("第一章 总则 > 第一条"), chunk("第二章 数据 > 第九条")]
    assert _title_depth(regulation) == 0


def test_a_list_question_with_a_bare_count_lists_every_part(library) -> None:
    """ "…有哪些？一共几项？": the section's parts, all of them, answer both."""
    answer = library.ask("指导意见里“全领域推进城市数字化转型”分了哪几块任务？一共几项？")
    assert not answer.refused, answer.text
    tasks = ("（一）建立城市数字化共性基础", "（四）推进城市精准精细治理")
    for child in tasks:
        assert child in answer.text, answer.text
