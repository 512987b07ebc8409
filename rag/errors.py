"""Errors users see. Each message says what is wrong and what to do, in Chinese."""

from __future__ import annotations


class CityQAError(Exception):
    """Base class for errors that the CLI/UI show to users as plain messages."""


class ConfigError(CityQAError):
    """A setting or an optional component is missing or invalid."""


class EmbedderMismatchError(CityQAError):
    """The index was built with another embedder than the one configured now."""


class IndexNotFoundError(CityQAError):
    """No index exists yet under $CITYQA_HOME."""


class InvalidInputError(CityQAError, ValueError):
    """A question, filter or batch line is not acceptable."""


class IndexBusyError(CityQAError):
    """Another process or thread holds the index's writer lock for too long."""


class IndexCorruptError(CityQAError):
    """A file of the index cannot be read; the message says how to repair it."""
