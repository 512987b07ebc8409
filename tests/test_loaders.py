"""File loaders (text encodings, PDF, DOCX, HTML) and how ingest reports files it cannot use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import outcomes_by_source, split_text, write_text

from ingest.chunker import parse_sections
from ingest.loaders import LoadError, load_file, rejoin_pdf_lines

POLICY_TEXT = """一、总体要求

为加快推进城市全域数字化转型，特制定本方案。本方案适用于全市各级部门和单位。坚持统筹规划、分步实施，推动数字底座建设与数据要素流通协同发展。

二、主要任务

（一）建设数字底座

推进千兆光网和5G网络建设，适度超前布局算力设施。建设城市数字孪生底座，夯实城市运行基础。

（二）推动数据要素流通

建立公共数据授权运营机制，推动数据开放共享。培育数据交易市场，激活数据要素价值。
"""


def _sections(chunks) -> list[tuple[int, str, str]]:
    return sorted(
        (c.metadata["chunk_index"], c.metadata["section"], c.text) for c in chunks.values()
    )


# ----- text encodings ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("utf8.txt", POLICY_TEXT.encode("utf-8")),
        ("bom.txt", b"\xef\xbb\xbf" + POLICY_TEXT.encode("utf-8")),
        ("gbk.txt", POLICY_TEXT.encode("gbk")),
        ("gb18030.txt", POLICY_TEXT.encode("gb18030")),
        ("crlf.txt", POLICY_TEXT.replace("\n", "\r\n").encode("utf-8")),
    ],
)
def test_encodings_decode_to_the_same_text(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    doc = load_file(path)
    assert doc.text == POLICY_TEXT.strip("\n")
    assert doc.file_type == "txt"


def test_gbk_fixture_is_really_not_utf8() -> None:
    with pytest.raises(UnicodeDecodeError):
        POLICY_TEXT.encode("gbk").decode("utf-8")


def test_encodings_ingest_to_the_same_chunks(tmp_path: Path, settings_for, open_assistant) -> None:
    settings = settings_for(tmp_path / "home")
    corpus = settings.corpus_dir
    write_text(corpus / "utf8.txt", POLICY_TEXT, "utf-8")
    write_text(corpus / "bom.txt", POLICY_TEXT, "utf-8-sig")
    write_text(corpus / "gbk.txt", POLICY_TEXT, "gbk")
    assert (corpus / "bom.txt").read_bytes().startswith(b"\xef\xbb\xbf")

    assistant = open_assistant(settings)
    report = assistant.ingest([corpus])
    assert report.count("ingested") == 3, report.to_dict()
    chunks = assistant.store.chunks()
    per_source = {
        src: _sections({k: c for k, c in chunks.items() if c.metadata["source"] == src})
        for src in ("utf8.txt", "bom.txt", "gbk.txt")
    }
    reference = per_source["utf8.txt"]
    assert len({section for _, section, _ in reference}) >= 3
    assert any("建立公共数据授权运营机制" in text for _, _, text in reference)
    assert per_source["bom.txt"] == reference
    assert per_source["gbk.txt"] == reference
    assert "一、总体要求" in {s for _, s, _ in reference}


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bad-bom.txt", b"\xef\xbb\xbf" + "城市。".encode() + b"\xff\xfe\xfa"),
        ("bad-utf16.txt", b"\xff\xfe\x00\xd8"),
        ("random.txt", bytes(range(128, 256)) * 8),
    ],
)
def test_undecodable_text_raises_load_error(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert info.value.path == path
    assert "编码" in info.value.reason


# ----- Markdown ---------------------------------------------------------------------------------
def test_markdown_front_matter_gives_title(tmp_path: Path) -> None:
    path = write_text(tmp_path / "note.md", "---\ntitle: 某市方案\n---\n\n## 1 总则\n\n正文。\n")
    doc = load_file(path)
    assert doc.title == "某市方案"
    assert "---" not in doc.text and "正文。" in doc.text


def test_markdown_with_only_front_matter_does_not_index_raw_yaml(tmp_path: Path) -> None:
    path = write_text(tmp_path / "stub.md", "---\ntitle: 只有文件头\n---\n")
    try:
        doc = load_file(path)
    except LoadError as exc:
        assert "文字" in exc.reason
        return
    assert doc.title == "只有文件头"
    assert "---" not in doc.text and "title:" not in doc.text


def test_broken_front_matter_is_reported(tmp_path: Path) -> None:
    path = write_text(tmp_path / "bad.md", "---\ntitle: [未闭合\n---\n\n正文。\n")
    with pytest.raises(LoadError, match="front matter"):
        load_file(path)


# ----- PDF --------------------------------------------------------------------------------------
PDF_PAGES = [
    [
        "1 总体要求",
        "为加快推进城市全域数字化转型，特制定本方案。本方案适用于全市各级部门和单位。",
        "1.1 基本原则",
        "坚持需求导向，以解决群众急难愁盼问题为出发点和落脚点，推动城市治理体系和治理能力"
        "现代化，持续提升人民群众的获得感、幸福感和安全感。坚持安全可控，筑牢数字安全屏障。",
    ],
    [
        "2 主要任务",
        "2.1 建设数字底座",
        "推进千兆光网和5G网络建设，适度超前布局算力设施。建设城市数字孪生底座。",
    ],
    [
        "同步推进市政设施智能化改造。",
        "2.2 推动数据要素流通",
        "建立公共数据授权运营机制，推动数据开放共享。培育数据交易市场。",
        "3 保障措施",
        "加强组织领导，建立工作专班。",
    ],
]
PDF_TITLE = "某市城市全域数字化转型实施方案"


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        ("资金规模不少于30\n00万元。", "资金规模不少于3000万元。"),  # a number split by the wrap
        ("到2025\n年底建成。", "到2025年底建成。"),  # digit then a Chinese character
        ("建设可信数据\nspace。", "建设可信数据space。"),
        ("trusted data\nspace。", "trusted data space。"),  # a Latin word wrap keeps its space
        ("执行GB\n50174标准。", "执行GB 50174标准。"),
    ],
)
def test_pdf_line_wraps_join_without_inventing_spaces(lines: str, joined: str) -> None:
    assert rejoin_pdf_lines(lines) == joined


def test_pdf_loads_text_pages_and_title(tmp_path: Path, make_pdf) -> None:
    doc = load_file(make_pdf(tmp_path / "plan.pdf", PDF_PAGES, title=PDF_TITLE))
    assert doc.file_type == "pdf" and doc.title == PDF_TITLE and doc.warnings == []
    assert doc.page_starts is not None and len(doc.page_starts) == 3
    # The long paragraph was wrapped over several PDF lines; it is re-joined verbatim.
    assert PDF_PAGES[0][3] in doc.text
    page2 = doc.text[doc.page_starts[1] : doc.page_starts[2]]
    assert "2.1 建设数字底座" in page2 and "1.1 基本原则" not in page2
    paths = [s.path for s in parse_sections(doc.text, doc.title)]
    assert paths == [
        ("1 总体要求",),
        ("1 总体要求", "1.1 基本原则"),
        ("2 主要任务", "2.1 建设数字底座"),
        ("2 主要任务", "2.2 推动数据要素流通"),
        ("3 保障措施",),
    ]


def test_pdf_ingest_pages_and_sections(tmp_path: Path, make_pdf, settings_for, open_assistant):
    settings = settings_for(tmp_path / "home")
    make_pdf(settings.corpus_dir / "plan.pdf", PDF_PAGES, title=PDF_TITLE)
    assistant = open_assistant(settings)
    report = assistant.ingest([settings.corpus_dir])
    assert report.count("ingested") == 1, report.to_dict()
    chunks = list(assistant.store.chunks().values())
    by_section = {c.metadata["section"]: c for c in chunks}

    def holder(passage: str):
        found = [c for c in chunks if passage in c.text]
        assert len(found) == 1, passage
        return found[0]

    assert holder("特制定本方案").metadata["page"] == 1
    assert holder("坚持安全可控").metadata["section"] == "1 总体要求 > 1.1 基本原则"
    digital = holder("推进千兆光网和5G网络建设")
    assert digital.metadata["section"] == "2 主要任务 > 2.1 建设数字底座"
    assert digital.metadata["page"] == 2
    # §2.1 continues on page 3 without a heading: one chunk spanning pages 2-3.
    assert holder("同步推进市政设施智能化改造") is digital
    assert digital.metadata["page_end"] == 3
    assert by_section["2 主要任务 > 2.2 推动数据要素流通"].metadata["page"] == 3
    assert by_section["3 保障措施"].metadata["page"] == 3
    assert all(c.metadata["doc_title"] == PDF_TITLE for c in chunks)
    [info] = assistant.documents()
    assert info.pages == 3 and info.file_type == "pdf" and info.warnings == ()


def _blank_encrypted_pdf(path: Path, user_password: str, owner_password: str) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def test_bad_pdfs_fail_without_stopping_other_files(
    tmp_path: Path, imageonly_pdf, settings_for, open_assistant
) -> None:
    settings = settings_for(tmp_path / "home")
    corpus = settings.corpus_dir
    imageonly_pdf(corpus / "a-scanned.pdf", 2)
    _blank_encrypted_pdf(corpus / "b-encrypted.pdf", "secret", "owner")
    (corpus / "c-corrupt.pdf").write_bytes(os.urandom(4096))
    (corpus / "d-truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    write_text(corpus / "e-good.md", "## 1 总则\n\n推动城市数字化转型。建设城市大脑。\n")

    assistant = open_assistant(settings)
    report = assistant.ingest([corpus])
    out = outcomes_by_source(report)
    assert out["e-good.md"].status == "ingested"
    assert {s: o.status for s, o in out.items() if s.endswith(".pdf")} == dict.fromkeys(
        ["a-scanned.pdf", "b-encrypted.pdf", "c-corrupt.pdf", "d-truncated.pdf"], "failed"
    )
    assert "OCR" in out["a-scanned.pdf"].error
    assert "加密" in out["b-encrypted.pdf"].error
    assert "PDF" in out["c-corrupt.pdf"].error and "PDF" in out["d-truncated.pdf"].error
    assert report.to_dict()["failed"] == 4
    assert {c.metadata["source"] for c in assistant.store.chunks().values()} == {"e-good.md"}
    assert [d.source for d in assistant.documents()] == ["e-good.md"]


def test_partly_scanned_pdf_warns_and_owner_only_encryption_opens(
    tmp_path: Path, make_pdf, settings_for, open_assistant
) -> None:
    from pypdf import PdfReader, PdfWriter

    settings = settings_for(tmp_path / "home")
    corpus = settings.corpus_dir
    make_pdf(corpus / "mixed.pdf", [PDF_PAGES[0], [], PDF_PAGES[1]])  # [] = drawing only
    plain = make_pdf(tmp_path / "plain.pdf", [PDF_PAGES[1]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="", owner_password="owner-only")  # opens without a password
    with (corpus / "locked-for-editing.pdf").open("wb") as fh:
        writer.write(fh)

    assistant = open_assistant(settings)
    report = assistant.ingest([corpus])
    out = outcomes_by_source(report)
    assert out["mixed.pdf"].status == "ingested"
    assert len(out["mixed.pdf"].warnings) == 1
    assert "第 2 页" in out["mixed.pdf"].warnings[0] and "需要 OCR" in out["mixed.pdf"].warnings[0]
    assert out["locked-for-editing.pdf"].status == "ingested"
    mixed = [c for c in assistant.store.chunks().values() if c.metadata["source"] == "mixed.pdf"]
    assert {c.metadata["page"] for c in mixed} == {1, 3}  # page numbers skip the blank page
    docs = {d.source: d for d in assistant.documents()}
    assert docs["mixed.pdf"].pages == 3 and docs["mixed.pdf"].warnings


# ----- DOCX and HTML ----------------------------------------------------------------------------
def test_docx_headings_become_sections(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("某市数字化转型实施方案", level=0)
    document.add_heading("总体要求", level=1)
    document.add_paragraph("为加快推进城市全域数字化转型，特制定本方案。")
    document.add_heading("基本原则", level=2)
    document.add_paragraph("坚持需求导向。坚持安全可控。")
    document.add_heading("主要任务", level=1)
    document.add_paragraph("一、建设数字底座")  # a numbered heading in Normal style
    document.add_paragraph("推进千兆光网建设。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "责任单位"
    table.rows[0].cells[1].text = "市数据局"
    path = tmp_path / "plan.docx"
    document.save(str(path))

    doc = load_file(path)
    assert doc.file_type == "docx"
    assert doc.title == "某市数字化转型实施方案"
    assert "## 总体要求" in doc.text and "### 基本原则" in doc.text
    assert "责任单位 | 市数据局" in doc.text
    sections = {
        " > ".join(s.path): [doc.text[x.start : x.end] for x in s.sentences]
        for s in parse_sections(doc.text, doc.title)
    }
    assert sections["总体要求"] == ["为加快推进城市全域数字化转型，特制定本方案。"]
    assert sections["总体要求 > 基本原则"] == ["坚持需求导向。", "坚持安全可控。"]
    assert sections["主要任务 > 一、建设数字底座"] == ["推进千兆光网建设。", "责任单位 | 市数据局"]


def test_corrupt_docx_is_a_load_error(tmp_path: Path) -> None:
    import zipfile

    (tmp_path / "random.docx").write_bytes(os.urandom(2048))
    with zipfile.ZipFile(tmp_path / "notword.docx", "w") as archive:
        archive.writestr("hello.txt", "不是 Word 文档")
    for name in ("random.docx", "notword.docx"):
        with pytest.raises(LoadError, match="DOCX"):
            load_file(tmp_path / name)


HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>某市数据条例解读</title>
<script>var tracker = "SCRIPT_SHOULD_NOT_APPEAR";</script>
<style>.hidden { color: red }</style></head>
<body><nav>首页 | 政策文件</nav>
<h1>某市数据条例解读</h1>
<h2>一、总体要求</h2>
<p>推动公共数据<a href="#">开放共享</a>。<b>强化</b>数据安全。</p>
<h2>二、主要任务</h2>
<ul><li>建设数据共享交换平台。</li><li>培育数据要素市场。</li></ul>
<script>document.write("ALSO_HIDDEN");</script>
<footer>版权所有 某市人民政府</footer>
</body></html>
"""


