"""Short names the documents define ("（以下简称科技部门）") are learned and used as wordings."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_text

from rag.aliases import learn_aliases

REGULATION = """# 某省科学技术普及条例

第五条 县级以上人民政府科学技术行政部门（以下简称科技部门）负责本行政区域内的科普工作。

第六条 科技部门应当会同有关部门制定科普规划，报本级人民政府批准后实施。
"""

POLICY = """# 关于推进数据要素市场建设的实施意见

为贯彻落实《中共中央 国务院关于构建数据基础制度更好发挥数据要素作用的意见》
（以下简称“数据二十条”），推动横琴粤澳深度合作区（以下简称合作区）数据跨境流动试点，提出如下意见。

一、数据二十条明确了数据产权、流通交易、收益分配、安全治理四项制度。
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (REGULATION, [("县级以上人民政府科学技术行政部门", "科技部门")]),
        (
            POLICY,
            [
                ("中共中央 国务院关于构建数据基础制度更好发挥数据要素作用的意见", "数据二十条"),
                ("横琴粤澳深度合作区", "合作区"),
            ],
        ),
        # A name stands in a clause: the verb or preposition before it is not part of it.
        (
            "应当向市人民代表大会常务委员会（以下简称市人大常委会）报告。",
            [("市人民代表大会常务委员会", "市人大常委会")],
        ),
        (
            "第十二条 机动车驾驶员培训经营者（以下简称培训经营者）应当",
            [("机动车驾驶员培训经营者", "培训经营者")],
        ),
    ],
)
def test_definitions_are_learned(tokenizer, text: str, expected: list[tuple[str, str]]) -> None:
    assert learn_aliases([text], tokenizer.pos_cut) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "本条例所称科普，是指普及科学知识。",  # no definition
        "沿岸范围（以下简称一江一河沿岸地区）内",  # the short name does not abbreviate it
        "行政法规规定需要评估的（以下简称法定评估）",  # a description, not a name
        "（以下简称科技部门）开头就定义",  # nothing before the parenthesis
    ],
)
def test_no_alias_without_a_named_full_form(tokenizer, text: str) -> None:
    assert learn_aliases([text], tokenizer.pos_cut) == []


def test_huge_text_without_definitions_is_cheap(tokenizer) -> None:
    assert learn_aliases(["城市数字化转型。" * 200_000], tokenizer.pos_cut) == []


def test_questions_use_either_name(tmp_path: Path, settings_for, open_assistant) -> None:
    """Asked with the short name, the passage written with the full one counts as covering it
    (and the other way round), in a regulation and in a policy text."""
    settings = settings_for(tmp_path / "home", tmp_path / "corpus")
    write_text(settings.corpus_dir / "条例.md", REGULATION)
    write_text(
        settings.corpus_dir / "意见.md",
        POLICY
        + "\n二、建立白名单制度\n\n"
        + "合作区应当建立数据跨境流动白名单制度，白名单每年更新一次。\n",
    )
    assistant = open_assistant(settings)
    assistant.ingest([settings.corpus_dir])
    assert ("县级以上人民政府科学技术行政部门", "科技部门") in assistant.store.aliases(
        assistant.tokenizer.pos_cut
    )
    terms = assistant.retriever.analyzer.terms("县级以上人民政府科学技术行政部门要制定什么规划？")
    assert any("科技部门" in t.split("|") for t in terms.content)
    answer = assistant.ask("横琴粤澳深度合作区的白名单多久更新一次？")
    assert not answer.refused and "每年更新一次" in answer.text
    assert answer.citations[0].doc_title.startswith("关于推进数据要素市场建设")
