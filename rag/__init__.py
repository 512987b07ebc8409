"""cityqa's read side and public API: ``from rag import Assistant``."""

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
