"""Split a question about several parallel items into one question per item, without an LLM.

"青岛和杭州的案例分别对应哪条路径？" -> "青岛的案例对应哪条路径？", "杭州的案例对应哪条路径？".
Each part is retrieved and answered on its own, so the answer covers every item instead of
only the one whose passage happens to rank first.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PosCut = Callable[[str], list[tuple[str, str]]]

# "分别/各自" is what makes "A和B" a request for one answer per item.
_EACH = ("分别", "各自", "各是", "各有")
_CONJUNCTIONS = frozenset({"和", "与", "及", "、", "以及"})
# Words that end an item: "在技术维度和管理维度上", "“6123”中的“1”和“2”".
_BOUNDARIES = frozenset(
    {"的", "在", "上", "中", "里", "对", "从", "把", "给", "为", "是", "之间", "方面"}
)
_QUOTES = frozenset('“”"‘’「」《》')
MAX_ITEM_TOKENS = 4
MAX_ITEM_CHARS = 12
MAX_PARTS = 4


def split_parallel(question: str, pos_cut: PosCut) -> list[str]:
    """One question per coordinated item, or [] when the question is not of that kind."""
    each = next((w for w in _EACH if w in question), None)
    if each is None:
        return []
    words = [w for w, _ in pos_cut(question)]
    starts = _offsets(words)
    each_at = next(i for i, w in enumerate(words) if w in _EACH or each.startswith(w))
    conj = max((i for i in range(each_at) if words[i] in _CONJUNCTIONS), default=None)
    if conj is None:
        return []
    last = _item(words, conj + 1, step=1)
    if last is None:
        return []
    items = [last]
    i = conj
    while i >= 0 and words[i] in _CONJUNCTIONS and len(items) < MAX_PARTS:
        item = _item(words, i - 1, step=-1)
        if item is None:
            return []
        items.insert(0, item)
        i = item[0] - 1
    span_start, span_end = starts[items[0][0]], starts[items[-1][1]] + len(words[items[-1][1]])
    texts = ["".join(words[a : b + 1]) for a, b in items]
    # "技术、业务和管理维度": bare two-character items share the last item's head ("维度").
    if len(texts[-1]) >= 4 and all(len(t) <= 2 for t in texts[:-1]):
        texts = [t + texts[-1][-2:] for t in texts[:-1]] + [texts[-1]]
    rest_before, rest_after = question[:span_start], question[span_end:]
    rest_after = rest_after.replace(each, "", 1)
    return [rest_before + t + rest_after for t in texts]


def _item(words: list[str], at: int, step: int) -> tuple[int, int] | None:
    """Token span (first, last) of the item starting at ``at`` and growing by ``step``."""
    taken: list[int] = []
    i = at
    while 0 <= i < len(words):
        word = words[i]
        if word in _BOUNDARIES or word in _CONJUNCTIONS or word.startswith(_EACH):
            break
        if not word.strip() or (not word[0].isalnum() and word not in _QUOTES):
            break
        taken.append(i)
        if sum(1 for j in taken if words[j] not in _QUOTES) > MAX_ITEM_TOKENS:
            return None
        i += step
    if not taken or not any(words[j] not in _QUOTES for j in taken):
        return None
    first, last = min(taken), max(taken)
    if sum(len(words[j]) for j in range(first, last + 1)) > MAX_ITEM_CHARS:
        return None
    return first, last


def _offsets(words: list[str]) -> list[int]:
    offsets, pos = [], 0
    for word in words:
        offsets.append(pos)
        pos += len(word)
    return offsets


# ----- several questions in one message ---------------------------------------------------
# Interrogative words and sentence-final particles of Chinese questions.
_QUESTION_WORD = re.compile(
    r"什么|哪|多少|多[大久长高远宽]|第几|几[个条项类种年天日月]|谁|何时|何地|怎么|怎样|如何|是否"
    r"|有没有|能不能|可不可以|吗|呢|为什么|为何|为啥"
)
_SENTENCE_BREAK = re.compile(r"(?<=[？?])")
_CLAUSE_BREAK = re.compile(r"(?<=[，,；;])")
MIN_PART_CHARS = 4


def split_questions(message: str) -> list[str]:
    """The questions a message asks one after another, or [] when it asks one.

    "《上海市数据条例》是哪天通过的，从什么时候开始施行？" asks two things: each clause holds its
    own interrogative. A clause without one belongs to its neighbour: before the first
    question it sets the topic ("可信数据空间那个行动计划，到2028年要建成多少个…"), after one it
    adds to it ("…分成哪几类？我说的是上海那部。"). A later part that does not name the
    document the first part names ("从什么时候开始施行") is asked about that document; when no
    part names a document, see ``question_parts``."""
    return questions_about_documents(question_parts(message))


def questions_about_documents(parts: list[str]) -> list[str]:
    """``split_questions`` of a message already split by ``question_parts``: each part with
    the document it is asked about, or [] when a part names none."""
    if not parts:
        return []
    named = _DOCUMENT_NAME.search(parts[0])
    topic = named.group(0) if named else ""
    later = [p if _DOCUMENT_NAME.search(p) else topic + p for p in parts[1:]]
    if not all(_DOCUMENT_NAME.search(p) for p in later):
        return []  # a part that names no document would be asked about nothing in particular
    return [parts[0], *later]


def question_parts(message: str) -> list[str]:
    """The question clauses of a message, each with the clauses that belong to it, or []
    when it asks one thing. Parts that name no document are about what the whole message is
    about: the caller answers them from the document the whole message retrieves."""
    parts: list[str] = []
    for sentence in _SENTENCE_BREAK.split(message):
        # Within a sentence, a clause without an interrogative sets up the question that
        # follows it ("批下来以后要是拖着不开工，会有什么后果？"); a sentence without any adds
        # to the question before it ("…分成哪几类？我说的是上海那部。").
        pending = ""
        asked = False
        for clause in _CLAUSE_BREAK.split(sentence):
            clause = clause.strip()
            if not clause:
                continue
            if _QUESTION_WORD.search(clause):
                parts.append(pending + clause)
                pending, asked = "", True
            elif asked:
                parts[-1] += clause
            else:
                pending += clause
        if pending and parts and not asked:
            parts[-1] += pending
        elif pending:
            parts.append(pending)  # topic-only text before any question: kept with it below
    # A leading part without an interrogative ("可信数据空间那个行动计划，") is the topic of
    # the first question.
    while len(parts) >= 2 and not _QUESTION_WORD.search(parts[0]):
        parts[:2] = [parts[0] + parts[1]]
    parts = [p for p in parts if len(p) >= MIN_PART_CHARS]
    return parts if 2 <= len(parts) <= MAX_PARTS else []


# What names a document: a title in book-title marks, or a phrase ending in a genre word.
_DOCUMENT_NAME = re.compile(
    r"《[^《》]{2,80}》"
    # titles also hold ×, ·, dashes and digits ("“数据要素×”三年行动计划", "十四五")
    r"|[\u4e00-\u9fff“”\"×·—\d]{2,30}?(?:条例|规划|行动计划|计划|实施方案|方案|意见|指引|规定|决定)"
)


# "一共几个？", "总共有多少项？": a part that asks only how many of what the message lists.
_BARE_COUNT = re.compile(
    r"^(?:一共|总共|共计|总计|合计|共)?(?:有|是)?(?:几|多少)(?:个|项|类|条|种|方面|部分|块)?"
    r"(?:呢|啊)?[？?。]*$"
)


def counts_the_list(parts: list[str]) -> bool:
    """Whether every part but the first only asks how many: a list of all the items answers
    that too ("重点行动覆盖了哪些行业领域？一共几个？")."""
    rest = [_DOCUMENT_NAME.sub("", p).strip(" ，,") for p in parts[1:]]
    return bool(rest) and all(_BARE_COUNT.match(r) for r in rest)
