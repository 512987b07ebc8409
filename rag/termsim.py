"""Question terms a passage words differently: "收钱" against "收费", "免费" against "无偿".

Planners ask in their own words; documents use the official ones. The thesaurus lists the
common pairs, but no list is complete. A question term counts as worded in a passage when
the embedding of the term is close to that of one of the passage's words. Only whole words
are compared (jieba's tokens of the passage), never the passage as a whole: a passage about
the right topic that lacks the asked thing (the related-passage unanswerable) must not cover
a term because the topic is near.

The similarity floor is ``Settings.term_similarity`` (CITYQA_TERM_SIMILARITY), swept by
``python -m eval.calibrate_terms`` over answerable and unanswerable questions of several
kinds of document. Word vectors are cached (LRU), so the cost is paid once per word.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from rag.synonyms import term_forms

_DIGITS = re.compile(r"\d")
CACHED_WORDS = 50_000


class TermSimilarity:
    def __init__(
        self,
        embed_model: BaseEmbedding,
        tokenize: Callable[[str], list[str]],
        cache_size: int = CACHED_WORDS,
    ) -> None:
        self.embed_model = embed_model
        self.tokenize = tokenize
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def vectors(self, words: Iterable[str]) -> dict[str, np.ndarray]:
        """Unit vectors of words, embedding only those not cached."""
        wanted = list(dict.fromkeys(words))
        new = [w for w in wanted if w not in self._cache]
        if new:
            raw = np.asarray(self.embed_model.get_text_embedding_batch(new), dtype=np.float32)
            norms = np.linalg.norm(raw, axis=1, keepdims=True)
            for word, vec in zip(new, raw / np.where(norms == 0, 1.0, norms), strict=True):
                self._cache[word] = vec
        out = {}
        for word in wanted:
            self._cache.move_to_end(word)
            out[word] = self._cache[word]
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out

    def closest(self, terms: Iterable[str], text: str) -> dict[str, tuple[float, str]]:
        """For each term, the passage word most similar to it and that similarity."""
        terms = [t for t in terms if t]
        words = [w for w in dict.fromkeys(self.tokenize(text)) if _is_word(w)]
        if not terms or not words:
            return {t: (0.0, "") for t in terms}
        forms = {t: term_forms(t) for t in terms}
        vecs = self.vectors([*words, *(f for fs in forms.values() for f in fs)])
        matrix = np.stack([vecs[w] for w in words])
        out = {}
        for term, term_wordings in forms.items():
            best = (0.0, "")
            for form in term_wordings:
                sims = matrix @ vecs[form]
                for i in np.argsort(-sims):
                    # A passage with only part of the term ("公开" for "公开招标") lacks the rest:
                    # that is a different, more general thing, not another wording.
                    if words[i] in form:
                        continue
                    if float(sims[i]) > best[0]:
                        best = (float(sims[i]), words[i])
                    break
            out[term] = best
        return out


def _is_word(token: str) -> bool:
    """A passage token worth comparing: two or more characters, not a number."""
    return len(token) >= 2 and not _DIGITS.search(token)
