"""Structure-aware Chinese chunking as a llama-index ``NodeParser``.

The splitter recognises the structure of Chinese papers and official documents: Markdown
``#``, ``1`` / ``1.1`` / ``1.1.1``, ``第X编/章/节``, ``第X条`` (articles), the ordinal items of
文件 ``一、`` / ``（一）`` (also run into their paragraph: ``（一）加快建设信息网络基础设施。…``),
``附件`` / ``附录``, ``专栏`` and the signature block (issuing bodies and date) of a notice. It
keeps every chunk inside one section - so a chunk never spans two articles or two items - and
cuts only at sentence ends (。！？； and paragraph ends). Inside an article, ``（一）`` lines are
its 项 and stay in it; a long article is split at its paragraphs (款) and every piece keeps the
article in its section path. Each chunk is a verbatim slice ``text[char_start:char_end]`` of
the document, so citations can be checked against the source character for character.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.bridge.pydantic import Field
from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document, NodeRelationship, TextNode
from llama_index.core.utils import get_tqdm_iterable

_CN_NUM = "一二三四五六七八九十百零〇"
ARTICLE_LEVEL = 5
_ORDINAL_LEVELS = {"、": 3, "）": 4}  # 一、 (item) and （一） (sub-item) of official documents
_HEADING_PATTERNS: list[tuple[re.Pattern[str], int | None]] = [
    (re.compile(rf"^第[{_CN_NUM}\d]+编\s*\S*"), 1),
    (re.compile(r"^(?:附件|附录)(?:\s*\d+|[：:]|\s|$)"), 2),
    (re.compile(rf"^第[{_CN_NUM}\d]+章\s*\S*"), 2),
    (re.compile(rf"^第[{_CN_NUM}\d]+节\s*\S*"), 3),
    (re.compile(rf"^[{_CN_NUM}]+、\S"), 3),
    (re.compile(rf"^[（(][{_CN_NUM}]+[）)]\S"), 4),
    (re.compile(r"^专栏\s*\d*"), ARTICLE_LEVEL),
    (re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\s+\S"), None),  # level from the depth
]
# An ordinal item whose heading runs into its paragraph: "（一）加快建设信息网络基础设施。…".
_RUN_IN_ITEM = re.compile(rf"^([{_CN_NUM}]+、|[（(][{_CN_NUM}]+[）)])\s*(\S.*)")
_RUN_IN_TITLE_CHARS = 30
# The signature block of a notice: short lines naming the issuers, then the date on its own.
_DATE_LINE = re.compile(
    rf"^(?:\d{{4}}|[〇零{_CN_NUM}]{{4}})年[\d{_CN_NUM}]{{1,3}}月[\d{_CN_NUM}]{{1,3}}日$"
)
_SIGNATURE_NAME_CHARS = 25
SIGNATURE_TITLE = "落款"
_ARTICLE = re.compile(rf"^(第[{_CN_NUM}\d]+条)[\s　]*")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
_MAX_HEADING_CHARS = 50
# Sentence ends: Chinese terminators (with closing quotes/brackets), ASCII ones when followed
# by a space, a CJK character or the end, and English full stops before a capital letter.
_SENTENCE_END = re.compile(
    r"[。！？；]+[”’」』）)】\"]*"
    r"|[!?;]+(?=\s|$|[\u4e00-\u9fff“])[”’\"]*"
    r"|(?<=[a-z0-9)\]])\.(?=\s+[A-Z(“\"])"
)
_SOFT_BREAK = re.compile(r"[，,、：:]")


@dataclass(frozen=True)
class Heading:
    level: int
    title: str


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    para_start: bool  # first sentence of its paragraph
    para_end: int  # where its paragraph ends


@dataclass
class Section:
    path: tuple[str, ...]
    sentences: list[Sentence]


def detect_heading(line: str) -> Heading | None:
    """The heading a line opens, if it is one (``第X条`` is handled separately)."""
    md = _MD_HEADING.match(line)
    if md:
        return Heading(len(md.group(1)), md.group(2).strip())
    if len(line) > _MAX_HEADING_CHARS or re.search(r"[。；，,！？]", line):
        return _run_in_item(line)
    for pattern, level in _HEADING_PATTERNS:
        match = pattern.match(line)
        if match:
            depth = level or match.group(1).count(".") + 2
            return Heading(depth, re.sub(r"\s+", " ", line.strip()))
    return None


def _run_in_item(line: str) -> Heading | None:
    """``（一）加快建设信息网络基础设施。建设……`` opens item （一） titled by its first
    sentence (when that is short enough to be a title); the line stays body text."""
    match = _RUN_IN_ITEM.match(line)
    if match is None:
        return None
    marker, rest = match.groups()
    first = re.split(r"[。；！？]", rest, maxsplit=1)[0]
    title = first if len(first) <= _RUN_IN_TITLE_CHARS else first[:12] + "…"
    return Heading(_ORDINAL_LEVELS[marker[-1] if marker[-1] == "、" else "）"], marker + title)


def _is_ordinal(line: str) -> bool:
    return _RUN_IN_ITEM.match(line) is not None and not _MD_HEADING.match(line)


def signature_lines(lines: Sequence[str]) -> dict[int, int]:
    """Signature blocks (issuers, then a bare date line): first line index -> date line index."""
    starts: dict[int, int] = {}
    for i, line in enumerate(lines):
        if not _DATE_LINE.match(line.strip()):
            continue
        j, names = i - 1, 0
        while j >= 0 and (not lines[j].strip() or _is_name_line(lines[j].strip())):
            names += bool(lines[j].strip())
            j -= 1
        if names:
            starts[next(k for k in range(j + 1, i + 1) if lines[k].strip())] = i
    return starts


def _is_name_line(line: str) -> bool:
    return (
        len(line) <= _SIGNATURE_NAME_CHARS
        and not re.search(r"[。；，,：:！？、（）()《》#]", line)
        and detect_heading(line) is None
        and not _ARTICLE.match(line)
    )


def sentence_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Sentence (start, end) offsets within text[start:end], leading spaces skipped."""
    pos = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.end() > pos:
            yield _strip_span(text, pos, match.end())
        pos = match.end()
    if pos < end and text[pos:end].strip():
        yield _strip_span(text, pos, end)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    return start, end


