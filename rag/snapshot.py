"""The committed chunks as one file beside the index, so a new process need not ask Chroma.

Answering needs every chunk's text and metadata in memory (term statistics, document grouping,
filters). Read back from Chroma a thousand at a time they cost about 175 µs each: half a minute
at 150,000 chunks before a one-shot ``cityqa ask`` can answer. A commit writes them here as one
JSON file, read in a fraction of that time (orjson: chromadb's own JSON library, twice as fast
as the standard one on this file).

A snapshot is valid only for the catalog generation that names its token (``Catalog.
chunks_token``, written in the same commit, after the snapshot): a crash between the two leaves
a snapshot no catalog names, and readers fall back to Chroma. Metadata that is the same on
every chunk of a document (its title, source, 文号 …) is stored once per document, and the
value objects are shared by its chunks in memory, as interning did for the records read from
Chroma.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from rag.folders import replace_folder

_FILE = "chunks.json"
INTERNED_CHARS = 200  # values up to this length are interned (``rag.store._public_metadata``)
_FORMAT = 2
Record = tuple[str, str, dict[str, Any]]  # chunk id, verbatim text, public metadata
R = TypeVar("R")


@dataclass(frozen=True)
class Snapshot(Generic[R]):
    records: dict[str, R]  # chunk id -> record, in the commit's order
    aliases: list[tuple[str, str]]  # the short names the chunks define (``rag.aliases``)


def save_snapshot(
    folder: Path,
    token: str,
    records: Iterable[Record],
    aliases: Sequence[tuple[str, str]] = (),
) -> None:
    """Write the records (in their order) and the aliases they define under ``token``,
    swapped in whole."""
    records = list(records)
    by_doc: dict[str, list[Record]] = {}
    for record in records:
        by_doc.setdefault(str(record[2].get("doc_id", "")), []).append(record)
    shared: dict[str, dict[str, Any]] = {}
    for doc_id, own in by_doc.items():
        first = own[0][2]
        shared[doc_id] = {
            k: v for k, v in first.items() if all(k in r[2] and r[2][k] == v for r in own[1:])
        }
    rows = []
    for cid, text, meta in records:
        doc_id = str(meta.get("doc_id", ""))
        common = shared[doc_id]
        own = {k: v for k, v in meta.items() if k not in common}
        rows.append([cid, text, doc_id, own])
    payload = {
        "format": _FORMAT,
        "token": token,
        "documents": shared,
        "chunks": rows,
        "aliases": [list(pair) for pair in aliases],
    }

    def write(tmp: Path) -> None:
        (tmp / _FILE).write_bytes(orjson.dumps(payload))

    replace_folder(folder, write)


def load_snapshot(
    folder: Path, token: str, make: Callable[[str, str, dict[str, Any]], R]
) -> Snapshot[R] | None:
    """What was saved under ``token``, each chunk made into ``make(id, text, metadata)`` (in
    the one pass over the file: at 150,000 chunks every pass costs a fraction of a second);
    None when the snapshot is missing, damaged, or was written for another commit."""
    if not token:
        return None
    try:
        payload = orjson.loads((folder / _FILE).read_bytes())
        if payload.get("format") != _FORMAT or payload.get("token") != token:
            return None
        shared = payload["documents"]
        records: dict[str, R] = {}
        for cid, text, doc_id, own in payload["chunks"]:
            # Completed in place (a second dict per chunk would double the peak, and the
            # freed halves stay with the process); repeated short values (section paths,
            # tags) held once, as for records read from Chroma.
            for key, value in own.items():
                if isinstance(value, str) and len(value) <= INTERNED_CHARS:
                    own[key] = sys.intern(value)
            own.update(shared[doc_id])
            records[cid] = make(str(cid), str(text), own)
        aliases = [(str(full), str(short)) for full, short in payload["aliases"]]
        return Snapshot(records, aliases)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # JSONDecodeError too
        return None  # the caller reads the chunks from Chroma
