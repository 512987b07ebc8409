"""Query expansion with a domain thesaurus (``corpus/synonyms.yaml``).

Planners ask in their own words ("系统建好以后没人用、成了摆设"), the documents use policy
wording ("使用率较低", "展示作用大于业务作用"). A phrase of the question that belongs to a
synonym group becomes one *alternative term* ``"没人用|使用率较低|…"``: BM25 searches every
alternative, and term coverage counts the term as present when any alternative is. The
thesaurus only widens how a concept may be worded; it never adds a concept, so a question
about something the documents lack is still refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from rag.errors import ConfigError

ALTERNATIVE_SEPARATOR = "|"
MIN_PHRASE_CHARS = 2


class Thesaurus:
    def __init__(self, groups: Iterable[Iterable[str]] = ()) -> None:
        self._groups = [tuple(g) for g in groups]
        self._alternatives: dict[str, list[str]] = {}
        for group in self._groups:
            members = list(dict.fromkeys(m.strip() for m in group if m.strip()))
            for member in members:
                known = self._alternatives.setdefault(member, [])
                known += [m for m in members if m != member and m not in known]
        # Longest first, so "没人维护" wins over "维护".
        self._phrases = sorted(self._alternatives, key=len, reverse=True)

    def __len__(self) -> int:
        return len(self._alternatives)

    def extended(self, groups: Iterable[Iterable[str]]) -> Thesaurus:
        """This thesaurus plus more groups (e.g. the short names the documents define)."""
        return Thesaurus([*self._groups, *groups])

    @classmethod
    def load(cls, path: Path | None) -> Thesaurus:
        """The groups of a synonyms YAML file; ``None`` means no expansion."""
        if path is None:
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"无法读取同义词表 {path}：{exc}") from exc
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list):
            raise ConfigError(f"同义词表 {path} 缺少 groups 列表")
        for n, group in enumerate(groups, start=1):
            if not isinstance(group, list) or len(group) < 2:
                raise ConfigError(f"同义词表 {path} 第 {n} 组应是至少两个说法的列表：{group!r}")
            short = [m for m in group if not isinstance(m, str) or len(m.strip()) < 2]
            if short:
                raise ConfigError(
                    f"同义词表 {path} 第 {n} 组的说法必须是至少 {MIN_PHRASE_CHARS} 个字的文本："
                    f"{short!r}"
                )
        return cls(groups)

    @classmethod
    def load_all(cls, paths: Iterable[Path]) -> Thesaurus:
        """The groups of several thesaurus files together (the generic vocabulary and a
        corpus's own); no files means no expansion."""
        groups: list[tuple[str, ...]] = []
        for path in paths:
            groups += cls.load(path)._groups
        return cls(groups)

    def find(self, text: str) -> list[tuple[str, list[str]]]:
        """Non-overlapping thesaurus phrases of ``text`` (longest first), with alternatives.

        A two-character verb-object word is separable in Chinese (离合词): a quantity or an
        aspect particle goes between verb and object ("收点钱", "交了钱", "收过费"). Such a
        wording is found as its phrase, and reported as written, with the phrase among its
        alternatives."""
        taken = [False] * len(text)
        found: list[tuple[int, str, list[str]]] = []
        for phrase in self._phrases:
            for match in _occurrences(phrase, text):
                start, end = match.span()
                if not any(taken[start:end]):
                    taken[start:end] = [True] * (end - start)
                    written = match.group(0)
                    alternatives = self._alternatives[phrase]
                    if written != phrase:
                        alternatives = [phrase, *alternatives]
                    found.append((start, written, alternatives))
                    break
        return [(written, alternatives) for _, written, alternatives in sorted(found)]


# What may stand inside a separable two-character word: a small quantity or an aspect particle.
_SEPARABLE_INSERT = "(?:一点儿?|一些|点儿?|些|了点|了|过|个)"


def _occurrences(phrase: str, text: str) -> Iterator[re.Match[str]]:
    """The phrase's occurrences, first the contiguous ones; a two-character phrase also with
    a quantity or aspect particle inside."""
    # A substring test first: the library's learned short names make thousands of phrases,
    # and almost none occur in a given question.
    if phrase in text:
        yield from re.finditer(re.escape(phrase), text)
    if len(phrase) == 2 and phrase[0] in text and phrase[1] in text:
        pattern = re.escape(phrase[0]) + _SEPARABLE_INSERT + re.escape(phrase[1])
        yield from re.finditer(pattern, text)


def alternative_term(phrase: str, alternatives: list[str]) -> str:
    return ALTERNATIVE_SEPARATOR.join([phrase, *alternatives])


def term_forms(term: str) -> list[str]:
    """The wordings of a (possibly alternative) term."""
    return term.split(ALTERNATIVE_SEPARATOR)


def term_in(term: str, text: str) -> bool:
    return any(form in text for form in term_forms(term))