def parse_sections(text: str, doc_title: str = "") -> list[Section]:
    """Split a document into sections (heading path + the sentences under it)."""
    sections: list[Section] = []
    stack: list[Heading] = []
    current = Section((), [])
    offset = 0
    lines = text.split("\n")
    signatures = signature_lines(lines)
    resume: tuple[int, list[Heading]] | None = None  # after a signature block: the path before
    for number, line in enumerate(lines):
        if resume is not None and number > resume[0]:
            sections.append(current)
            stack = resume[1]
            current = Section(tuple(h.title for h in stack if h.title != doc_title), [])
            resume = None
        line_start, offset = offset, offset + len(line) + 1
        stripped = line.strip()
        if not stripped:
            continue
        heading = detect_heading(stripped)
        in_article = bool(stack) and stack[-1].level == ARTICLE_LEVEL and "条" in stack[-1].title
        if heading is not None and in_article and _is_ordinal(stripped):
            heading = None  # （一）… inside an article is one of its 项
        article = _ARTICLE.match(stripped) if heading is None else None
        run_in = (
            heading is not None
            and not _MD_HEADING.match(stripped)
            and (len(stripped) > _MAX_HEADING_CHARS or re.search(r"[。；，,！？]", stripped))
        )
        if number in signatures:  # a leaf: what follows the date continues the document
            resume = (signatures[number], stack)
            heading, article, run_in = Heading(1, SIGNATURE_TITLE), None, True
        if heading is not None or article is not None:
            heading = heading or Heading(ARTICLE_LEVEL, article.group(1))  # type: ignore[union-attr]
            sections.append(current)
            stack = [h for h in stack if h.level < heading.level] + [heading]
            path = tuple(h.title for h in stack if h.title != doc_title)
            current = Section(path, [])
            if article is None and not run_in:
                continue  # a pure heading line carries no body text
        lead = len(line) - len(line.lstrip())
        spans = list(sentence_spans(text, line_start + lead, line_start + len(line)))
        for i, (s, e) in enumerate(spans):
            current.sentences.append(Sentence(s, e, i == 0, line_start + len(line)))
    sections.append(current)
    return [s for s in sections if s.sentences]


def pack_sentences(
    sentences: Sequence[Sentence], min_chars: int, max_chars: int, overlap_chars: int
) -> list[list[Sentence]]:
    """Greedy packing of whole sentences into chunks of about min..max characters.

    A chunk closes early at a paragraph end when the next paragraph would not fit; when a
    paragraph itself is cut, the next chunk repeats up to ``overlap_chars`` of whole trailing
    sentences. A too-short last chunk is merged into its predecessor when that fits.
    """
    chunks: list[list[Sentence]] = []
    cur: list[Sentence] = []
    for sent in sentences:
        if cur:
            size = sent.end - cur[0].start
            para_size = sent.para_end - cur[0].start
            if (
                sent.para_start
                and cur[-1].end - cur[0].start >= min_chars
                and para_size > max_chars
            ):
                chunks.append(cur)
                cur = []
            elif size > max_chars:
                chunks.append(cur)
                cur = [] if sent.para_start else _overlap(cur, overlap_chars, sent, max_chars)
        cur.append(sent)
    if cur:
        chunks.append(cur)
    if len(chunks) > 1 and chunks[-1][-1].end - chunks[-1][0].start < min_chars:
        merged = chunks[-2] + [s for s in chunks[-1] if s not in chunks[-2]]
        if merged[-1].end - merged[0].start <= max_chars:
            chunks[-2:] = [merged]
    return chunks


