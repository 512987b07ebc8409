"""cityqa's read side and public API: ``from rag import Assistant``.

The names are imported on first use (PEP 562): ``import rag.errors`` or ``rag.library`` (what
``cityqa stats`` needs) must not pay for LlamaIndex, which ``rag.assistant`` imports (~2 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.assistant import Assistant, DocumentInfo
    from rag.errors import (
        CityQAError,
        ConfigError,
        EmbedderMismatchError,
        IndexNotFoundError,
        InvalidInputError,
    )
    from rag.settings import Settings
    from rag.store import index_exists, reset_index

_HOMES = {
    "Assistant": "rag.assistant",
    "DocumentInfo": "rag.assistant",
    "CityQAError": "rag.errors",
    "ConfigError": "rag.errors",
    "EmbedderMismatchError": "rag.errors",
    "IndexNotFoundError": "rag.errors",
    "InvalidInputError": "rag.errors",
    "Settings": "rag.settings",
    "index_exists": "rag.store",
    "reset_index": "rag.store",
}
__all__ = [
    "Assistant",
    "CityQAError",
    "ConfigError",
    "DocumentInfo",
    "EmbedderMismatchError",
    "IndexNotFoundError",
    "InvalidInputError",
    "Settings",
    "index_exists",
    "reset_index",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
