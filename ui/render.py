"""Pure rendering helpers for the web UI: every document or answer string is escaped here.

Nothing in this module talks to the index; it turns ``Answer``/``Citation``/``Passage``
objects into escaped HTML, chat text, Markdown exports and table rows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rag.types import Answer, Citation, Passage, SentenceCheck
from rag.verify import claim_text

ALL = "全部"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~!$])")
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*[”’」』）)]*")
_WS = re.compile(r"\s+")
# A figure or table caption ("图3 …", "表 2-1 …") labels an illustration; it states nothing, so
# a paraphrased claim is never shown as supported by it (a verbatim quotation still is).
_CAPTION = re.compile(
    r"^\s*(?:图|表|附图|附表)\s*[0-9０-９一二三四五六七八九十]+(?:[-－—.．][0-9]+)?"
)

CSS = """
.cq-sources .cq-card {border:1px solid #d0d7de;border-radius:8px;padding:8px 10px;margin:6px 0}
.cq-sources .cq-n {font-weight:700;margin-right:4px}
.cq-tag {display:inline-block;border-radius:10px;padding:0 8px;margin:2px 4px 0 0;font-size:12px;
  background:#eef2ff;color:#3730a3}
.cq-tag.cq-path {background:#ecfdf5;color:#065f46}
.cq-meta {color:#57606a;font-size:13px}
.cq-badge {display:inline-block;border-radius:12px;padding:2px 10px;font-weight:600;font-size:13px}
.cq-good {background:#dcfce7;color:#166534}
.cq-warn {background:#fef9c3;color:#854d0e}
.cq-bad {background:#fee2e2;color:#991b1b}
.cq-none {background:#e5e7eb;color:#374151}
.cq-passage {white-space:pre-wrap;line-height:1.7;border-left:3px solid #93c5fd;padding-left:10px}
.cq-passage mark {background:#fde68a;padding:0 1px}
.cq-list details {border-bottom:1px solid #e5e7eb;padding:4px 0}
.cq-list summary {cursor:pointer}
"""


PAGE_CSS = """
/* Gradio titles every toast with its English type ("Error", "Warning", "Info") and ignores the
   title it is given: the word is hidden and a Chinese one shown in its place. */
.toast-title.error, .toast-title.warning, .toast-title.info, .toast-title.success
  {visibility:hidden;font-size:0 !important}
.toast-title.error::before, .toast-title.warning::before, .toast-title.info::before,
  .toast-title.success::before {visibility:visible;font-size:var(--text-md, 14px)}
.toast-title.error::before {content:"提示"}
.toast-title.warning::before {content:"注意"}
.toast-title.info::before {content:"提示"}
.toast-title.success::before {content:"完成"}
"""


_TEMPLATE_CHARS = str.maketrans({"$": "&#36;", "{": "&#123;", "}": "&#125;", "`": "&#96;"})


def esc(value: Any) -> str:
    """HTML-escape, and neutralise the template characters of gr.HTML (``${}``, ``{{}}``)."""
    return html.escape(str(value), quote=True).translate(_TEMPLATE_CHARS)


# ----- chat ----------------------------------------------------------------------------
_ESCAPED_FOOTNOTE = re.compile(r"\[\^(\d+)\]")


def footnotes_as_superscripts(escaped: str) -> str:
    """A source's own reference marks (``[^n]``, already escaped) as superscripts, so they do
    not read as the answer's ``[n]`` citations."""
    return _ESCAPED_FOOTNOTE.sub(r'<sup class="cq-fn">\1</sup>', escaped)


def chat_safe(text: str) -> str:
    """Text for the Markdown-rendering chatbot: HTML escaped, Markdown syntax neutralised."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def badge_text(answer: Answer) -> str:
    if answer.refused:
        return "未作答：资料中未找到"
    if answer.low_relevance:
        # Cited and faithful, but about something else: say so rather than show a green badge.
        return f"相关度低（{answer.relevance or 0:.0%}）：引文可能未回答所问，请核对原文"
    total = len(answer.claims)
    supported = sum(1 for c in answer.claims if c.supported)
    return f"忠实度 {answer.faithfulness:.0%}（{supported}/{total} 句有引文支持）"


def badge_class(answer: Answer) -> str:
    if answer.refused:
        return "cq-none"
    if answer.low_relevance:
        return "cq-warn"
    if answer.faithfulness >= 0.999:
        return "cq-good"
    return "cq-warn" if answer.faithfulness >= 0.5 else "cq-bad"


def badge_html(answer: Answer | None) -> str:
    if answer is None:
        return ""
    return f'<span class="cq-badge {badge_class(answer)}">{esc(badge_text(answer))}</span>'


def chat_message(answer: Answer) -> str:
    """The assistant turn shown in the chatbot: the answer, then its badge line."""
    lines = [chat_safe(f"⚠ {answer.notice}")] if answer.notice else []
    lines.append(chat_safe(answer.text))
    if answer.rewritten_question:
        lines.append(chat_safe(f"（按“{answer.rewritten_question}”检索）"))
    lines.append(chat_safe(f"【{badge_text(answer)}】"))
    for check in answer.unsupported:
        lines.append(chat_safe(f"⚠ 未获引文支持：{claim_text(check.text)}"))
    return "\n\n".join(lines)


# ----- sources -------------------------------------------------------------------------
def citation_label(c: Citation) -> str:
    page = f" · 第 {c.page} 页" if c.page else ""
    section = f" {c.section}" if c.section and c.place != c.section else ""
    return f"[{c.n}] {c.label}{section}{page}"


def _tags(dimensions: Iterable[str], paths: Iterable[str]) -> str:
    chips = [f'<span class="cq-tag">{esc(d)}</span>' for d in dimensions]
    chips += [f'<span class="cq-tag cq-path">{esc(p)}</span>' for p in paths]
    return "".join(chips)


def _joined(*parts: Any) -> str:
    """Metadata parts joined by " · ", empty ones left out (a passage may have no section)."""
    return " · ".join(str(part) for part in parts if part)


def sources_html(answer: Answer | None) -> str:
    """The sources panel: one card per citation with document, section, page, score, tags."""
    if answer is None:
        return '<div class="cq-sources cq-meta">提问后，这里列出答案引用的资料片段。</div>'
    if not answer.citations:
        return '<div class="cq-sources cq-meta">资料中未找到相关片段。</div>'
    title = "可能相关的片段（未据此作答）" if answer.refused else "来源"
    cards = []
    for c in answer.citations:
        page = f"第 {c.page} 页" if c.page else ""
        place = _joined(c.section, page, f"相关度 {c.score:.2f}", c.source)
        cards.append(
            f'<div class="cq-card"><span class="cq-n">[{c.n}]</span>'
            f"<b>《{esc(c.doc_title)}》</b>"
            f'<div class="cq-meta">{esc(place)}</div>'
            f"<div>{_tags(c.dimensions, c.paths)}</div></div>"
        )
    return f'<div class="cq-sources"><h4>{esc(title)}</h4>{"".join(cards)}</div>'


def source_choices(answer: Answer | None) -> list[str]:
    return [f"[{c.n}]" for c in answer.citations] if answer else []


def find_citation(answer: Answer | None, choice: str | None) -> Citation | None:
    if answer is None or not choice:
        return None
    match = re.search(r"\d+", choice)
    n = int(match.group()) if match else -1
    return next((c for c in answer.citations if c.n == n), None)


def passage_html(citation: Citation | None, sentences: Sequence[SentenceCheck]) -> str:
    """The whole cited passage, the answer sentences citing it highlighted with <mark>."""
    if citation is None:
        return '<div class="cq-meta">选择一个来源编号，查看完整原文。</div>'
    claims = [claim_text(s.text) for s in sentences if citation.n in s.citations]
    spans = highlight_spans(citation.text, claims)
    return (
        f'<div class="cq-meta">{esc(citation_label(citation))}</div>'
        f'<div class="cq-passage">{mark_spans(citation.text, spans)}</div>'
    )


def mark_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in spans:
        out += [esc(text[pos:start]), "<mark>", esc(text[start:end]), "</mark>"]
        pos = end
    out.append(esc(text[pos:]))
    return footnotes_as_superscripts("".join(out))


def highlight_spans(text: str, claims: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of ``text`` supporting the claims, sorted and merged.

    A claim found verbatim (ignoring whitespace) is marked exactly; otherwise (a paraphrase)
    the passage sentences sharing most of their character bigrams with it are marked.
    """
    spans: list[tuple[int, int]] = []
    for claim in (c.strip() for c in claims):
        if claim:
            spans += _exact_span(text, claim) or _similar_sentences(text, claim)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _exact_span(text: str, claim: str) -> list[tuple[int, int]]:
    at = text.find(claim)
    if at >= 0:
        return [(at, at + len(claim))]
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]
    compact = "".join(text[i] for i in positions)
    target = _WS.sub("", claim)
    at = compact.find(target) if target else -1
    if at < 0:
        return []
    return [(positions[at], positions[at + len(target) - 1] + 1)]


def _bigrams(text: str) -> set[str]:
    text = _WS.sub("", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _similar_sentences(text: str, claim: str) -> list[tuple[int, int]]:
    wanted = _bigrams(claim)
    scored = []
    for m in _SENTENCE.finditer(text):
        if _CAPTION.match(m.group()):
            continue
        grams = _bigrams(m.group())
        if len(grams) >= 4:
            scored.append((len(grams & wanted) / len(grams), m.start(), m.end()))
    good = [(s, e) for score, s, e in scored if score >= 0.6]
    if good or not scored:
        return good
    best = max(scored)
    return [(best[1], best[2])] if best[0] >= 0.3 else []


# ----- export --------------------------------------------------------------------------
def answer_markdown(answer: Answer | None) -> str:
    """The answer with its sources, as Markdown for copying or saving."""
    if answer is None:
        return ""
    lines = [f"## 问：{answer.question}", "", answer.text, "", f"*{badge_text(answer)}*", ""]
    if answer.citations:
        lines += ["### 可能相关的片段" if answer.refused else "### 来源", ""]
    for c in answer.citations:
        tags = "、".join(c.dimensions + c.paths)
        lines.append(
            f"- {citation_label(c)}（相关度 {c.score:.2f}"
            + (f"；标签：{tags}" if tags else "")
            + f"；文件：{c.source}）"
        )
        lines += ["", *(f"  > {line}" for line in c.text.splitlines() if line.strip()), ""]
    return "\n".join(lines).rstrip() + "\n"


# ----- knowledge map and library ---------------------------------------------------------
def matrix_rows(stats: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the dimension x path table, with totals."""
    paths = list(stats["paths"])
    headers = ["维度 \\ 路径", *paths, "合计"]
    rows: list[list[Any]] = [
        [dim, *(row[p] for p in paths), stats["dimensions"][dim]]
        for dim, row in stats["matrix"].items()
    ]
    rows.append(["合计", *(stats["paths"][p] for p in paths), stats["chunks"]])
    return headers, rows


def matrix_frame(stats: dict[str, Any]) -> Any:
    """The matrix as a pandas Styler: a heatmap of the counts (totals left unshaded)."""
    import pandas as pd

    headers, rows = matrix_rows(stats)
    frame = pd.DataFrame(rows, columns=headers)
    cells = pd.IndexSlice[frame.index[:-1], headers[1:-1]]
    return frame.style.background_gradient(cmap="Blues", subset=cells, axis=None, vmin=0)


def document_path_rows(stats: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the documents x paths table: one row per document."""
    paths = list(stats["paths"])
    headers = ["文档 \\ 路径", *paths, "未标注", "合计"]
    rows = [
        [r["title"], *(r["paths"][p] for p in paths), r["untagged"], r["chunks"]]
        for r in stats.get("documents_by_path", [])
    ]
    return headers, rows


def document_path_frame(stats: dict[str, Any]) -> Any:
    """Documents x paths as a heatmap, shaded per row: how a document spreads over paths."""
    import pandas as pd

    headers, rows = document_path_rows(stats)
    frame = pd.DataFrame(rows, columns=headers)
    if frame.empty:
        return frame
    return frame.style.background_gradient(cmap="Greens", subset=headers[1:-2], axis=1, vmin=0)


def passages_html(passages: Sequence[Passage], heading: str) -> str:
    if not passages:
        return f'<div class="cq-meta">{esc(heading)}：没有片段。</div>'
    items = []
    for p in passages:
        place = _joined(p.section, f"第 {p.page} 页" if p.page else "")
        title = str(p.metadata.get("doc_title", ""))
        items.append(
            f"<details><summary>《{esc(title)}》 {esc(place)}</summary>"
            f"<div>{_tags(p.names('dimensions'), p.names('paths'))}</div>"
            f'<div class="cq-passage">{footnotes_as_superscripts(esc(p.text))}</div></details>'
        )
    return f'<div class="cq-list"><h4>{esc(heading)}</h4>{"".join(items)}</div>'


BUNDLED_NOTE = "内置语料"


def upload_progress_html(fraction: float, desc: str) -> str:
    """The upload report while files are being ingested: a bar and what is being done."""
    percent = round(100 * min(max(fraction, 0.0), 1.0))
    return (
        f'<div class="cq-progress"><progress max="100" value="{percent}"></progress> '
        f"{percent}%　{esc(desc or '入库中…')}</div>"
    )


def upload_report_html(outcomes: Sequence[Any]) -> str:
    """One line per uploaded file: 已入库 in green, the reason for a failure in red."""
    return _report_lines((o.ok, o.message) for o in outcomes)


def upload_failure_html(message: str) -> str:
    """The upload report when nothing could be ingested: the reason, in red."""
    return _report_lines([(False, message)])


def _report_lines(lines: Iterable[tuple[bool, str]]) -> str:
    items = "".join(
        f'<li class="{"cq-good" if ok else "cq-bad"}">{esc(text)}</li>' for ok, text in lines
    )
    return f"<ul>{items}</ul>"


def document_choice(doc: Any) -> str:
    """A document as a dropdown choice: title and file, and whether it ships with cityqa."""
    bundled = f" · {BUNDLED_NOTE}" if doc.bundled else ""
    return f"{doc.title}（{doc.source}{bundled}）"


def delete_question(doc: Any) -> str:
    """The confirmation asked before a document is deleted, naming it."""
    back = (
        "它随产品附带，删除后运行 cityqa ingest 可恢复。"
        if doc.bundled
        else "删除后需重新上传才能再问到它。"
    )
    return (
        f'<p class="cq-warn">确定删除《{esc(doc.title)}》'
        f"（{esc(doc.source)}，{doc.chunks} 个片段）吗？{esc(back)}</p>"
    )


def document_rows(docs: Sequence[Any]) -> list[list[Any]]:
    return [
        [
            d.title,
            d.doc_number,
            d.doc_type,
            "、".join(d.issuers),
            d.date,
            f"{d.source}（{BUNDLED_NOTE}）" if d.bundled else d.source,
            d.file_type,
            d.chunks,
            d.pages if d.pages is not None else "",
            d.ingested_at.replace("T", " ")[:19],
            "；".join([*([d.completeness_note] if d.completeness_note else []), *d.warnings]),
        ]
        for d in docs
    ]


DOCUMENT_HEADERS = [
    "标题",
    "文号",
    "文种",
    "发文机关",
    "日期",
    "来源",
    "格式",
    "片段",
    "页数",
    "入库时间",
    "提示",
]
