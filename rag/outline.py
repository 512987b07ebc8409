"""Answers that are a document's structure: "有哪六条主导路径？", "提出了哪些建议？".

When a list question is about a parent heading ("3 城市数字化转型六大主导路径") better than about
any passage body, the answer lists the parent's child sections: each child's heading and its
first sentence, cited. The heading is part of the cited passage's ``section``, which the
verifier reads together with the passage text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.extractive import is_list_question, split_units
from rag.query import coverage
from rag.store import ChunkRecord
from rag.types import Passage

MIN_PARENT_COVERAGE = 0.9
MIN_ADVANTAGE = 0.1  # parent title must cover the question this much better than any body
MIN_CHILDREN = 2
# One document's chunks in reading order, those the question's filters admit.
DocumentChunks = Callable[[str], Sequence[ChunkRecord]]


def outline_passages(
    question: str,
    weights: dict[str, float],
    passages: list[Passage],
    chunks: DocumentChunks,
    listed: str = "",
) -> list[Passage]:
    """The first passage of every child section, in order, or [] when not an outline question.

    A parent heading qualifies when it covers the question's terms clearly better than any
    passage body, or when it names what the list question asks for ("经历了哪几个阶段" and
    "1.1 …呈现“四阶段”发展趋势") and still covers the question as well as the bodies do:
    a colloquial question's other words need not be in the heading."""
    if not passages or not weights or not is_list_question(question):
        return []
    quoted = _quoted_heading(question, passages, chunks)
    if quoted:
        return quoted
    best_body = max(coverage(weights, p.text) for p in passages[:3])
    for top in passages[:3]:
        parts = top.section.split(" > ")
        if len(parts) < 2:
            continue
        parent_cov = coverage(weights, parts[-2])
        names_asked = bool(listed) and listed in parts[-2]
        if (parent_cov >= MIN_PARENT_COVERAGE and parent_cov >= best_body + MIN_ADVANTAGE) or (
            names_asked and parent_cov >= best_body
        ):
            children = _first_chunk_per_child(top.doc_id, " > ".join(parts[:-1]), chunks)
            if len(children) >= MIN_CHILDREN:
                return [Passage(c.id, c.text, c.metadata, score=parent_cov) for c in children]
    return []


_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{4,40})[”\"」』]")


def _quoted_heading(
    question: str, passages: list[Passage], chunks: DocumentChunks
) -> list[Passage]:
    """A list question that quotes a heading of a retrieved document ("“全领域推进城市数字化转型”
    分了哪几块") asks for that heading's parts: its child sections, when it has at least two.

    Official documents are cited by their headings, so a quoted phrase that is a heading (or
    most of one, without its number) names the section better than any ranking does."""
    wanted = [q for q in _QUOTED.findall(question)]
    if not wanted:
        return []
    for passage in passages:
        parts = passage.section.split(" > ")
        for depth in range(len(parts), 0, -1):
            if not any(q in parts[depth - 1] for q in wanted):
                continue
            parent = " > ".join(parts[:depth])
            children = _first_chunk_per_child(passage.doc_id, parent, chunks)
            if len(children) >= MIN_CHILDREN:
                return [Passage(c.id, c.text, c.metadata, score=1.0) for c in children]
    return []


def _first_chunk_per_child(doc_id: str, parent: str, chunks: DocumentChunks) -> list[ChunkRecord]:
    firsts: dict[str, ChunkRecord] = {}
    for chunk in chunks(doc_id):  # in reading order: the first chunk of a child comes first
        section = str(chunk.metadata.get("section", ""))
        if section.startswith(parent + " > "):
            firsts.setdefault(section[len(parent) + 3 :].split(" > ")[0], chunk)
    return sorted(firsts.values(), key=lambda c: c.metadata["char_start"])


def outline_lines(passages: list[Passage]) -> list[str]:
    """ "<child heading>：<first sentence>" for each child passage."""
    lines = []
    for p in passages:
        units = split_units(p.text)
        heading = section_heading(p)
        # "（一）建立城市数字化共性基础。" ends as a sentence; the colon replaces its stop.
        label = heading.rstrip("。．.；;：:")
        lines.append(f"{label}：{units[0]}" if units else heading)
    return lines


def section_heading(passage: Passage) -> str:
    """The innermost heading of a passage's section ("3.2 数字底座驱动路径"), or ""."""
    return passage.section.split(" > ")[-1].strip()
