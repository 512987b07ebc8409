"""Where a term occurs in the corpus, without scanning the corpus per question.

Two questions are asked of the corpus for every question a user asks: how many chunks use a
term (its document frequency, for IDF weights), and whether the corpus uses it at all (a
question about "深圳" cannot be answered by a corpus that never says 深圳). Answered by a scan,
both cost time in proportion to the corpus: at 100,000 chunks a few terms take longer than the
whole rest of the answer. Chinese has no spaces to index words by, and a term is any string
(a thesaurus wording, a name jieba does not know), so this is a character index: for every
character and every pair of adjacent characters, the sorted ids of the texts containing it.
A term's candidates are the texts holding all of its pairs; only those are checked for the
term itself, so the answers are exactly those of the scan.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from rag.folders import replace_folder
from rag.synonyms import term_forms

_DOC_BITS = 21  # up to 2 million texts per index; a code point fits in 21 bits too
_DOC_MASK = (1 << _DOC_BITS) - 1
_HAN = re.compile(r"[\u4e00-\u9fff]+")
# An abbreviation keeps its characters in order with a few left out between them
# ("信通院" for "信息通信研究院").
ABBREVIATION_GAP = 3


class TermIndex:
    """Character and character-pair postings over ``texts`` (counted) and ``extra`` texts
    (titles: searched by ``occurs`` but not counted as chunks)."""

    def __init__(
        self,
        texts: Sequence[str],
        extra: Sequence[str] = (),
        postings: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.texts = [*texts, *extra]
        self.n = len(texts)  # texts that count for document frequencies
        # The lower-cased text only where it differs: Chinese text has no case, and a copy
        # of every text would cost as much memory again as the texts themselves.
        self._lower = [low if (low := t.lower()) != t else t for t in self.texts]
        self._unigrams, self._bigrams = postings or _postings(self._lower)

    # ----- persistence -------------------------------------------------------------------
    def save(self, folder: Path, ids: Sequence[str], token: str = "") -> None:
        """Write the postings with the ids of the counted texts and the extra texts, swapped
        in whole (a crash never leaves half an index). ``token`` names the commit whose
        texts these are (``Catalog.chunks_token``)."""
        if len(ids) != self.n:
            raise ValueError("one id per counted text")
        layout = {
            "ids": list(ids),
            "extra": self.texts[self.n :],
            "digest": _digest(self.texts),
            "token": token,
        }

        def write(tmp: Path) -> None:
            np.save(tmp / "unigrams.npy", self._unigrams)
            np.save(tmp / "bigrams.npy", self._bigrams)
            (tmp / "texts.json").write_text(json.dumps(layout, ensure_ascii=False), "utf-8")

        replace_folder(folder, write)

    @classmethod
    def load(cls, folder: Path, texts: Mapping[str, str], token: str = "") -> TermIndex | None:
        """The saved index, when it was saved for exactly these texts (id -> text); else None.

        Texts of the commit that ``token`` names are those the index was saved with: then
        their digest (a second pass over the whole corpus) is not computed again."""
        try:
            layout = json.loads((folder / "texts.json").read_text("utf-8"))
            ids, extra = layout["ids"], layout["extra"]
            if len(ids) != len(texts) or any(i not in texts for i in ids):
                return None
            ordered = [texts[i] for i in ids]
            same_commit = bool(token) and layout.get("token") == token
            if not same_commit and layout["digest"] != _digest([*ordered, *extra]):
                return None  # same chunk ids, other text (a document changed in place)
            postings = (np.load(folder / "unigrams.npy"), np.load(folder / "bigrams.npy"))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: the caller builds it again
        return cls(ordered, extra, postings)

    # ----- lookups ---------------------------------------------------------------------
    def document_frequency(self, term: str) -> int:
        """Chunks in which any wording of ``term`` occurs (``synonyms.term_in`` per chunk)."""
        found: set[int] = set()
        for form in term_forms(term):
            found.update(i for i in self._containing(form, exact=True) if i < self.n)
        return len(found)

    def occurs(self, term: str) -> bool:
        """Whether the corpus uses ``term`` (case-insensitively), or abbreviates it: a Chinese
        term of three or more characters whose characters stand in order, a few apart."""
        if not term:
            return True
        if self._containing(term, exact=False, first_only=True):
            return True
        if len(term) < 3 or not re.fullmatch(r"[\u4e00-\u9fff]+", term):
            return False
        pattern = re.compile(f".{{0,{ABBREVIATION_GAP}}}".join(map(re.escape, term)))
        candidates = self._all_of(self._unigrams, [ord(c) for c in set(term)])
        return any(pattern.search(self.texts[i]) for i in candidates)

    def contains(self, text: str) -> bool:
        """Whether ``text`` occurs verbatim in some text of the corpus."""
        return bool(text) and bool(self._containing(text, exact=True, first_only=True))

    # ----- internals -------------------------------------------------------------------
    def _containing(self, form: str, *, exact: bool, first_only: bool = False) -> list[int]:
        lowered = form.lower()
        if not lowered:
            return []
        if len(lowered) == 1:
            candidates = self._all_of(self._unigrams, [ord(lowered)])
        else:
            pairs = {(ord(a) << _DOC_BITS) | ord(b) for a, b in itertools.pairwise(lowered)}
            candidates = self._all_of(self._bigrams, sorted(pairs))
        # One character or one pair: the posting (of the lower-cased texts) is the answer;
        # longer terms are checked, and so are exact lookups of letters that have a case.
        checked = len(lowered) > 2 or (exact and (lowered != form or form.upper() != form))
        hits: list[int] = []
        for i in candidates:
            haystack = self.texts[i] if exact else self._lower[i]
            if not checked or (form if exact else lowered) in haystack:
                hits.append(int(i))
                if first_only:
                    break
        return hits

    @staticmethod
    def _all_of(postings: np.ndarray, grams: Iterable[int]) -> np.ndarray:
        """Ids of the texts that contain every one of ``grams`` (rarest posting first)."""
        lists = []
        for gram in grams:
            lo = np.searchsorted(postings, gram << _DOC_BITS)
            hi = np.searchsorted(postings, (gram + 1) << _DOC_BITS)
            if lo == hi:
                return np.zeros(0, dtype=np.int64)
            lists.append(postings[lo:hi] & _DOC_MASK)
        lists.sort(key=len)
        result = lists[0] if lists else np.zeros(0, dtype=np.int64)
        for other in lists[1:]:
            result = np.intersect1d(result, other, assume_unique=True)
            if not len(result):
                break
        return result


def _digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _postings(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ``gram << 21 | text id`` keys for single characters and for pairs.

    Built a block of texts at a time (each block encoded in one piece and its keys made
    unique before the next), so the memory it takes on the way stays near the result's."""
    if len(texts) > _DOC_MASK:
        raise ValueError(f"TermIndex holds at most {_DOC_MASK} texts, got {len(texts)}")
    uni_blocks: list[np.ndarray] = []
    bi_blocks: list[np.ndarray] = []
    start = 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (size < _BLOCK_CHARS or end == start):
            size += len(texts[end]) + 1
            end += 1
        unigrams, bigrams = _block_keys(texts[start:end], start)
        uni_blocks.append(unigrams)
        bi_blocks.append(bigrams)
        start = end
    if not uni_blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Blocks hold disjoint text ids, so their keys never repeat across blocks.
    return np.sort(np.concatenate(uni_blocks)), np.sort(np.concatenate(bi_blocks))


def _block_keys(texts: Sequence[str], first_id: int) -> tuple[np.ndarray, np.ndarray]:
    # Texts joined by NUL (never inside a text's pairs); each position knows its text's id.
    joined = "\0".join(texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    ids = np.repeat(np.arange(first_id, first_id + len(texts), dtype=np.int64), lengths)[
        : len(codes)
    ]
    real = codes != 0
    unigrams = _sorted_unique((codes[real] << _DOC_BITS) | ids[real])
    pair = real[:-1] & real[1:]
    keys = (((codes[:-1] << _DOC_BITS) | codes[1:]) << _DOC_BITS) | ids[:-1]
    return unigrams, _sorted_unique(keys[pair])


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    # Sort and drop repeats (numpy's unique hashes first, several times slower on these keys).
    keys = np.sort(keys)
    if len(keys) < 2:
        return keys
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


_BLOCK_CHARS = 2_000_000
