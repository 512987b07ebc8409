"""Expected answer types: a question asking "哪一年", "多少", "多久", "哪家企业" or "哪个城市" is
answered only if the answer actually contains a date, a number, a frequency or duration, an
organisation or a place.

Without this check, "杭州城市大脑2.0版本是哪一年发布的？" would be "answered" with the passage about
Hangzhou's city brain, which never gives the year.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PosCut = Callable[[str], list[tuple[str, str]]]


@dataclass(frozen=True)
class AnswerType:
    name: str  # shown to users in the refusal reason
    question: re.Pattern[str]
    answer: re.Pattern[str] | None = None
    pos: tuple[str, ...] = ()  # or: a word with one of these parts of speech
    not_pos: re.Pattern[str] | None = None  # ... unless the word matches this


# How close a number must stand to the thing a quantity question counts, within its clause.
NEAR_CHARS = 12
NOUN_PHRASE_CHARS = 40  # how far a counted noun phrase may run after its numeral
_CLAUSE_BREAK = re.compile(r"[。；;！？!?，,]")

_GENERIC_PLACES = frozenset(
    {"城市", "国家", "全国", "我国", "中国", "地方", "各地", "全市", "城乡"}
)

# Names of state bodies: governments, ministries, commissions, bureaus, offices, centres.
_GOVERNMENT_BODY = re.compile(r"(?:政府|机关|部|委员会|委|局|厅|办|办公室|中心|院|所|署|会)$")

ANSWER_TYPES = (
    AnswerType(
        "时间",
        re.compile(
            r"哪一年|哪年|何年|何时|何日|什么时候|什么时间|哪个时间|哪一天|哪天|哪日|几月|几号"
            r"|截至什么"
        ),
        # A law takes effect "自公布之日起": a date relative to an event is a date too.
        re.compile(
            r"\d{4}\s*年|\d{4}\s*[—\-–]\s*\d{4}|\d{1,2}\s*月|\d{4}"
            r"|[一二〇○零]{4}年|自[\u4e00-\u9fff]{1,8}之日起"
        ),
    ),
    AnswerType(
        "数量",
        # "好几个系统", "这几个", "十几个" state a number; only a bare "几个" asks one.
        re.compile(r"多少|多大|(?<![哪好这那十])几[个家项座条次倍]|规模|比例|金额|数量|排名|第几"),
        # A year, month or day ("2027年", "2024—2026年") dates an event; it counts nothing.
        re.compile(
            r"(?<![\d.—\-–])\d+(?:\.\d+)?(?![\d.]|\s*(?:年|月|日|号|[—\-–]\s*\d))"
            r"|[一二两三四五六七八九十百千万亿]+[个项类级家座条种层大方面次倍亿元]|[%％]"
        ),
    ),
    AnswerType(
        "金额",
        re.compile(r"多少钱|多少资金|多少经费|[投花]了?多少|费用|预算|投资额|造价|资金规模"),
        re.compile(r"\d[\d.,]*\s*[万亿千百]?元|[一二两三四五六七八九十百千万亿]+元"),
    ),
    AnswerType(
        "比例",
        re.compile(r"百分之几|百分比|占比|比例|比重|几成"),
        re.compile(r"[%％]|百分之|[一二三四五六七八九十]成"),
    ),
    AnswerType(
        "频次或时长",
        re.compile(r"多久|多长时间|多长周期|多频繁|频次|频率|间隔多长|几天一次|多少天"),
        re.compile(
            r"每[年月周天日季]|每季度|每半年|\d+\s*个?(?:年|月|周|天|日|小时|工作日)"
            r"|[一二两三四五六七八九十半]+个?(?:年|月|周|天|日|小时|工作日)"
        ),
    ),
    # A question's head noun says what kind of body answers it: "哪家公司开发建设的" asks for a
    # company, and a government (各级人民政府), a department or a centre is not one.
    AnswerType(
        "企业",
        re.compile(
            r"哪家(?:公司|企业)|哪[一二三四五六七八九十几]*[个家](?:企业|公司)"
            r"|哪些(?:企业|公司)|什么(?:企业|公司)|(?:企业|公司)(?:有|是)哪些"
        ),
        re.compile(r"[\u4e00-\u9fffA-Za-z]{2,}(?:公司|集团)"),
        ("nt", "nz"),
        _GOVERNMENT_BODY,
    ),
    AnswerType(
        "机构或单位",
        re.compile(
            r"哪家(?!公司|企业)|哪[一二三四五六七八九十几]*个(?:部门|部委|单位|机构)"
            r"|哪些(?:部门|单位|机构)"
            r"|什么(?:机构|部门|单位)|由谁|谁(?:牵头|负责|承建|建设)"
            r"|(?:部门|单位|机构)(?:有|是)哪些"
        ),
        re.compile(
            # Suffixes of organisation names; 布局/格局 and 数据中心/计算中心 are not bodies.
            r"[\u4e00-\u9fff]{2,}(?:(?<![内外全局])部(?![门署分件位])|委员会|委"
            r"|(?<![布格结全大开当])局(?![面部势限])|研究院|研究所|公司|集团"
            r"|(?<!数据)(?<!计算)(?<!算力)(?<!交换)中心|领导小组"
            r"|办公室|政府|大学|学院)"
        ),
        ("nt",),
    ),
    AnswerType(
        "地点",
        re.compile(
            r"哪个城市|哪座城市|哪些城市|哪个地方|哪些地方|哪个省|哪些省|哪里|哪个地区"
            r"|(?:城市|地方|省份|地区)(?:有|是)哪些"
        ),
        None,
        ("ns",),
    ),
)


def expected_types(question: str) -> list[AnswerType]:
    return [t for t in ANSWER_TYPES if t.question.search(question)]


def missing_types(
    question: str,
    sentences: Sequence[str],
    pos_cut: PosCut,
    anchors: Sequence[str] = (),
    measured: Sequence[str] = (),
) -> list[str]:
    """Names of the answer types the question asks for and the answer does not contain.

    When the question names something specific ("上海城市运行管理中心是哪个部门牵头成立的？") and
    some answer sentences mention it, only those sentences count: an organisation in a
    sentence about another city does not answer the question. ``measured`` holds the wordings
    of what a quantity question counts ("多少个数据集"): a number must stand next to it, not
    merely somewhere in the answer ("226个城市")."""
    anchored = [s for s in sentences if any(a and a in s for a in anchors)]
    answer = "".join(anchored or sentences)
    missing = []
    for kind in expected_types(question):
        # What the question itself names ("上海城市运行管理中心") is not an answer to it.
        found = kind.answer is not None and any(
            not _names_question_entity(m.group(0), question)
            and (kind.name != "数量" or not measured or _near(answer, m, measured))
            for m in kind.answer.finditer(answer)
        )
        if not found and kind.pos:
            found = any(
                flag in kind.pos
                and word not in _GENERIC_PLACES
                and word not in question
                and not (kind.not_pos is not None and kind.not_pos.search(word))
                for word, flag in pos_cut(answer)
            )
        if not found:
            missing.append(kind.name)
    return missing


def _names_question_entity(match: str, question: str) -> bool:
    """Whether a match is what the question itself names. Matches run over whole clauses
    ("如上海成立城市运行管理中心"), so a tail of four or more characters found in the question
    ("城市运行管理中心") counts too."""
    return any(match[start:] in question for start in range(max(len(match) - 3, 1)))


def _near(text: str, match: re.Match[str], words: Sequence[str]) -> bool:
    """Whether one of ``words`` is what the number counts: within a few characters before it,
    or after it in the same clause. A numeral-classifier phrase opens the noun phrase it
    counts, and the head noun closes it after any attributes ("300个以上示范性强、显示度高、
    带动性广的典型应用场景"), so the counted word may stand well after the number."""
    before = _CLAUSE_BREAK.split(text[max(0, match.start() - NEAR_CHARS) : match.start()])[-1]
    after = _CLAUSE_BREAK.split(text[match.end() : match.end() + NOUN_PHRASE_CHARS])[0]
    return any(w in before + match.group(0) + after for w in words)
