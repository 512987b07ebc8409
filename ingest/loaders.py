"""File loaders: Markdown/TXT, PDF, DOCX and HTML to normalised text with a title.

Each loader returns a ``LoadedDocument`` or raises ``LoadError`` with a Chinese reason that
names the file; the pipeline reports it and carries on with the other files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.metadata import DocumentMeta, MetadataError, from_header, from_text
from rag.docinfo import INFO_HEADING

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")
_SENTENCE_END = "。！？；!?;：:…”」』）)"


class LoadError(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path.name}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class LoadedDocument:
    text: str
    title: str
    file_type: str
    page_starts: list[int] | None = None  # char offset where each PDF page starts
    metadata: dict[str, str] = field(default_factory=dict)  # the header as written
    warnings: list[str] = field(default_factory=list)
    meta: DocumentMeta = field(default_factory=DocumentMeta)  # the document's identity


def load_file(path: Path) -> LoadedDocument:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(
            path, f"不支持的文件类型 '{suffix}'（支持 {', '.join(SUPPORTED_SUFFIXES)}）"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"无法读取文件：{exc.strerror or exc}") from exc
    if not data.strip():
        raise LoadError(path, "文件为空")
    if suffix == ".pdf":
        doc = _load_pdf(path, data)
    elif suffix == ".docx":
        doc = _load_docx(path, data)
    elif suffix in (".html", ".htm"):
        doc = _load_html(path, decode_text(path, data))
    else:
        doc = _load_markdown(path, decode_text(path, data))
    if not doc.text.strip():
        raise LoadError(path, "没有可提取的文字")
    if not doc.meta.title:  # no header: what the document says about itself
        doc.meta = from_text(doc.text, doc.title)
    return doc


# ----- text decoding and normalisation ---------------------------------------------------
def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK), else a detected codec."""
    try:
        if data.startswith(b"\xef\xbb\xbf"):
            return data[3:].decode("utf-8", errors="strict")
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
    except UnicodeDecodeError as exc:  # a BOM, but bytes that do not match it
        raise LoadError(path, f"文本编码错误（{exc.encoding} 解码失败），请另存为 UTF-8") from exc
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError(path, "无法识别文本编码（请另存为 UTF-8）")
    return str(best)


_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_ODD_SPACES = re.compile("[\u00a0\u2002\u2003\u2009\u202f]")


