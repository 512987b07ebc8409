"""Questions about parallel items ("A和B分别…") are split into one question per item."""

from __future__ import annotations

import pytest
from conftest import make_settings, open_with_embedder, write_text

from rag import Assistant
from rag.decompose import question_parts, split_parallel, split_questions
from rag.lexical import ChineseTokenizer

POS_CUT = ChineseTokenizer(["技术维度", "管理维度", "城市大脑"]).pos_cut


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "青岛和杭州的案例分别对应哪条路径？",
            ["青岛的案例对应哪条路径？", "杭州的案例对应哪条路径？"],
        ),
        (
            "论文在技术维度和管理维度上分别给出了什么建议？",
            ["论文在技术维度上给出了什么建议？", "论文在管理维度上给出了什么建议？"],
        ),
        ("“6123”中的“1”和“2”分别指什么？", ["“6123”中的“1”指什么？", "“6123”中的“2”指什么？"]),
        (
            "技术、业务和管理维度分别包括什么？",
            ["技术维度包括什么？", "业务维度包括什么？", "管理维度包括什么？"],
        ),
    ],
)
def test_parallel_items_become_one_question_each(question: str, parts: list[str]) -> None:
    assert split_parallel(question, POS_CUT) == parts


@pytest.mark.parametrize(
    "question",
    [
        "城市数字化转型包括哪三个维度？",  # no 分别/各自
        "技术维度和管理维度有什么区别？",  # a comparison, not one answer per item
        "分别",
        "",
        "城市数字化转型的基本特征分别是什么？",  # 分别 without coordinated items
    ],
)
def test_other_questions_are_left_whole(question: str) -> None:
    assert split_parallel(question, POS_CUT) == []


def test_each_item_is_answered(corpus_index) -> None:
    answer = corpus_index.assistant.ask("杭州和长沙的城市大脑各自发展到了什么版本？")
    assert not answer.refused and answer.faithfulness == 1.0
    assert "杭州" in answer.text and "长沙" in answer.text


# ----- several questions in one message ----------------------------------------------------
@pytest.mark.parametrize(
    ("message", "parts"),
    [
        (  # a regulation: two facts about one document, the second part without its topic
            "《上海市数据条例》是哪天通过的，从什么时候开始施行？",
            ["《上海市数据条例》是哪天通过的，", "《上海市数据条例》从什么时候开始施行？"],
        ),
        (  # a national policy document
            "《“十四五”数字经济发展规划》是以什么文号印发的？印发机关和落款日期分别是什么？",
            [
                "《“十四五”数字经济发展规划》是以什么文号印发的？",
                "《“十四五”数字经济发展规划》印发机关和落款日期分别是什么？",
            ],
        ),
        (  # a short name with × in it carries whole to the next part
            "“数据要素×”行动计划是哪年印发的？由哪些部门印发？",
            ["“数据要素×”行动计划是哪年印发的？", "“数据要素×”行动计划由哪些部门印发？"],
        ),
    ],
)
def test_several_questions_are_split_and_keep_their_document(message, parts) -> None:
    assert split_questions(message) == parts


@pytest.mark.parametrize(
    "message",
    [
        "城市数字化转型包括哪三个维度？",  # one question
        "可信数据空间那个行动计划，到2028年要建成多少个空间来着？",  # a topic clause, one question
        "数据条例把公共数据开放分成哪几类？我说的是上海那部。",  # a remark, not a question
        # 这几年 asks nothing, and the second part names no document
        "为啥到了最近这几年，改体制突然变得这么急？光靠上新技术不够用了吗？",
        "这个项目叫什么？主要包括哪几块？",  # the second part would be about nothing in particular
    ],
)
def test_one_question_is_not_split(message: str) -> None:
    assert split_questions(message) == []


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        (  # a regulation: the condition clause belongs to the question of its own sentence
            "想在开发区投资办厂，该找谁申请？批下来以后要是一直拖着不开工，会有什么后果？",
            ["想在开发区投资办厂，该找谁申请？", "批下来以后要是一直拖着不开工，会有什么后果？"],
        ),
        (  # the paper: 多大 and 谁 ask as much as 多少 and 什么
            "城市大脑是谁建设的？覆盖的范围有多大？",
            ["城市大脑是谁建设的？", "覆盖的范围有多大？"],
        ),
    ],
)
def test_question_parts_without_a_document_name(message: str, parts: list[str]) -> None:
    assert question_parts(message) == parts
    assert split_questions(message) == []  # no part names a document


@pytest.mark.parametrize(
    "message",
    [
        "数据条例把公共数据开放分成哪几类？我说的是上海那部。",
        "可信数据空间那个行动计划，到2028年要建成多少个空间来着？",
        "",
        "   ",
        "？？？",
    ],
)
def test_question_parts_of_one_question(message: str) -> None:
    assert question_parts(message) == []


REGULATION = """# 某省开发区条例

## 第一章 总则

第一条 为加快开发区建设，制定本条例。

第二条 本条例所称开发区，是指经批准设立的、实行优惠政策的经济区域。

开发区分为经济技术开发区和高新技术产业开发区。

第三条 开发区应加强经济技术合作，引进资金和先进技术设备。

## 第二章 项目引进

第十条 在开发区内进行投资，投资者应向开发区管理机构提出申请。开发区管理机构应在15日内审批完毕。

第十一条 经批准兴办的企业，应按规定的期限投入资本、开工建设。不能按期开工建设的，应申请延期；
无正当理由拖延的，收回土地使用权，吊销营业执照。

## 第三章 附则

第二十条 本条例自1995年1月1日起施行。
"""