def test_html_drops_scripts_and_keeps_headings(tmp_path: Path, splitter) -> None:
    doc = load_file(write_text(tmp_path / "page.html", HTML))
    assert doc.file_type == "html" and doc.title == "某市数据条例解读"
    for junk in ("SCRIPT_SHOULD_NOT_APPEAR", "ALSO_HIDDEN", "color", "首页", "版权所有"):
        assert junk not in doc.text
    # Inline tags must not put spaces into Chinese sentences (quotes are checked verbatim).
    assert "推动公共数据开放共享。强化数据安全。" in doc.text
    nodes = split_text(splitter, doc.text, doc.title)
    assert {n.metadata["section"]: n.text for n in nodes} == {
        "一、总体要求": "推动公共数据开放共享。强化数据安全。",
        "二、主要任务": "建设数据共享交换平台。\n\n培育数据要素市场。",
    }


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><p>推动数据开放。<script>var x = 'INLINE';</script></p></body></html>",
        "<html><body><div>推动数据开放。<script>var x = 'INLINE';</script></div></body></html>",
    ],
)
def test_html_scripts_inside_text_are_dropped(tmp_path: Path, html: str) -> None:
    doc = load_file(write_text(tmp_path / "page.html", html))
    assert doc.text == "推动数据开放。"


