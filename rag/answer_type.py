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

# Numbers as the texts write them. Laws and regulations spell quantities in Chinese numerals
# (the drafting convention: "不得少于三十日", "不低于百分之三十", "一千五百平方米"), reports and
# plans mostly in digits ("15日内", "300个"). A numeral counts when a measure word or unit
# follows it; an ordinal (第三条), a calendar date or a vague "一批" counts nothing.
_CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿"
# Units of measure (people, time, money, area, length, weight), then the classifiers that count.
MEASURE_UNIT = (
    r"(?:人|名|户|床|工作日|日|天|周|年|小时|分钟|万元|亿元|元|平方米|平方公里|公里|千米|米"
    r"|亩|公顷|吨|立方米)"
)
UNIT = rf"(?:{MEASURE_UNIT}|个|项|类|级|家|座|条|种|层|大|方面|次|倍|亿|所|处|张|台|辆|件|份)"
_QUANTITY = re.compile(
    # A year ("2027年", "2024—2026年"), a month ("6月") or a day of a date ("5月15日") dates
    # an event; a count of days or years ("15日内", "3年") is a quantity.
    r"(?<![\d.—\-–月])(?!\d{4}\s*年)\d+(?:\.\d+)?(?![\d.]|\s*(?:月|号|[—\-–]\s*\d))"
    rf"|(?<![第{_CN_NUMERAL}])[{_CN_NUMERAL}]+{UNIT}"
    rf"|百分之[{_CN_NUMERAL}点]+|[%％]"
    # A multiple of a base is a quantity too: plans set targets as "规模倍增", "翻一番",
    # laws cut fees "减半收取".
    r"|倍增|翻了?[一两二三四]?番|减半"
)