def _overlap(
    previous: list[Sentence], overlap_chars: int, nxt: Sentence, max_chars: int
) -> list[Sentence]:
    tail: list[Sentence] = []
    for sent in reversed(previous[1:]):  # never repeat a whole chunk
        if nxt.end - sent.start > max_chars or previous[-1].end - sent.start > overlap_chars:
            break
        tail.insert(0, sent)
    return tail


def split_long_sentence(text: str, sent: Sentence, hard_max: int) -> list[Sentence]:
    """A run-on 'sentence' over ``hard_max`` is cut at commas, then at hard_max chars."""
    if sent.end - sent.start <= hard_max:
        return [sent]
    pieces: list[Sentence] = []
    start = sent.start
    while sent.end - start > hard_max:
        window = text[start : start + hard_max]
        breaks = [m.end() for m in _SOFT_BREAK.finditer(window)]
        cut = start + (breaks[-1] if breaks and breaks[-1] > hard_max // 3 else hard_max)
        pieces.append(Sentence(start, cut, sent.para_start and not pieces, sent.para_end))
        start = cut
    pieces.append(Sentence(start, sent.end, False, sent.para_end))
    return pieces


class ChineseStructureSplitter(NodeParser):
    """Chunk Chinese documents by section and sentence; see the module docstring."""

    min_chars: int = Field(default=150, description="Target minimum chunk size (chars).")
    max_chars: int = Field(default=500, description="Maximum chunk size (chars).")
    overlap_chars: int = Field(default=100, description="Max overlap of whole sentences.")

    @classmethod
    def class_name(cls) -> str:
        return "ChineseStructureSplitter"

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in get_tqdm_iterable(nodes, show_progress, "切分文档"):
            if isinstance(node, Document):
                out.extend(self.split_document(node))
        return out

    def split_document(self, doc: Document) -> list[TextNode]:
        text = doc.text
        title = str(doc.metadata.get("doc_title", ""))
        page_starts = _page_starts(doc.metadata.get("page_starts"))
        nodes: list[TextNode] = []
        for section in parse_sections(text, title):
            sentences = [
                piece
                for sent in section.sentences
                for piece in split_long_sentence(text, sent, 2 * self.max_chars)
            ]
            packed = pack_sentences(sentences, self.min_chars, self.max_chars, self.overlap_chars)
            for group in packed:
                nodes.append(self._make_node(doc, text, section, group, len(nodes), page_starts))
        return nodes

    def _make_node(
        self,
        doc: Document,
        text: str,
        section: Section,
        group: list[Sentence],
        index: int,
        page_starts: list[int] | None,
    ) -> TextNode:
        start, end = group[0].start, group[-1].end
        chunk = text[start:end]
        content_hash = hashlib.sha1(chunk.encode("utf-8")).hexdigest()
        doc_id = str(doc.metadata.get("doc_id") or doc.doc_id)
        metadata: dict[str, Any] = {
            "section": " > ".join(section.path),
            "section_top": section.path[0] if section.path else "",
            "char_start": start,
            "char_end": end,
            "chunk_index": index,
            "content_hash": content_hash,
        }
        if page_starts:
            metadata["page"] = bisect.bisect_right(page_starts, start)
            metadata["page_end"] = bisect.bisect_right(page_starts, max(start, end - 1))
        node = TextNode(
            id_=hashlib.sha1(f"{doc_id}:{index}:{content_hash}".encode()).hexdigest()[:24],
            text=chunk,
            metadata=metadata,
            start_char_idx=start,
            end_char_idx=end,
        )
        node.relationships[NodeRelationship.SOURCE] = doc.as_related_node_info()
        return node

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        nodes = super()._postprocess_parsed_nodes(nodes, parent_doc_map)
        for node in nodes:
            node.metadata.pop("page_starts", None)  # a list: not valid Chroma metadata
            node.excluded_embed_metadata_keys = [k for k in node.metadata if k not in ("section",)]
            node.excluded_llm_metadata_keys = [
                k for k in node.metadata if k not in ("doc_title", "section", "page")
            ]
        return nodes


def _page_starts(value: Any) -> list[int] | None:
    if isinstance(value, list) and value:
        return [int(v) for v in value]
    if isinstance(value, str) and value:
        return [int(v) for v in value.split(",")]
    return None