def test_gbk_html_is_decoded(tmp_path: Path) -> None:
    path = write_text(tmp_path / "gbk.htm", HTML.replace("utf-8", "gbk"), "gbk")
    doc = load_file(path)
    assert "建设数据共享交换平台。" in doc.text and doc.title == "某市数据条例解读"


# ----- unsupported and empty files --------------------------------------------------------------
def test_unsupported_type_named_in_reason(tmp_path: Path) -> None:
    path = write_text(tmp_path / "notes.xyz", "城市数字化转型。")
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert "不支持" in info.value.reason and ".xyz" in info.value.reason


def test_unusable_files_fail_and_others_continue(
    tmp_path: Path, settings_for, open_assistant
) -> None:
    settings = settings_for(tmp_path / "home")
    corpus = settings.corpus_dir
    write_text(corpus / "a-good.md", "## 1 总则\n\n推动城市数字化转型。\n")
    write_text(corpus / "b-empty.md", "")
    write_text(corpus / "c-blank.txt", " \n\n\t \n")
    write_text(corpus / "d-ignored.xyz", "文件夹扫描时跳过。")
    (corpus / "e-bad-bom.txt").write_bytes(b"\xef\xbb\xbf" + "城市。".encode() + b"\xff\xfe")
    write_text(corpus / "f-headings-only.md", "# 标题\n\n## 1 总则\n")
    write_text(corpus / "z-good.txt", "一、总体要求\n\n建设城市大脑。推进一网统管。\n")
    explicit = write_text(tmp_path / "explicit.xyz", "点名的文件总会被尝试。")

    assistant = open_assistant(settings)
    report = assistant.ingest([corpus, explicit, tmp_path / "missing.md"])
    out = outcomes_by_source(report)
    assert out["a-good.md"].status == "ingested" and out["z-good.txt"].status == "ingested"
    assert out["b-empty.md"].status == "failed" and out["b-empty.md"].error == "文件为空"
    assert out["c-blank.txt"].status == "failed" and out["c-blank.txt"].error == "文件为空"
    assert out["e-bad-bom.txt"].status == "failed" and "编码" in out["e-bad-bom.txt"].error
    assert out["explicit.xyz"].status == "failed"
    assert "不支持的文件类型" in out["explicit.xyz"].error and ".xyz" in out["explicit.xyz"].error
    assert out["missing.md"].status == "failed"
    assert "d-ignored.xyz" not in out and "d-ignored.xyz" in report.skipped
    sources = {c.metadata["source"] for c in assistant.store.chunks().values()}
    assert {"a-good.md", "z-good.txt"} <= sources
    assert not sources & {"b-empty.md", "c-blank.txt", "e-bad-bom.txt", "explicit.xyz"}
    assert "f-headings-only.md" not in sources  # headings without body text give no chunks
