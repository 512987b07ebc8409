"""Upload validation for the web UI (ui/uploads.py): names, sizes, content sniffing, storage."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ui.uploads import (
    UploadError,
    check_upload,
    finish_staged_uploads,
    free_library_path,
    library_file,
    publish_staged,
    sanitize_filename,
    sniff_kind,
    stage_upload,
)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _docx(path: Path, with_document: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        if with_document:
            archive.writestr("word/document.xml", "<w:document/>")
    return path


# ----- names ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("城市数字化转型报告.pdf", "城市数字化转型报告.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\system32\\evil.md", "evil.md"),
        ("/abs/path/政策 文件.DOCX", "政策 文件.docx"),
        ("a\x00b\x1fc\u202e.txt", "abc.txt"),  # control and bidi-override characters dropped
        ('we<ird>:na*me?"|.html', "we_ird__na_me___.html"),
        (".hidden.md", "hidden.md"),
        ("..", "upload"),
        ("", "upload"),
        ("...pdf", "upload.pdf"),
    ],
)
def test_sanitize_filename(raw: str, expected: str) -> None:
    assert sanitize_filename(raw) == expected


def test_sanitize_filename_limits_length_and_keeps_suffix() -> None:
    name = sanitize_filename("长" * 500 + ".pdf")
    assert name.endswith(".pdf") and len(name) <= 120


# ----- content sniffing ------------------------------------------------------------------
def test_sniff_kinds(tmp_path: Path) -> None:
    assert sniff_kind(b"%PDF-1.7\n...") == "pdf"
    docx = _docx(tmp_path / "a.docx")
    assert sniff_kind(docx.read_bytes(), docx) == "docx"
    plain_zip = _docx(tmp_path / "b.zip", with_document=False)
    assert sniff_kind(plain_zip.read_bytes(), plain_zip) == "zip"
    assert sniff_kind("<!DOCTYPE html><html><body>你好</body></html>".encode()) == "html"
    assert sniff_kind("# 标题\n正文".encode()) == "text"
    assert sniff_kind("城市数字化转型".encode("gb18030")) == "text"
    assert sniff_kind(b"\x7fELF\x02\x01\x01\x00\x00\x00") is None
    assert sniff_kind(bytes(range(256)) * 4) is None


# ----- check_upload ------------------------------------------------------------------------
def test_accepts_matching_content(tmp_path: Path) -> None:
    pdf = _write(tmp_path / "x.pdf", b"%PDF-1.4\n%%EOF\n")
    checked = check_upload(pdf, "../报告.pdf", max_mb=1)
    assert (checked.name, checked.kind, checked.size) == ("报告.pdf", "pdf", pdf.stat().st_size)
    docx = _docx(tmp_path / "y.docx")
    assert check_upload(docx, "y.docx", max_mb=1).kind == "docx"
    md = _write(tmp_path / "n.md", "# 标题\n\n<b>正文</b>".encode())
    assert check_upload(md, "n.md", max_mb=1).kind == "text"  # HTML in a .md is still text
    html = _write(tmp_path / "p.htm", b"<html><p>hi</p></html>")
    assert check_upload(html, "p.htm", max_mb=1).kind == "html"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "内容与扩展名不符"),
        ("fake.docx", b"%PDF-1.4 pretending", "内容与扩展名不符"),
        ("plain.html", "只是普通文字，没有任何标签。".encode(), "内容与扩展名不符"),
        ("binary.txt", b"\x00\x01\x02\x03\xff\xfe\x00", "内容与扩展名不符"),
        ("script.exe", b"MZ", "不支持的文件类型"),
        ("noext", b"hello", "不支持的文件类型"),
        ("empty.txt", b"", "文件为空"),
    ],
)
def test_rejects_bad_uploads(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = _write(tmp_path / "upload.bin", data)
    with pytest.raises(UploadError, match=message):
        check_upload(path, name, max_mb=1)


def test_rejects_zip_that_is_not_docx(tmp_path: Path) -> None:
    path = _docx(tmp_path / "a.docx", with_document=False)
    with pytest.raises(UploadError, match="内容与扩展名不符"):
        check_upload(path, "a.docx", max_mb=1)


def test_rejects_oversized(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.txt", b"a" * (1024 * 1024 + 1))
    with pytest.raises(UploadError, match="超过上限 1 MB"):
        check_upload(path, "big.txt", max_mb=1)


# ----- storing -------------------------------------------------------------------------------
def _store(src: Path, name: str, library: Path, staging: Path) -> Path:
    checked = check_upload(src, name, 1)
    final = free_library_path(checked.name, library, staging)
    publish_staged(stage_upload(checked, staging, final), final)
    return final


def test_store_upload_stays_in_library_and_suffixes_duplicates(tmp_path: Path) -> None:
    library, staging = tmp_path / "home" / "library", tmp_path / "home" / "staging"
    src = _write(tmp_path / "in" / "a.txt", "第一份".encode())
    first = _store(src, "../../../报告.txt", library, staging)
    src2 = _write(tmp_path / "in" / "b.txt", "第二份".encode())
    second = _store(src2, "报告.txt", library, staging)
    third = _store(src2, "报告.txt", library, staging)
    assert [p.name for p in (first, second, third)] == ["报告.txt", "报告-2.txt", "报告-3.txt"]
    assert all(p.parent == library.resolve() for p in (first, second, third))
    assert first.read_text(encoding="utf-8") == "第一份"
    assert sorted(p.name for p in tmp_path.rglob("报告*")) == sorted(
        ["报告.txt", "报告-2.txt", "报告-3.txt"]
    )
    assert list(staging.iterdir()) == []


def test_staged_upload_keeps_its_name_reserved(tmp_path: Path) -> None:
    library, staging = tmp_path / "library", tmp_path / "staging"
    src = _write(tmp_path / "a.md", "# 甲".encode())
    checked = check_upload(src, "a.md", 1)
    first = free_library_path(checked.name, library, staging)
    stage_upload(checked, staging, first)  # its ingest is still running
    assert free_library_path(checked.name, library, staging).name == "a-2.md"
    assert not first.exists()  # not in the library before its ingest commits


def test_finish_staged_uploads_rolls_forward_committed_and_drops_the_rest(
    tmp_path: Path,
) -> None:
    library, staging = tmp_path / "library", tmp_path / "staging"
    src = _write(tmp_path / "in.md", "# 乙".encode())
    checked = check_upload(src, "in.md", 1)
    committed = free_library_path("done.md", library, staging)
    stage_upload(checked, staging, committed)
    stage_upload(checked, staging, library / "killed.md")
    report = finish_staged_uploads(staging, {str(committed)})
    assert committed.read_text(encoding="utf-8") == "# 乙"
    assert not (library / "killed.md").exists() and list(staging.iterdir()) == []
    assert len(report) == 2 and "可重新上传" in " ".join(report)


def test_library_file_only_inside_library(tmp_path: Path) -> None:
    home, library = tmp_path, tmp_path / "library"
    inside = _write(library / "x.md", b"# x")
    _write(tmp_path / "corpus.md", b"# y")
    assert library_file("library/x.md", home, library) == inside.resolve()
    assert library_file("corpus.md", home, library) is None
    assert library_file("library/../corpus.md", home, library) is None
    assert library_file("library/missing.md", home, library) is None
