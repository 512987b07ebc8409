"""Validation and storage of documents uploaded through the web UI.

An upload is accepted only when its size is within ``max_upload_mb``, its extension is a
supported document type and its bytes really are that type (magic bytes, not the name). It gets
a sanitised name in ``settings.library_dir`` that can never leave that folder (an existing name
gets a numbered suffix instead of being overwritten), but the bytes first wait in
``settings.staging_dir``: they enter the library only once their ingest has committed, so a
failed or killed upload leaves nothing behind that would block uploading it again.
"""

from __future__ import annotations

import hashlib
import logging
import os
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
log = logging.getLogger(__name__)


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


def free_library_path(name: str, library_dir: Path, staging_dir: Path) -> Path:
    """A library path for ``name`` that no file uses ("名称-2.pdf" when taken)."""
    root = library_dir.resolve()
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 10_000):
        candidate = root / (name if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.parent != root:  # cannot happen with a sanitised name; checked anyway
            raise UploadError(f"{name}：文件名不安全")
        if not candidate.exists() and not (staging_dir / candidate.name).exists():
            return candidate
    raise UploadError(f"{name}：同名文件过多，请改名后再上传")


def stage_upload(checked: CheckedUpload, staging_dir: Path, final: Path) -> Path:
    """Write the upload's bytes to the staging folder, under the name it will have."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    staged = staging_dir / final.name
    with staged.open("wb") as out:
        out.write(checked.source.read_bytes())
        out.flush()
        os.fsync(out.fileno())
    return staged


def publish_staged(staged: Path, final: Path) -> None:
    """Move a committed upload into the library (an atomic rename on one file system)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)


def finish_staged_uploads(staging_dir: Path, committed_paths: set[str]) -> list[str]:
    """After a crash: move staged files whose ingest committed into the library, drop the
    rest (their upload failed and can be repeated). Returns what was done, for the log."""
    done: list[str] = []
    if not staging_dir.is_dir():
        return done
    for staged in sorted(staging_dir.iterdir()):
        final = next((Path(p) for p in committed_paths if Path(p).name == staged.name), None)
        if final is not None and not final.exists():
            publish_staged(staged, final)
            done.append(f"{staged.name}：入库已完成，文件移入资料库")
        else:
            staged.unlink(missing_ok=True)
            done.append(f"{staged.name}：上传未完成，已清理，可重新上传")
    return done


def library_file(source: str, home: Path, library_dir: Path) -> Path | None:
    """The library file of a document whose source is relative to home, if it is one."""
    path = (home / source).resolve()
    return path if path.is_relative_to(library_dir.resolve()) and path.is_file() else None
