"""The "文档信息" passage: a document's identity facts, one labelled line each.

Written at ingest from a document's header (``ingest.metadata``), read when a question asks
for one of those facts ("以什么文号印发的", "哪几个部门印发的", "落款日期是哪天"): the answer is
the labelled line, cited like any passage. Below both ingest and rag.
"""

from __future__ import annotations

import re

INFO_HEADING = "文档信息"
NUMBER, ISSUERS, AUTHORS, JOURNAL, DATE, TYPE, CITATION = (
    "文号",
    "发文机关",
    "作者",
    "期刊",
    "日期",
    "文件类型",
    "引用格式",
)

# What a question about a document's identity asks for, by the way Chinese asks it.
_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (NUMBER, re.compile(r"文号|发文字号|第几号|什么号|几号文")),
    (
        ISSUERS,
        re.compile(
            r"(?:哪|什么|谁)[^，。？?]{0,8}(?:印发|发布|发文|制定|出台|联合)"
            r"|(?:印发|发布|发文)(?:机关|部门|单位|机构)|以[^，。？?]{0,4}名义"
        ),
    ),
    (
        DATE,
        re.compile(
            r"(?:哪天|哪一天|什么时候|何时|日期|哪年)[^，。？?]{0,8}"
            r"(?:印发|发布|通过|成文|出台|生效|[施实]行)"
            r"|(?:印发|发布|通过|成文|落款|标注|生效|施行)[^，。？?]{0,6}"
            r"(?:日期|时间|哪天|哪一天)"
        ),
    ),
    # "作者是谁", not "作者来自哪个机构": the affiliation is in the text, not in the header.
    (AUTHORS, re.compile(r"作者(?:是谁|有谁|有哪些|都有谁|叫什么|是哪几位)|谁写的|哪几位作者")),
)


# Taking effect (施行/生效) is its own date: a line giving only the dates a text was passed or
# approved (通过, 批准) does not say when it takes effect. (实施 is what measures and projects
# do too, so "什么时候实施" is not taken as a question about the document. "开始实行" is how a
# reader often says 施行 of a whole law.)
_EFFECT = re.compile(r"施行|生效|实施(?!方案|意见|细则|办法|计划)")
_ASKS_EFFECT = re.compile(
    r"(?:哪天|哪一天|什么时候|何时|日期|哪年)[^，。？?]{0,8}"
    r"(?:[施实]行|生效|实施(?!方案|意见|细则|办法|计划))"
    r"|(?:施行|生效)(?:日期|时间)"
)


# Laws, regulations and rules end with their own effect clause ("本条例自1995年1月1日起施行",
# "本办法自公布之日起施行"): the text states the date even where the header does not.
_EFFECT_CLAUSE = re.compile(
    r"本(?:条例|规定|办法|细则|决定|法|规则|实施办法|实施细则)自[^。；;]{2,30}?(?:起)?(?:施行|生效)"
)


def asks_effect(question: str) -> bool:
    return _ASKS_EFFECT.search(question) is not None


def effect_clause(text: str) -> str | None:
    """The sentence of ``text`` that puts the document into effect, if it has one."""
    match = _EFFECT_CLAUSE.search(text)
    if match is None:
        return None
    start = max(text.rfind(mark, 0, match.start()) for mark in "。\n；") + 1
    end = text.find("。", match.end())
    return text[start : end + 1 if end >= 0 else len(text)].strip()


def answers_fact(question: str, line: str) -> bool:
    """Whether a 文档信息 line answers what the question asks of its label."""
    if fact_label(line) == DATE and _ASKS_EFFECT.search(question):
        return bool(_EFFECT.search(line))
    return True


def asked_facts(question: str) -> list[str]:
    """The identity facts (labels) a question asks for, in the order of ``_ASKS``."""
    return [label for label, pattern in _ASKS if pattern.search(question)]


def fact_label(line: str) -> str:
    """The label of a 文档信息 line ("文号：国发〔2021〕29号" -> 文号)."""
    return line.split("：", 1)[0] if "：" in line else ""
