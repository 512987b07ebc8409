"""Rewrite a chat follow-up into a standalone question, without an LLM.

* "那管理维度呢？" after "技术维度包括哪些层级？" -> "管理维度包括哪些层级？"
  (the new topic replaces the previous question's topic of the same taxonomy kind, or its
  subject phrase);
* "它包括哪些环节？" after "业务维度是什么？" -> "业务维度包括哪些环节？"
  (a pronoun is replaced by the previous topic);
* anything else that looks elliptical is retrieved together with the previous question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rag.taxonomy import Taxonomy, label_forms

_WHAT_ABOUT = re.compile(
    r"^(?:那么?|那个|还有|另外|然后)?\s*(?P<topic>.+?)\s*(?:呢|怎么样|又如何|如何呢)[？?。!！]*$"
)
_PRONOUN = re.compile(
    r"^(?:那么?|那)?(?:它们|它|其|该路径|该维度|这个|这些|这一|这|该|此|上述|前者|后者)"
)
_SUBJECT_END = re.compile(
    r"(?:包括|包含|是指|是什么|是|有哪些|有什么|有|指|的|主要|如何|怎么|为什么|分为|由)"
)
_SHORT = 12


def standalone_question(history: Sequence[Any], message: str, taxonomy: Taxonomy) -> str:
    """The question to retrieve with; ``message`` itself when it already stands alone."""
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
    if len(message) <= _SHORT and not _mentions_label(message, taxonomy):
        return f"{previous} {message}"
    return message


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
    """The previous question's topic: a taxonomy label it names, else its subject phrase."""
    for label in taxonomy.all_labels:
        for name in label_forms(label):
            if name in question:
                return name
    match = _SUBJECT_END.search(question)
    subject = question[: match.start()] if match and match.start() > 0 else question
    return subject.strip(" ？?。")


def _swap_topic(previous: str, topic: str, taxonomy: Taxonomy) -> str:
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
    return f"{topic} {previous}"


def _find_label(text: str, taxonomy: Taxonomy) -> Any:
    for label in taxonomy.all_labels:
        if any(name in text for name in label_forms(label)):
            return label
    return None


def _mentions_label(text: str, taxonomy: Taxonomy) -> bool:
    return _find_label(text, taxonomy) is not None