PLAN = """# 某市医疗卫生设施规划建设管理条例

第五条 医疗卫生设施布局专项规划草案应当予以公告，公告时间不得少于三十日。

第六条 每三万到五万人口区域内规划预留一处社区卫生服务中心用地，用地面积不少于三千平方米。
"""


POLICY = """# 关于推进数据分类分级管理的实施意见

一、总体要求

坚持分类施策，统筹数据发展和安全。

二、主要任务

（一）明确分类规则。数据分为公共数据、企业数据和个人数据，分别制定管理规则。

（二）加强安全管理。各部门应当落实数据安全责任。
"""


@pytest.fixture(scope="module")
def laws_library(tmp_path_factory: pytest.TempPathFactory, embedder) -> Assistant:
    """Two regulations and a policy text in one real index, built once for this module."""
    settings = make_settings(tmp_path_factory.mktemp("laws-library"))
    write_text(settings.corpus_dir / "开发区条例.md", REGULATION)
    write_text(settings.corpus_dir / "医疗卫生设施条例.md", PLAN)
    write_text(settings.corpus_dir / "分类意见.md", POLICY)
    assistant = open_with_embedder(embedder, settings)
    assistant.ingest([settings.corpus_dir])
    return assistant


def test_parts_are_answered_from_the_document_the_message_is_about(laws_library) -> None:
    """Two questions that name no document are each answered from the one the whole message
    retrieves; a law's effect date comes from its effect clause; quantities written in
    Chinese numerals answer a 多少 question (two kinds of regulation text)."""
    assistant = laws_library
    answer = assistant.ask(
        "想在开发区投资办厂，该找谁申请？经批准的企业要是拖着不开工建设，会怎么处理？"
    )
    assert not answer.refused, answer.text
    assert "开发区管理机构提出申请" in answer.text and "收回土地使用权" in answer.text
    # colloquial parts: answered in parts, or whole with what the parts found added
    answer = assistant.ask(
        "想在开发区投资办厂，该找谁申请？批下来以后要是一直拖着不开工，会有什么后果？"
    )
    assert not answer.refused, answer.text
    assert "开发区管理机构提出申请" in answer.text and "收回土地使用权" in answer.text
    answer = assistant.ask("某省开发区条例是从哪天开始实行的？")
    assert not answer.refused and "1995年1月1日" in answer.text, answer.text
    answer = assistant.ask("医疗卫生设施规划草案的公告时间不得少于多少日？")
    assert not answer.refused and "三十日" in answer.text, answer.text
    answer = assistant.ask("多少人就得配一个社区卫生服务中心？")
    assert not answer.refused and "三万到五万人口" in answer.text, answer.text


def test_a_classification_question_gets_the_sentence_that_classifies(laws_library) -> None:
    """ "X分为哪几类" is answered by the sentence where X 分为…: the verb is what the question
    asks about, not a frame word (a regulation and a policy text)."""
    assistant = laws_library
    terms = assistant.retriever.analyzer.terms("开发区分为哪几类？")
    assert any("分为" in t.split("|") for t in terms.content)
    answer = assistant.ask("根据《某省开发区条例》，开发区分为哪几类？")
    assert "经济技术开发区和高新技术产业开发区" in answer.text, answer.text
    answer = assistant.ask("数据分类分级实施意见里，数据分成哪几类？")
    assert "公共数据、企业数据和个人数据" in answer.text, answer.text


def test_each_part_of_a_message_is_answered(corpus_index) -> None:
    answer = corpus_index.assistant.ask(
        "《关于深化智慧城市发展 推进城市全域数字化转型的指导意见》的文号是什么？"
        "到2027年要达到什么目标？"
    )
    assert not answer.refused, answer.text
    assert "发改数据〔2024〕660号" in answer.text and "2027年" in answer.text


def test_what_answered_parts_found_is_added_once_after_the_whole_answer() -> None:
    """When not every part is answered, the whole message's answer comes first and each unit
    a part found is added once (the same sentence of the same passage is not repeated)."""
    from rag.extractive import Unit
    from rag.pipeline import _merged
    from rag.types import Passage

    article = Passage("c1", "第十一条 …无正当理由拖延的，收回土地使用权。", {})
    other = Passage("c2", "第十条 投资者应向开发区管理机构提出申请。", {})
    whole = [(Unit("无正当理由拖延的，收回土地使用权。", 0, 1), article)]
    parts = [
        (Unit("投资者应向开发区管理机构提出申请。", 0, 0), other),
        (Unit("无正当理由拖延的，收回土地使用权。", 1, 1), article),
    ]
    merged = _merged(whole, parts)
    assert [u.text for u, _ in merged] == [
        "无正当理由拖延的，收回土地使用权。",
        "投资者应向开发区管理机构提出申请。",
    ]
    assert _merged(whole, []) == whole and _merged([], parts) == parts


@pytest.mark.parametrize(
    ("message", "counts"),
    [
        # a plan's and a regulation's list questions with a bare count after them
        ("“数据要素×”行动计划的重点行动覆盖了哪些行业？一共几个？", True),
        ("条例规定了哪些不得交易的情形？总共有多少种？", True),
        # a second part that asks something of its own
        ("有哪些重点任务？由谁牵头？", False),
        ("按什么原则共享，靠哪几张清单来管？", False),
    ],
)
def test_a_bare_count_after_a_list_question(message: str, counts: bool) -> None:
    from rag.decompose import counts_the_list

    assert counts_the_list(question_parts(message)) is counts