def normalize_text(text: str) -> str:
    """Deliberate, wording-preserving clean-up.

    No NFKC: it would turn full-width Chinese punctuation into ASCII. We only unify line
    ends, drop zero-width characters, turn odd spaces into plain ones, strip the full-width
    indentation of paragraphs and trailing spaces, and collapse runs of blank lines.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ZERO_WIDTH.sub("", text)
    text = _ODD_SPACES.sub(" ", text)
    lines = [line.rstrip().lstrip(" \u3000\t") for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


# ----- Markdown / plain text --------------------------------------------------------------
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---(?:\n|\Z)", re.DOTALL)


def _load_markdown(path: Path, text: str) -> LoadedDocument:
    text = normalize_text(text)
    metadata: dict[str, str] = {}
    meta = DocumentMeta()
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            front = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise LoadError(path, f"文件头（YAML front matter）格式错误：{exc}") from exc
        if not isinstance(front, dict):
            raise LoadError(path, "文件头（YAML front matter）应为“字段: 值”的列表")
        metadata = {str(k): _flat(v) for k, v in front.items()}
        try:
            meta = from_header(front)
        except MetadataError as exc:
            raise LoadError(path, str(exc)) from exc
        text = text[match.end() :].lstrip("\n")
    title = meta.title or _first_heading(text) or _title_line(text) or path.stem
    if match:
        meta.title = title
        found = from_text(text, title)  # the body may state what the header leaves out
        meta.doc_number = meta.doc_number or found.doc_number
        meta.date = meta.date or found.date
        text = _info_section(meta) + text
    file_type = "md" if path.suffix.lower() in (".md", ".markdown") else "txt"
    return LoadedDocument(text=text, title=title, file_type=file_type, metadata=metadata, meta=meta)


def _info_section(meta: DocumentMeta) -> str:
    """The header's identity facts (title, 文号, issuers, authors, date, type) as a passage of
    their own, so "哪几个部门印发的" or "作者是谁" is answered and cited like any other
    passage. Provenance fields (source, notes, verification) never enter the text."""
    lines = meta.info_lines()
    return f"## {INFO_HEADING}\n\n" + "\n".join(lines) + "\n\n" if lines else ""


def _title_line(text: str) -> str | None:
    """A plain-text file's first line, when it reads as a title: short, no sentence end, and
    not a numbered heading of the body ("一、总体要求")."""
    from ingest.chunker import detect_heading

    for line in text.splitlines():
        line = line.strip()
        if line:
            plain = len(line) <= 40 and not re.search(r"[。！？；，,]", line)
            return line if plain and detect_heading(line) is None else None
    return None


def _flat(value: object) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


# ----- PDF ------------------------------------------------------------------------------
def _load_pdf(path: Path, data: bytes) -> LoadedDocument:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(path, "PDF 已加密，需要密码，无法读取")
        raw_pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise LoadError(path, f"PDF 无法解析（文件可能已损坏）：{exc}") from exc
    except Exception as exc:  # pypdf raises a wide range of errors on broken files
        raise LoadError(path, f"PDF 无法解析：{type(exc).__name__}: {exc}") from exc

    pages = [rejoin_pdf_lines(normalize_text(p)) for p in raw_pages]
    scanned = [i + 1 for i, p in enumerate(pages) if not p.strip()]
    if len(scanned) == len(pages):
        raise LoadError(path, "扫描件（没有文字层），需要先做 OCR")
    warnings = [f"第 {n} 页没有文字层（扫描页），需要 OCR" for n in scanned]
    text, starts = "", []
    for page_text in pages:
        if text:
            text += "\n\n"
        starts.append(len(text))
        text += page_text
    title = _pdf_title(reader) or _first_line(text) or path.stem
    return LoadedDocument(
        text=text, title=title, file_type="pdf", page_starts=starts, warnings=warnings
    )


def _pdf_title(reader: object) -> str | None:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = (meta.title or "").strip() if meta else ""
    except Exception:
        return None
    return title or None


def _first_line(text: str) -> str | None:
    for line in text.split("\n"):
        if line.strip():
            return line.strip()[:80]
    return None


_HEADING_LIKE = re.compile(
    r"^(#{1,6}\s|\d+(\.\d+)*\s+\S|第[一二三四五六七八九十百零〇\d]+[章节条]|"
    r"[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)"
)


def rejoin_pdf_lines(page: str) -> str:
    """Re-join lines that the PDF layout broke; keep paragraph and heading breaks."""
    out: list[str] = []
    for line in page.split("\n"):
        if not line:
            out.append("")
            continue
        prev = out[-1] if out else ""
        if prev and not _ends_paragraph(prev) and not _HEADING_LIKE.match(line):
            sep = " " if _word_wrap(prev[-1], line[0]) else ""
            out[-1] = prev + sep + line
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _word_wrap(last: str, first: str) -> bool:
    """Whether a line break between these characters stood for a space: only after a Latin
    word ("data" / "space", "GB" / "50174"). A number wrapped at the line end ("30" /
    "00万元") and any break next to a Chinese character join without one: Chinese writes no
    spaces, and a number split by one is misread."""
    return last.isascii() and last.isalpha() and first.isascii() and first.isalnum()


def _ends_paragraph(line: str) -> bool:
    return line.endswith(tuple(_SENTENCE_END)) or (
        bool(_HEADING_LIKE.match(line)) and len(line) < 40
    )


# ----- DOCX -----------------------------------------------------------------------------
def _load_docx(path: Path, data: bytes) -> LoadedDocument:
    import io

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        # A bad zip, a broken word/document.xml (lxml), a text node beyond libxml2's limits,
        # missing parts (AttributeError inside python-docx): the file cannot be read as Word.
        raise LoadError(path, f"DOCX 无法解析（文件可能已损坏或不是 Word 文档）：{exc}") from exc
    parts: list[str] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        level = _docx_heading_level(para.style.name if para.style is not None else "")
        parts.append(("#" * level + " " + text) if level else text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                parts.append(" | ".join(cells))
    text = normalize_text("\n\n".join(parts))
    title = (document.core_properties.title or "").strip() or _first_heading(text) or path.stem
    return LoadedDocument(text=text, title=title, file_type="docx")


def _docx_heading_level(style: str) -> int:
    match = re.match(r"^(?:Heading|标题)\s*(\d)$", style.strip(), re.IGNORECASE)
    if match:
        return min(int(match.group(1)) + 1, 6)
    return 1 if style.strip().lower() in ("title", "标题") else 0


# ----- HTML -----------------------------------------------------------------------------
def _load_html(path: Path, html: str) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "form"]):
        tag.decompose()
    parts: list[str] = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "pre"]):
        raw = el.get_text()  # no separator: inline tags (<a>, <b>) must not add spaces
        text = raw.strip() if el.name == "pre" else re.sub(r"\s+", " ", raw).strip()
        if not text or el.find_parent(["p", "li", "td"]) is not None:
            continue
        if el.name and el.name[0] == "h":
            text = "#" * int(el.name[1]) + " " + text
        parts.append(text)
    if not parts:  # a page without block tags: fall back to its visible text
        parts = [soup.get_text("\n", strip=True)]
    text = normalize_text("\n\n".join(parts))
    title_tag = soup.find("title")
    title = (title_tag.get_text(strip=True) if title_tag else "") or _first_heading(text)
    return LoadedDocument(text=text, title=title or path.stem, file_type="html")
