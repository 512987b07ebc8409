"""Shared fixtures: one real use-m3 embedder per session, real Chroma indexes in tmp dirs.

Nothing here touches ``~/.cityqa``: every index lives under pytest's tmp dirs, ``CITYQA_*``
variables from the caller's environment are cleared, and a ./cityqa.toml is ignored, so a
developer's own settings cannot change what the tests see.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import Document, TextNode

import rag.assistant
import rag.lexical
import rag.settings
from ingest.chunker import ChineseStructureSplitter
from ingest.loaders import LoadedDocument, load_file
from ingest.pipeline import IngestReport
from rag.assistant import Assistant
from rag.embeddings import USE_M3, UseM3Embedding
from rag.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT / "corpus"
PAPER = CORPUS_DIR / "城市数字化转型总体架构和实践路径研究.md"
PAPER_TITLE = "城市数字化转型总体架构和实践路径研究"
TAXONOMY = CORPUS_DIR / "taxonomy.yaml"

# The chunking settings the paper tests are written against (the Settings defaults).
MIN_CHARS, MAX_CHARS, OVERLAP_CHARS = 150, 500, 100

# A CJK TrueType collection with Latin glyphs too (DroidSansFallback has no ASCII digits,
# so numbered headings like "1.1" would be lost). CI installs the Debian package.
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


# ----- environment -----------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Clear CITYQA_* variables, point the default home at a tmp dir, ignore ./cityqa.toml."""
    guard_home = tmp_path_factory.mktemp("default-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("CITYQA_"):
                mp.delenv(name)
        mp.setenv("CITYQA_HOME", str(guard_home))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(rag.settings, "config_file", _ignoring_local_toml(Path.cwd() / "cityqa.toml"))
        yield guard_home


def _ignoring_local_toml(local: Path) -> Callable[[], Path | None]:
    """``config_file`` minus a developer's ./cityqa.toml; $CITYQA_CONFIG still works."""
    real = rag.settings.config_file

    def config_file() -> Path | None:
        found = real()
        return None if found is not None and found.resolve() == local.resolve() else found

    return config_file


def make_settings(home: Path, corpus_dir: Path | None = None, **overrides: Any) -> Settings:
    """Explicit settings for a test index; the taxonomy is always the bundled one."""
    values: dict[str, Any] = {
        "home": home,
        "corpus_dir": corpus_dir or home / "corpus",
        "taxonomy_file": TAXONOMY,
        "embedder": USE_M3,
        "embed_threads": 1,
        "chunk_min_chars": MIN_CHARS,
        "chunk_max_chars": MAX_CHARS,
        "chunk_overlap_chars": OVERLAP_CHARS,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_for() -> Callable[..., Settings]:
    """``settings_for(home, corpus_dir=None, **overrides)`` -> Settings."""
    return make_settings


# ----- embedder and assistants --------------------------------------------------------------
@pytest.fixture(scope="session")
def embedder() -> UseM3Embedding:
    """The real bundled embedder, loaded once (≈4 s) and shared by every index."""
    return UseM3Embedding(threads=1)


# Every ChineseTokenizer loads jieba's dictionary afresh (~1 s); the taxonomy is the same
# in every test, so one tokenizer per taxonomy is shared (it is immutable once built).
_shared_tokenizer = functools.lru_cache(maxsize=4)(rag.lexical.build_tokenizer)


@pytest.fixture(scope="session")
def tokenizer() -> rag.lexical.ChineseTokenizer:
    """The shared jieba tokenizer with the bundled taxonomy's terms."""
    from rag.taxonomy import Taxonomy

    return _shared_tokenizer(Taxonomy.load(TAXONOMY))


def share_models(mp: pytest.MonkeyPatch, embedder: UseM3Embedding) -> None:
    """Make ``Assistant.open`` reuse the session embedder (for use-m3) and tokenizer."""
    real_build = rag.assistant.build_embedder

    def build(s: Settings) -> Any:
        return embedder if s.embedder == USE_M3 else real_build(s)

    mp.setattr(rag.assistant, "build_embedder", build)
    mp.setattr(rag.assistant, "build_tokenizer", _shared_tokenizer)


def open_with_embedder(embedder: UseM3Embedding, settings: Settings, **kwargs: Any) -> Assistant:
    """``Assistant.open`` for real, with the shared session embedder and tokenizer."""
    with pytest.MonkeyPatch.context() as mp:
        share_models(mp, embedder)
        return Assistant.open(settings, build_if_missing=False, **kwargs)


@pytest.fixture
def open_assistant(embedder: UseM3Embedding) -> Callable[..., Assistant]:
    """``open_assistant(settings, repair=True)`` -> a freshly opened Assistant (reads the
    index from disk; ``repair=False`` leaves a crashed index as it is, for inspection)."""
    return lambda settings, **kwargs: open_with_embedder(embedder, settings, **kwargs)


@pytest.fixture
def share_embedder(embedder: UseM3Embedding, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every ``Assistant.open`` in the test (e.g. the CLI's) reuse the shared models."""
    share_models(monkeypatch, embedder)


@dataclass
class BuiltIndex:
    assistant: Assistant
    report: IngestReport
    settings: Settings


@pytest.fixture(scope="session")
def library_index(tmp_path_factory: pytest.TempPathFactory, embedder: UseM3Embedding) -> BuiltIndex:
    """The library the eval runs on: the bundled corpus plus the regulations from
    ``../shared/regulations`` when that folder exists (as ``cityqa eval`` builds it)."""
    from eval.dataset import SHARED_REGULATIONS

    settings = make_settings(tmp_path_factory.mktemp("library-index"), CORPUS_DIR)
    assistant = open_with_embedder(embedder, settings)
    folders = [CORPUS_DIR, *([SHARED_REGULATIONS] if SHARED_REGULATIONS.is_dir() else [])]
    report = assistant.ingest(folders)
    return BuiltIndex(assistant, report, settings)


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, embedder: UseM3Embedding) -> BuiltIndex:
    """A real index of the bundled corpus, built once. Tests must not modify it."""
    settings = make_settings(tmp_path_factory.mktemp("corpus-index"), CORPUS_DIR)
    assistant = open_with_embedder(embedder, settings)
    report = assistant.ingest([CORPUS_DIR])
    return BuiltIndex(assistant, report, settings)


@pytest.fixture(scope="session")
def paper_index(tmp_path_factory: pytest.TempPathFactory, embedder: UseM3Embedding) -> BuiltIndex:
    """An index of the paper alone: for question sets written against the paper only (the
    refusal calibration set), where a policy text answering a question "the paper does not
    answer" would make the label wrong, not the system."""
    corpus = tmp_path_factory.mktemp("paper-corpus")
    for name in (PAPER.name, "taxonomy.yaml", "synonyms.yaml"):
        (corpus / name).write_bytes((CORPUS_DIR / name).read_bytes())
    settings = make_settings(tmp_path_factory.mktemp("paper-index"), corpus)
    assistant = open_with_embedder(embedder, settings)
    report = assistant.ingest([corpus])
    return BuiltIndex(assistant, report, settings)


@pytest.fixture
def paper_chunks(corpus_index: BuiltIndex) -> list[Any]:
    """The stored chunks of the paper, in chunk order."""
    chunks = [
        c
        for c in corpus_index.assistant.store.chunks().values()
        if c.metadata["source"] == PAPER.name
    ]
    return sorted(chunks, key=lambda c: c.metadata["chunk_index"])


# ----- the paper, chunked without an index ----------------------------------------------------
@pytest.fixture(scope="session")
def paper() -> LoadedDocument:
    return load_file(PAPER)


@pytest.fixture(scope="session")
def splitter() -> ChineseStructureSplitter:
    return ChineseStructureSplitter(
        min_chars=MIN_CHARS, max_chars=MAX_CHARS, overlap_chars=OVERLAP_CHARS
    )


def split_text(
    splitter: ChineseStructureSplitter, text: str, title: str = "", page_starts: Any = None
) -> list[TextNode]:
    metadata: dict[str, Any] = {"doc_id": "doc", "doc_title": title}
    if page_starts:
        metadata["page_starts"] = page_starts
    nodes = splitter.get_nodes_from_documents([Document(text=text, id_="doc", metadata=metadata)])
    return [n for n in nodes if isinstance(n, TextNode)]


@pytest.fixture(scope="session")
def paper_nodes(paper: LoadedDocument, splitter: ChineseStructureSplitter) -> list[TextNode]:
    return split_text(splitter, paper.text, paper.title)


# ----- generated documents ----------------------------------------------------------------
@pytest.fixture
def cjk_font() -> Path:
    if not CJK_FONT.is_file():
        pytest.skip(
            f"CJK font {CJK_FONT} not found: install the Debian package {CJK_FONT_PACKAGE} "
            f"(apt-get install -y {CJK_FONT_PACKAGE}) to run the Chinese PDF tests"
        )
    return CJK_FONT


@pytest.fixture
def make_pdf(cjk_font: Path) -> Callable[..., Path]:
    """``make_pdf(path, pages, title=None)``: a text PDF, one list of paragraphs per page."""

    def make(path: Path, pages: Sequence[Sequence[str]], title: str | None = None) -> Path:
        from fpdf import FPDF

        pdf = FPDF(format="A4")
        pdf.add_font("cjk", fname=str(cjk_font))
        pdf.set_font("cjk", size=12)
        if title:
            pdf.set_title(title)
        for paragraphs in pages:
            pdf.add_page()
            for para in paragraphs:
                pdf.multi_cell(0, 8, para, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(4)
        path.parent.mkdir(parents=True, exist_ok=True)
        pdf.output(str(path))
        return path

    return make


def make_imageonly_pdf(path: Path, pages: int) -> Path:
    """A PDF whose pages carry only a drawn rectangle: no text layer (like a scan)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 150, 200, style="F")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


@pytest.fixture
def imageonly_pdf() -> Callable[[Path, int], Path]:
    return make_imageonly_pdf


@pytest.fixture(scope="session")
def tiny_st_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight BERT sentence-transformers model with a small CJK character vocab.

    The folder name contains "bge" and "zh" so the bge-zh query instruction applies to it.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizer

    try:  # sentence-transformers >= 5.2 moved the modules
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # pragma: no cover - older releases
        from sentence_transformers.models import Pooling, Transformer

    root = tmp_path_factory.mktemp("tiny-st")
    hf_dir, st_dir = root / "hf", root / "tiny-bge-zh"
    hf_dir.mkdir()
    text = PAPER.read_text(encoding="utf-8")
    common = [ch for ch, _ in Counter(re.findall(r"[\u4e00-\u9fff]", text)).most_common(1000)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *common]
    (hf_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(hf_dir / "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(str(hf_dir))
    tokenizer.save_pretrained(str(hf_dir))
    transformer = Transformer(str(hf_dir), max_seq_length=256)
    pooling = Pooling(32, "mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(st_dir))
    return st_dir


# ----- small helpers shared by the test modules ---------------------------------------------
def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def outcomes_by_source(report: IngestReport) -> dict[str, Any]:
    return {f.source: f for f in report.files}
