"""Validation and storage of documents uploaded through the web UI.

An upload is accepted only when its size is within ``max_upload_mb``, its extension is a
supported document type and its bytes really are that type (magic bytes, not the name). The
file is then copied under ``settings.library_dir`` with a sanitised name that can never leave
that folder; an existing name gets a numbered suffix instead of being overwritten.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import SUPPORTED_SUFFIXES
from rag.errors import CityQAError

# Extension -> the content kind its bytes must have.
KIND_BY_SUFFIX: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
    ".html": "html",
    ".htm": "html",
}
assert set(KIND_BY_SUFFIX) == set(SUPPORTED_SUFFIXES), "keep in step with ingest.loaders"

KIND_ZH = {"pdf": "PDF", "docx": "Word (DOCX)", "text": "纯文本", "html": "HTML"}
MAX_NAME_CHARS = 120
_FORBIDDEN = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
_HTML_HINT = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|meta|title|div|p|h[1-6]|table|article|section|br)\b",
    re.IGNORECASE,
)
_TEXT_ENCODINGS = ("utf-8-sig", "gb18030", "utf-16")


class UploadError(CityQAError):
    """An uploaded file is rejected; the message says why, in Chinese."""


@dataclass(frozen=True)
class CheckedUpload:
    source: Path  # where the uploaded bytes are now (e.g. Gradio's temp folder)
    name: str  # the sanitised file name to store it under
    kind: str  # "pdf", "docx", "text" or "html"
    size: int
    sha256: str


def sanitize_filename(name: str) -> str:
    """A safe base name: no folders, separators, control characters or leading dots.

    CJK and other letters are kept; an unusable name becomes ``upload``.
    """
    name = unicodedata.normalize("NFC", str(name))
    name = re.split(r"[/\\]", name)[-1]  # basename for both POSIX and Windows paths
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix.strip().lower()
    limit = MAX_NAME_CHARS - len(suffix) - 1
    stem = stem.strip(" .")[:limit].strip(" .") or "upload"  # no hidden or dot-only names
    return f"{stem}.{suffix}" if suffix else stem


def sniff_kind(data: bytes, path: Path | None = None) -> str | None:
    """The document kind the bytes really are, or None when unrecognised."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx" if path is not None and _is_docx(path) else "zip"
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # binary
    text = _decode(data)
    if text is None:
        return None
    return "html" if _HTML_HINT.search(text[:8192]) else "text"


def _is_docx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _decode(data: bytes) -> str | None:
    for encoding in _TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue  # UTF-16 only with its byte order mark; otherwise anything "decodes"
        if not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text):
            return text
    return None


def check_upload(path: Path, original_name: str | None, max_mb: int) -> CheckedUpload:
    """Validate one uploaded file; raise ``UploadError`` with the reason."""
    path = Path(path)
    name = sanitize_filename(original_name or path.name)
    suffix = Path(name).suffix.lower()
    if suffix not in KIND_BY_SUFFIX:
        allowed = "、".join(sorted({s.lstrip(".").upper() for s in KIND_BY_SUFFIX}))
        raise UploadError(f"{name}：不支持的文件类型（支持 {allowed}）")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UploadError(f"{name}：无法读取上传的文件（{exc.strerror or exc}）") from exc
    if size > max_mb * 1024 * 1024:
        raise UploadError(f"{name}：文件大小 {size / 1024 / 1024:.1f} MB，超过上限 {max_mb} MB")
    if size == 0:
        raise UploadError(f"{name}：文件为空")
    data = path.read_bytes()
    expected = KIND_BY_SUFFIX[suffix]
    actual = sniff_kind(data, path)
    if actual != expected and not (expected == "text" and actual == "html"):
        found = KIND_ZH.get(actual or "", "无法识别的二进制内容")
        raise UploadError(
            f"{name}：文件内容与扩展名不符（扩展名为 {KIND_ZH[expected]}，内容为 {found}）"
        )
    return CheckedUpload(path, name, expected, size, hashlib.sha256(data).hexdigest())


def find_duplicate(checked: CheckedUpload, library_dir: Path) -> Path | None:
    """A file already in the library with exactly the same bytes, if any."""
    if not library_dir.is_dir():
        return None
    for existing in library_dir.iterdir():
        if (
            existing.is_file()
            and existing.stat().st_size == checked.size
            and hashlib.sha256(existing.read_bytes()).hexdigest() == checked.sha256
        ):
            return existing
    return None


def store_upload(checked: CheckedUpload, library_dir: Path) -> Path:
    """Copy the upload into the library under a free name ("名称-2.pdf" when taken)."""
    library_dir.mkdir(parents=True, exist_ok=True)
    root = library_dir.resolve()
    stem, suffix = Path(checked.name).stem, Path(checked.name).suffix
    data = checked.source.read_bytes()
    for n in range(1, 10_000):
        candidate = root / (checked.name if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.parent != root:  # cannot happen with a sanitised name; checked anyway
            raise UploadError(f"{checked.name}：文件名不安全")
        try:
            with candidate.open("xb") as out:  # exclusive: concurrent uploads never collide
                out.write(data)
        except FileExistsError:
            continue
        return candidate
    raise UploadError(f"{checked.name}：同名文件过多，请改名后再上传")


def library_file(source: str, home: Path, library_dir: Path) -> Path | None:
    """The library file of a document whose source is relative to home, if it is one."""
    path = (home / source).resolve()
    return path if path.is_relative_to(library_dir.resolve()) and path.is_file() else None