_GENERIC_FIELD = r"有关|相关|其他|其它|行业|职能|业务|责任|同级|政府|主管|上级|下级|各[级类]"
_PERCENT = re.compile(r"百分之|[%％]")

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
            r"|[〇○零一二三四五六七八九]{4}年|[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日"
            r"|自[\u4e00-\u9fff]{1,8}之日起"
        ),
    ),
    AnswerType(
        "数量",
        # "好几个系统", "这几个", "十几个", "近几年" state a number; only a bare "几个" or
        # "免几年" asks one.
        re.compile(
            r"多少|多大|(?<![哪好这那十近前后])几(?:[个家项座条次倍]|年|天|日|人|名|户|小时)"
            r"|规模|比例|金额|数量|排名|第几"
        ),
        _QUANTITY,
    ),
    AnswerType(
        "金额",
        # A money noun names what is counted only when a quantity is asked of it: "研究与开发
        # 费用用于农业的部分不低于多少" asks a share, "要交费用吗" asks whether.
        re.compile(
            r"多少钱|多少资金|多少经费|[投花]了?多少"
            r"|(?:费用|预算|投资额|造价|资金规模|经费)(?:是|为|有|要|需要|大概)?(?:多少|几)"
        ),
        re.compile(r"\d[\d.,]*\s*[万亿千百]?元|[一二两三四五六七八九十百千万亿]+元"),
    ),
    AnswerType(
        "比例",
        re.compile(r"百分之几|百分比|占比|比例|比重|几成|几比几"),
        re.compile(
            rf"{_PERCENT.pattern}|[一二三四五六七八九十]成|\d+\s*[:：比]\s*\d+"
            r"|[一二三四五六七八九十]比[一二三四五六七八九十]"
        ),
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
            # Laws name a body by its field: after an administrative level ("市科技部门"),
            # as a 行政/主管 department ("卫生行政主管部门"), or as the subject of a duty
            # ("科技部门负责…"). A determiner or a generic noun ("有关部门", "行业主管部门")
            # names none, nor does a verb's object ("支持部门、地方…").
            rf"|(?:[市县省区镇州]|级|政府)(?!{_GENERIC_FIELD})[\u4e00-\u9fff]{{2,4}}?"
            r"(?:行政)?(?:主管)?部门"
            rf"|(?!{_GENERIC_FIELD})[\u4e00-\u9fff]{{2}}(?:行政主管|行政|主管)部门"
            rf"|(?!{_GENERIC_FIELD})[\u4e00-\u9fff]{{2}}部门(?=负责|应当|会同|牵头|组织|依法)"
            # ... or by its function ("城建档案管理机构", "质量检测机构"); "有关管理机构" is none.
            rf"|(?:(?!{_GENERIC_FIELD}|该|此|本)[\u4e00-\u9fff]){{2,6}}"
            r"(?:管理|服务|检测|检验|监测|鉴定|认证|评估|培训|仲裁|调解|登记)机构"
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


# A sentence that ends in 吗 is a yes/no question: an interrogative word inside it is used
# indefinitely (疑问代词的虚指): "给多少补贴吗？" asks whether, not how much. Only its own
# clause: in "留多少家，国家给了上限吗？" the first clause asks its own question.
_POLAR_QUESTION = re.compile(r"[^。？?！!，,；;]*吗\s*[？?]?")


# 几 after a verb in a clause that only sets the scene means "a few" (不定数): "挑几个点先试试，
# 这段时间是哪几年？" asks for years, not a count. Only where a later clause of the sentence
# asks its own question, and not in the frames that ask a count ("有几个", "一共几个").
_SENTENCE = re.compile(r"[^。？?！!]+[。？?！!]?")
_WH = re.compile(r"哪|什么|谁|怎|多少|几|啥|多大|多久|如何|为什么|为何")
_TOTAL = re.compile(r"一共|总共|共计|总计|合计")
_INDEFINITE_JI = re.compile(
    r"(?<=[\u4e00-\u9fff])(?<![有是要需共哪好这那十近前后第])几(?=[个家项座条点处件次])"
)


def _asked_text(question: str) -> str:
    """The question without what asks nothing: polar clauses and indefinite 几."""
    out = []
    for sentence in _SENTENCE.findall(_POLAR_QUESTION.sub("", question)):
        clauses = re.split(r"(?<=[，,；;])", sentence)
        if len(clauses) > 1 and _WH.search(clauses[-1]):
            clauses = [
                c if _TOTAL.search(c) else _INDEFINITE_JI.sub("", c) for c in clauses[:-1]
            ] + clauses[-1:]
        out.append("".join(clauses))
    return "".join(out)


def expected_types(question: str) -> list[AnswerType]:
    asked = _asked_text(question)
    return [t for t in ANSWER_TYPES if t.question.search(asked)]


def answer_categories(question: str, nouns: Sequence[str]) -> set[str]:
    """The ``nouns`` that are the category an answer-type interrogative asks for ("哪个省份",
    "哪些部门", "什么企业"): the passages name an instance of it (浙江, 市数据局), seldom the
    category word itself, and ``missing_types`` checks that an instance is there."""
    asked = _asked_text(question)
    matches = [
        m
        for kind in ANSWER_TYPES
        if kind.answer is not None or kind.pos
        for m in kind.question.finditer(asked)
    ]
    # the interrogative's own noun overlaps its match ("哪个省|份", "哪些部门"); a word after
    # it ("由谁|任命") is the predicate, not the category
    return {
        noun
        for noun in nouns
        if noun and any(0 <= asked.find(noun, m.start()) < m.end() for m in matches)
    }


def names_answer_category(question: str, noun: str) -> bool:
    return noun in answer_categories(question, [noun])


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
    expected = expected_types(question)
    asks_share = any(t.name == "比例" for t in expected)
    for kind in expected:
        # What the question itself names ("上海城市运行管理中心") is not an answer to it.
        found = kind.answer is not None and any(
            not _names_question_entity(m.group(0), question)
            and (
                kind.name != "数量"
                or not measured
                or _near(answer, m, measured)
                # a percentage is the measure a proportion question asks for
                or (asks_share and _PERCENT.search(m.group(0)) is not None)
            )
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
