"""Rewrite a chat follow-up into a standalone question, without an LLM.

* "那管理维度呢？" after "技术维度包括哪些层级？" -> "管理维度包括哪些层级？"
  (the new topic replaces the previous question's topic of the same taxonomy kind, or its
  subject phrase);
* "它包括哪些环节？" after "业务维度是什么？" -> "业务维度包括哪些环节？"
  (a pronoun is replaced by the previous topic);
* "第三阶段呢？" after "第一阶段有什么特点？" -> "第三阶段有什么特点？" and "那“3”呢？" after
  "“6”指什么？" -> "“3”指什么？" (a parallel item of the same shape is replaced);
* anything else that is elliptical (a reference back, or a short message without a topic of
  its own) is retrieved together with the previous question; a new question stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from rag.taxonomy import Taxonomy, label_forms

PosCut = Callable[[str], list[tuple[str, str]]]

_WHAT_ABOUT = re.compile(
    r"^(?:那么?|那个|还有|另外|然后)?\s*(?P<topic>.+?)\s*(?:呢|怎么样|又如何|如何呢)[？?。!！]*$"
)
_PRONOUN = re.compile(
    r"^(?:那么?|那)?(?:它们|它|其|该路径|该维度|这个|这些|这一|这|该|此|上述|前者|后者)"
)
_SUBJECT_END = re.compile(
    r"(?:包括|包含|是指|是什么|是|有哪些|有什么|有|指|的|主要|如何|怎么|为什么|分为|由|在|对"
    r"|从|做了|先后|已经|目前|如何|怎样|采取|开展|推进|通过|提出|发布)"
)
_ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+([\u4e00-\u9fff]{1,3})")
_QUOTED = re.compile(r"[“\"「]([^”\"」]{1,20})[”\"」]")
_SHORT = 12
_MAX_SUBJECT = 10


def standalone_question(
    history: Sequence[Any],
    message: str,
    taxonomy: Taxonomy,
    pos_cut: PosCut | None = None,
) -> str:
    """The question to retrieve with; ``message`` itself when it already stands alone.

    Only an elliptical message is rewritten: "那…呢", a pronoun, a reference back ("上面说的"),
    or a short message without a topic of its own ("为什么？", "有哪些特点？"). A short question
    with its own subject ("作者是谁？", "青岛对应哪条路径？") is a new question, answered as it is
    (with ``pos_cut``, a part-of-speech tokenizer, to tell them apart; without one every short
    message counts as elliptical)."""
    previous = last_user_question(history)
    message = message.strip()
    if not previous:
        return message
    what_about = _WHAT_ABOUT.match(message)
    if what_about:
        return _swap_topic(previous, what_about.group("topic"), taxonomy)
    pronoun = _PRONOUN.match(message)
    if pronoun:
        return previous_topic(previous, taxonomy) + message[pronoun.end() :]
    glued = f"{previous.rstrip('？?。')}，{message}"
    if _REFERS_BACK.search(message):
        return glued
    short = len(message) <= _SHORT and not _mentions_label(message, taxonomy)
    if short and (pos_cut is None or _CONTINUES.match(message) or not _own_topic(message, pos_cut)):
        return glued
    return message


# A message that goes on from the last answer: "那钱从哪来？", "还有呢", "另外…".
_CONTINUES = re.compile(r"^(?:那么?|那|还有|另外|然后|再)(?![是])")
# A reference back to what was said: "上面说的…", "刚才提到的…", "前述…".
_REFERS_BACK = re.compile(r"上面|上述|刚才|前面(?:说|提)|前述|你说的|文中提到的")
# Parts of speech of a topic: nouns, names, places, organisations, Latin words. Verbal nouns
# ("经费", "对应") are left out: jieba gives them to predicates as often as to topics.
_TOPIC_POS = ("n", "nr", "ns", "nt", "nz", "nrt", "eng")
# What stands before the noun an interrogative asks for ("有哪些特点", "什么时候"), and before
# the object of a light verb with a measure word ("举个例子").
_ASKING_POS = ("r", "q", "mq", "m")


def _own_topic(message: str, pos_cut: PosCut) -> bool:
    """Whether a message names something of its own, other than what it asks for.

    A Chinese question puts its subject before the predicate that asks: in "作者是谁" and
    "青岛对应哪条路径" the noun before the interrogative is the topic. Nouns after it are
    what is asked ("有哪些城市的案例", "后来发展成什么版本"), of something the message leaves
    out; so is the object of a measure word ("举个例子")."""
    for word, flag in pos_cut(message):
        if not word.strip():
            continue
        if flag in _ASKING_POS:
            return False
        if flag in _TOPIC_POS and len(word) >= 2:  # one character is as often a verb ("成")
            return True
    return False


def last_user_question(history: Sequence[Any]) -> str:
    """The last user turn, from Gradio-style dicts or (user, assistant) pairs."""
    for turn in reversed(list(history or [])):
        if isinstance(turn, dict):
            if turn.get("role") == "user" and str(turn.get("content", "")).strip():
                return str(turn["content"]).strip()
        elif isinstance(turn, list | tuple) and turn and turn[0]:
            return str(turn[0]).strip()
    return ""


def previous_topic(question: str, taxonomy: Taxonomy) -> str:
    """The previous question's topic: its subject phrase ("上海", "业务维度"), else a taxonomy
    label it names, else the whole question."""
    match = _SUBJECT_END.search(question)
    if match and 0 < match.start() <= _MAX_SUBJECT:
        return question[: match.start()].strip(" ？?。")
    for label in taxonomy.all_labels:
        for name in label_forms(label):
            if name in question:
                return name
    return question.strip(" ？?。")


def _parallel_item(previous: str, topic: str) -> str | None:
    """The previous question with its item of the same shape as ``topic`` replaced."""
    ordinal = _ORDINAL.fullmatch(topic)
    if ordinal:
        same = re.search(r"第[一二三四五六七八九十\d]+" + re.escape(ordinal.group(1)), previous)
        if same:
            return previous[: same.start()] + topic + previous[same.end() :]
    quoted = _QUOTED.fullmatch(topic)
    if quoted:
        spans = list(_QUOTED.finditer(previous))
        if spans:  # the quoted item closest in length: "“3”" replaces "“6”", not "“6123”"
            best = min(spans, key=lambda m: abs(len(m.group(1)) - len(quoted.group(1))))
            return previous[: best.start()] + topic + previous[best.end() :]
    return None


def _swap_topic(previous: str, topic: str, taxonomy: Taxonomy) -> str:
    parallel = _parallel_item(previous, topic)
    if parallel is not None:
        return parallel
    new_label = _find_label(topic, taxonomy)
    if new_label is not None:
        new_forms = label_forms(new_label)
        for label in taxonomy.labels(new_label.kind):
            for i, name in enumerate(label_forms(label)):
                if name in previous:  # keep the previous wording's form: "…驱动路径" stays whole
                    return previous.replace(name, new_forms[i], 1)
    old = previous_topic(previous, taxonomy)
    if old and old in previous and old != previous.strip(" ？?。"):
        return previous.replace(old, topic, 1)
    return f"{topic}，{previous}"


def _find_label(text: str, taxonomy: Taxonomy) -> Any:
    for label in taxonomy.all_labels:
        if any(name in text for name in label_forms(label)):
            return label
    return None


def _mentions_label(text: str, taxonomy: Taxonomy) -> bool:
    return _find_label(text, taxonomy) is not None
