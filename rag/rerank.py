"""Optional cross-encoder re-ranking (e.g. BAAI/bge-reranker-base), off unless configured."""

from __future__ import annotations

from collections.abc import Callable

from rag.errors import ConfigError
from rag.settings import Settings
from rag.types import Passage


def build_reranker(settings: Settings) -> Callable[[str, list[Passage]], list[float]] | None:
    """A scorer (question, passages) -> scores, or None when no reranker is configured."""
    if not settings.reranker:
        return None
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ConfigError("需要 sentence-transformers：pip install sentence-transformers") from exc
    try:
        model = CrossEncoder(
            settings.reranker,
            device=settings.device,
            local_files_only=not settings.allow_downloads,
        )
    except Exception as exc:
        raise ConfigError(
            f"无法加载重排序模型 '{settings.reranker}'（CITYQA_RERANKER）：{exc}。"
            "请提供本地路径，或设置 CITYQA_ALLOW_DOWNLOADS=true"
        ) from exc

    def score(question: str, passages: list[Passage]) -> list[float]:
        pairs = [(question, p.text) for p in passages]
        return [float(s) for s in model.predict(pairs, show_progress_bar=False)]

    return score
