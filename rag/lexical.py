"""Chinese lexical search: jieba tokens scored by bm25s, persisted beside the Chroma store."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.folders import replace_folder
from rag.taxonomy import Taxonomy

# Function words and punctuation carry no topical signal for BM25.
_STOPWORD_TEXT = """
的 了 和 与 及 以及 或 等 是 在 为 对 将 把 被 由 从 向 以 于
其 之 而 并 也 都 就 还 又 这 那 此 该 各 个 中 上 下 有 无
不 没有 一 一是 二是 三是 四是 吗 呢 吧 啊 哪些 什么 怎么 如何 哪
哪个 怎样 为什么 多少 请 请问 我们 你们 他们 我 你 它 它们 要 会
能 可以 应 应该 需要 方面 主要 包括 包含 进行 通过 提出
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_TOKEN_RE = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)


class ChineseTokenizer:
    """jieba search-mode tokens, lower-cased, without stopwords or punctuation.

    Domain terms (taxonomy names, keywords) are added to this instance's dictionary so that
    "数字底座" or "数据要素" stay whole; a private ``jieba.Tokenizer`` keeps that local.
    """

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        # jieba's dictionary is read once per process; each tokenizer gets its own copy to
        # add its words to (a copy takes milliseconds, a load about a second).
        freq, total = _general_dictionary()
        self._jieba.FREQ, self._jieba.total = dict(freq), total
        self._jieba.initialized = True
        self._pos: Any = None
        for word in user_words:
            if word.strip():
                self._jieba.add_word(word.strip(), tag="n")  # domain terms are nouns

    def pos_cut(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech flag) pairs in precise mode, for question analysis."""
        return [(pair.word, pair.flag) for pair in self._pos_tokenizer().cut(text)]

    def dictionary_pos_cut(self, text: str) -> list[tuple[str, str]]:
        """Like ``pos_cut`` with dictionary words only (no HMM guesses at unknown words)."""
        return [(pair.word, pair.flag) for pair in self._pos_tokenizer().cut(text, HMM=False)]

    def _pos_tokenizer(self) -> Any:
        if self._pos is None:
            import jieba.posseg

            # As POSTokenizer(self._jieba) builds it, with the part-of-speech table read once
            # per process rather than once per tokenizer.
            pos = object.__new__(jieba.posseg.POSTokenizer)
            pos.tokenizer = self._jieba
            pos.word_tag_tab = dict(_general_word_tags())
            self._pos = pos
        return self._pos

    def known(self, word: str) -> bool:
        """Whether the word is in the dictionary (not a fragment found by jieba's HMM)."""
        self._jieba.check_initialized()
        return bool(self._jieba.FREQ.get(word))

    def general_informativeness(self, word: str) -> float:
        """-log frequency of a word in jieba's general-Chinese dictionary (higher = rarer)."""
        self._jieba.check_initialized()
        return math.log(self._jieba.total / (self._jieba.FREQ.get(word, 0) + 1))

    def tokenize(self, text: str) -> list[str]:
        tokens = []
        for token in self._jieba.cut_for_search(text):
            token = token.strip().lower()
            if token and token not in _STOPWORDS and _TOKEN_RE.search(token):
                tokens.append(token)
        return tokens


@functools.cache
def _general_dictionary() -> tuple[dict[str, int], int]:
    """jieba's general dictionary (word and prefix frequencies, total): never modified."""
    import jieba

    base = jieba.Tokenizer()
    base.check_initialized()
    return base.FREQ, base.total


@functools.cache
def _general_word_tags() -> dict[str, str]:
    """jieba's part-of-speech table of its general dictionary: never modified.

    Importing ``jieba.posseg`` already reads the table for its default tokenizer (on the
    general dictionary); building another ``POSTokenizer`` would read it a second time."""
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab


def build_tokenizer(taxonomy: Taxonomy) -> ChineseTokenizer:
    """A tokenizer that knows the taxonomy's terms (names, components, keywords)."""
    words = [lb.name for lb in taxonomy.all_labels]
    words += [w for lb in taxonomy.all_labels for w in (*lb.components, *lb.keywords)]
    return ChineseTokenizer(words)


class BM25Index:
    """A bm25s index over chunk ids; rebuilt whole when the chunk set changes.

    Saved atomically: written to a temporary folder, then swapped in, so a crash never leaves
    a half-written index behind.
    """

    def __init__(self, ids: Sequence[str], retriever: object | None) -> None:
        self.ids = list(ids)
        self._retriever = retriever
        self._vocab: set[str] = set(getattr(retriever, "vocab_dict", {}) or {})
        self._position: dict[str, int] | None = None  # chunk id -> its place in ``ids``

    @classmethod
    def build(cls, ids: Sequence[str], token_lists: Sequence[list[str]]) -> BM25Index:
        if not ids:
            return cls([], None)
        import bm25s

        retriever = bm25s.BM25()
        # An empty token list would break bm25s; a placeholder token keeps ids aligned.
        retriever.index([tokens or ["<empty>"] for tokens in token_lists], show_progress=False)
        return cls(ids, retriever)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk, aligned with ``self.ids``."""
        known = [t for t in query_tokens if t in self._vocab]
        if self._retriever is None or not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(known), dtype=np.float32)

    def positions(self, ids: Iterable[str]) -> np.ndarray:
        """The ascending places in ``self.ids`` (and in ``scores``) of these chunk ids."""
        if self._position is None:
            self._position = {cid: i for i, cid in enumerate(self.ids)}
        found = [p for cid in ids if (p := self._position.get(cid)) is not None]
        return np.sort(np.asarray(found, dtype=np.int64))

    def save(self, folder: Path) -> None:
        def write(tmp: Path) -> None:
            if self._retriever is not None:
                self._retriever.save(str(tmp), show_progress=False)
            ids = json.dumps(self.ids, ensure_ascii=False)
            (tmp / "ids.json").write_text(ids, encoding="utf-8")

        replace_folder(folder, write)

    @classmethod
    def load(cls, folder: Path) -> BM25Index | None:
        ids_file = folder / "ids.json"
        if not ids_file.is_file():
            return None
        ids = json.loads(ids_file.read_text(encoding="utf-8"))
        if not ids:
            return cls([], None)
        import bm25s

        retriever = bm25s.BM25.load(str(folder), show_progress=False)
        return cls(ids, retriever)
