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
    in_corpus: Callable[[str], bool] | None = None,
) -> list[Passage]:
    """The first passage of every child section, in order, or [] when not an outline question.

    A parent heading qualifies when it covers the question's terms clearly better than any
    passage body, or when it names what the list question asks for ("经历了哪几个阶段" and
    "1.1 …呈现“四阶段”发展趋势") and still covers the question as well as the bodies do:
    a colloquial question's other words need not be in the heading."""
    if not passages or not weights or not is_list_question(question):
        return []
    named = _quoted_heading(question, passages, chunks) or _named_heading(
        question, passages, chunks, in_corpus
    )
    if named:
        return named
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
        skip = _title_depth(chunks(passage.doc_id))
        for depth in range(len(parts), skip, -1):
            if not any(_most_of(q, parts[depth - 1]) for q in wanted):
                continue
            parent = " > ".join(parts[:depth])
            children = _first_chunk_per_child(passage.doc_id, parent, chunks)
            if len(children) >= MIN_CHILDREN:
                return [Passage(c.id, c.text, c.metadata, score=1.0) for c in children]
    return []


def _most_of(quoted: str, heading: str) -> bool:
    """Whether a quoted phrase is the heading or most of it (without its ordinal): "“数字经济”"
    is a word of the heading 《“十四五”数字经济发展规划》, not a name for that section."""
    name = _heading_name(heading)
    return quoted in name and 2 * len(quoted) > len(name)


def _heading_name(heading: str) -> str:
    """A heading without its ordinal and closing punctuation ("（四）推进治理。" -> "推进治理")."""
    return _ORDINAL.sub("", heading.strip()).rstrip("。．.；;：:")


def _title_depth(document: Sequence[ChunkRecord]) -> int:
    """1 when a heading stands above every section of a document (its title, which is not
    one of its sections), else 0."""
    sections = [str(c.metadata.get("section", "")).split(" > ") for c in document]
    roots = {parts[0] for parts in sections}
    return 1 if len(roots) == 1 and all(len(parts) > 1 for parts in sections) else 0


# The ordinal a heading starts with: "三、", "（二）", "3.2 ", "第四章 ".
_ORDINAL = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+(?:\.\d+)*\s*"
    r"|第[一二三四五六七八九十百\d]+[编章节]\s*)"
)
_BOOK_TITLE = re.compile(r"《[^》]*》")
MIN_NAMED_HEADING = 4  # shorter headings ("总则") are too common to name one section


def _named_heading(
    question: str,
    passages: list[Passage],
    chunks: DocumentChunks,
    in_corpus: Callable[[str], bool] | None = None,
) -> list[Passage]:
    """A list question that names a heading of a retrieved document without quoting it
    ("行动计划的重点行动覆盖了哪些行业" and "三、重点行动") asks for that section's parts.

    Official documents refer to their own parts by heading ("重点任务", "保障措施"), and so do
    readers. The whole heading, less its ordinal, must stand in the question, and not as the
    start of a longer phrase the documents use: in "公共数据开放分成哪几类" the question is about
    公共数据开放, not about the chapter 公共数据. A document's title is not one of its
    sections. The longest heading named wins (the most specific section)."""
    best: tuple[int, str, str] | None = None  # (length, doc id, section path)
    # What the question puts in book-title marks names a document, not a section.
    plain = _BOOK_TITLE.sub("", question)
    for doc_id in dict.fromkeys(p.doc_id for p in passages[:3]):
        document = chunks(doc_id)
        sections = [str(c.metadata.get("section", "")).split(" > ") for c in document]
        skip = _title_depth(document)  # a document's title is not one of its sections
        for parts in sections:
            for depth, part in enumerate(parts, start=1):
                name = _heading_name(part)
                if (
                    depth > skip
                    and len(name) >= MIN_NAMED_HEADING
                    and name in plain
                    and not _extended(plain, name, in_corpus)
                    and (best is None or len(name) > best[0])
                ):
                    best = (len(name), doc_id, " > ".join(parts[:depth]))
    if best is None:
        return []
    children = _first_chunk_per_child(best[1], best[2], chunks)
    if len(children) < MIN_CHILDREN:
        return []
    return [Passage(c.id, c.text, c.metadata, score=1.0) for c in children]


def _extended(question: str, name: str, in_corpus: Callable[[str], bool] | None) -> bool:
    """Whether the question goes on from ``name`` into a longer phrase the corpus uses."""
    after = question[question.index(name) + len(name) :][:2]
    return (
        in_corpus is not None
        and len(after) == 2
        and all("\u4e00" <= c <= "\u9fff" for c in after)
        and in_corpus(name + after)
    )


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
