"""Turn the raw WeChat export of the seed paper into a clean Markdown corpus file.

The seed is a WeChat-article export of 《城市数字化转型总体架构和实践路径研究》.
Besides the paper it contains page furniture (counters, slogans, ads, the
journal's self-description, the account footer).  :func:`clean_wechat_export`
keeps the paper verbatim and drops everything else:

* boilerplate is removed by line patterns (:data:`BOILERPLATE_PATTERNS`);
* everything from the first end marker (:data:`END_MARKERS`) on is cut;
* numbered section titles become Markdown headings (depth + 1 ``#``);
* the paper's reference markers ``[n]`` become footnote references ``[^n]``
  so they cannot collide with the ``[n]`` citations of generated answers;
* bibliographic data goes into a YAML front matter block.

Apart from the reference markers the wording is never changed: only whitespace
is normalised (odd spaces become ASCII spaces, runs of spaces collapse, lines
are stripped, every non-empty line becomes one paragraph).

Usage::

    python -m ingest.seed [SRC] [DST]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_NAME = "000_04338ddd5d35a0cd.txt"
DEFAULT_SRC = REPO_ROOT.parent / "shared" / "seed" / SEED_NAME
DEFAULT_DST = REPO_ROOT / "corpus" / "城市数字化转型总体架构和实践路径研究.md"

SOURCE_HINT = "原始导出见 shared/seed"
NOTE = "原文参考文献标注以 [^n] 表示；导出中缺少参考文献列表。"
BIO_HEADING = "作者简介"
ABSTRACT_HEADING = "摘要"

# Non-breaking, ideographic, en/em and other space characters.
_ODD_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_SPACE_RUN = re.compile(r" {2,}")

# Lines that are page furniture, not part of the paper.
BOILERPLATE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"^大数跨境$",  # aggregator watermark
        r"^\d{1,7}$",  # bare like / view counters ("0")
        r"^\d{4}-\d{2}-\d{2}$",  # publication date (kept in front matter)
        r"^\S{1,6}丨",  # WeChat column title, e.g. "专题丨<title> <account>"
        r"^导读[:：]",  # teaser line
        r"^※.*※$",  # journal slogans
        r"^论文引用格式[:：]?$",  # citation label (the citation goes into the front matter)
        r"^(内容|粉丝|总阅读)\s*\d+$",  # account footer statistics
    )
)

# The paper ends before the first line matching one of these.
END_MARKERS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"^本文刊于",
        r"^主办[:：]",
        r"^期刊荣誉",
        r"投稿指南$",
        r"^推荐阅读",
        r"^“在看”",
        r"^【声明】",
    )
)

_CITATION = re.compile(
    r"^(?P<authors>.+?)\. (?P<title>.+?)\[J\]\. (?P<journal>.+?), "
    r"(?P<year>\d{4}), (?P<volume>\d+)\((?P<issue>\d+)\): (?P<pages>\d+-\d+)\.$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AUTHOR_LINE = re.compile(r"^(?:[^\s\d,]+\d+ ?)+$")
_AUTHOR_NAME = re.compile(r"([^\s\d,]+)\d+")
_ABSTRACT_START = re.compile(r"^摘要[:：]")
_HEADING = re.compile(r"^(?P<number>\d+(?:\.\d+){0,4}) (?P<text>[^。]{1,60})$")
_LATIN_LINE = re.compile(r"^[A-Za-z][^\u3400-\u9fff]*$")
_REFERENCE = re.compile(r"\[(\d{1,3})\]")
_YAML_UNSAFE = re.compile(r"^[\s\-?:,\[\]{}#&*!|>'\"%@`]|: | #|:$|\s$")


@dataclass(frozen=True)
class PaperMeta:
    """Bibliographic data of the paper, taken from the export itself."""

    title: str
    authors: tuple[str, ...]
    journal: str
    year: str
    volume: str
    issue: str
    pages: str
    citation: str
    account: str
    date: str


@dataclass(frozen=True)
class Sections:
    """The paper's lines, grouped in the order they are rendered."""

    header: list[str]
    bio: list[str]
    abstract: list[str]
    body: list[str]
    english: list[str]


def normalize_line(line: str) -> str:
    """Return ``line`` with odd spaces replaced, space runs collapsed, ends stripped."""
    line = _ZERO_WIDTH.sub("", line)
    line = _ODD_SPACES.sub(" ", line)
    return _SPACE_RUN.sub(" ", line).strip()


def is_boilerplate(line: str) -> bool:
    """Tell whether a normalised line is page furniture."""
    return any(pattern.search(line) for pattern in BOILERPLATE_PATTERNS)


def cut_at_end_marker(lines: list[str]) -> list[str]:
    """Return the lines before the first end marker (all lines if none)."""
    for index, line in enumerate(lines):
        if any(pattern.search(line) for pattern in END_MARKERS):
            return lines[:index]
    return lines


def _first_match(
    lines: list[str], pattern: re.Pattern[str], start: int = 0
) -> tuple[int, re.Match[str]]:
    """Return index and match of the first line at or after ``start`` matching ``pattern``."""
    for index in range(start, len(lines)):
        match = pattern.search(lines[index])
        if match:
            return index, match
    raise ValueError(f"no line matches {pattern.pattern!r}")


def _first_index(lines: list[str], pattern: re.Pattern[str], start: int = 0) -> int:
    """Return the index of the first line at or after ``start`` matching ``pattern``."""
    return _first_match(lines, pattern, start)[0]


def _account_name(lines: list[str], date_index: int) -> str:
    """The WeChat account: last word of the "<title> <account>" line above the date."""
    above = lines[date_index - 1] if date_index else ""
    return above.rsplit(" ", 1)[1] if " " in above else ""


def extract_meta(lines: list[str]) -> PaperMeta:
    """Read the bibliographic data from the normalised (unfiltered) lines."""
    _, citation = _first_match(lines, _CITATION)
    date_index = _first_index(lines, _DATE)
    return PaperMeta(
        title=citation["title"],
        authors=_full_author_list(lines, citation["title"], citation["authors"]),
        journal=citation["journal"],
        year=citation["year"],
        volume=citation["volume"],
        issue=citation["issue"],
        pages=citation["pages"],
        citation=citation.string,
        account=_account_name(lines, date_index) or citation["journal"],
        date=lines[date_index],
    )


def _full_author_list(lines: list[str], title: str, cited: str) -> tuple[str, ...]:
    """Take the authors from the numbered author line after the title.

    The citation abbreviates the list with "等", so it is only a fallback.
    """
    if title in lines:
        start = lines.index(title) + 1
        for line in lines[start : start + 3]:
            if _AUTHOR_LINE.match(line):
                return tuple(_AUTHOR_NAME.findall(line))
    return tuple(name for name in cited.split(", ") if name != "等")


def split_sections(lines: list[str], title: str) -> Sections:
    """Group the filtered paper lines into header, bio, abstract, body, English part."""
    if title not in lines:
        raise ValueError(f"title line {title!r} not found")
    title_index = lines.index(title)
    abstract_start = _first_index(lines, _ABSTRACT_START, title_index)
    body_start = _first_index(lines, _HEADING, abstract_start)
    english_start = _first_index(lines, _LATIN_LINE, body_start)
    bio = lines[:title_index]
    if bio and bio[0] == BIO_HEADING:
        bio = bio[1:]
    return Sections(
        header=lines[title_index + 1 : abstract_start],
        bio=bio,
        abstract=lines[abstract_start:body_start],
        body=lines[body_start:english_start],
        english=lines[english_start:],
    )


def to_heading(line: str) -> str:
    """Turn a numbered section title into a Markdown heading; leave other lines."""
    match = _HEADING.match(line)
    if match is None:
        return line
    depth = match["number"].count(".") + 1
    return f"{'#' * (depth + 1)} {line}"


def footnote_references(text: str) -> str:
    """Rewrite reference markers ``[n]`` as Markdown footnote references ``[^n]``."""
    return _REFERENCE.sub(r"[^\1]", text)


def _yaml_scalar(value: str) -> str:
    """Return ``value`` as a YAML scalar, double-quoted only where needed."""
    if _YAML_UNSAFE.search(value):
        return json.dumps(value, ensure_ascii=False)
    return value


def render_front_matter(meta: PaperMeta) -> str:
    """Render the YAML front matter block (without a trailing newline)."""
    fields = {
        "title": meta.title,
        "authors": f"[{', '.join(meta.authors)}]",
        "journal": meta.journal,
        "year": meta.year,
        "volume": meta.volume,
        "issue": meta.issue,
        "pages": meta.pages,
        "citation": _yaml_scalar(meta.citation),
        "source": _yaml_scalar(f"微信公众号“{meta.account}”{meta.date} 推文（{SOURCE_HINT}）"),
        "note": _yaml_scalar(NOTE),
    }
    body = "\n".join(f"{key}: {value}" for key, value in fields.items())
    return f"---\n{body}\n---"


def render_paper(meta: PaperMeta, sections: Sections) -> str:
    """Render the paper as Markdown paragraphs and headings (no front matter)."""
    blocks = [f"# {meta.title}", *sections.header]
    if sections.bio:
        blocks += [f"## {BIO_HEADING}", *sections.bio]
    blocks += [f"## {ABSTRACT_HEADING}", *sections.abstract]
    blocks += [to_heading(line) for line in sections.body]
    if sections.english:
        blocks += [f"## {sections.english[0]}", *sections.english[1:]]
    return footnote_references("\n\n".join(blocks))


def clean_wechat_export(raw: str) -> str:
    """Convert a raw WeChat export of the seed paper into clean Markdown.

    Pure function: the result depends on ``raw`` only.  It ends with one
    newline, uses LF line ends and separates paragraphs by one blank line.
    """
    lines = [normalize_line(line) for line in raw.splitlines()]
    lines = [line for line in cut_at_end_marker(lines) if line]
    meta = extract_meta(lines)
    paper_lines = [line for line in lines if line != meta.citation and not is_boilerplate(line)]
    sections = split_sections(paper_lines, meta.title)
    return f"{render_front_matter(meta)}\n\n{render_paper(meta, sections)}\n"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m ingest.seed",
        description=(
            "Clean the raw WeChat export of the seed paper into the Markdown "
            "corpus file (front matter, headings, [n] -> [^n], boilerplate removed)."
        ),
    )
    parser.add_argument(
        "src",
        nargs="?",
        type=Path,
        default=DEFAULT_SRC,
        help=f"raw export to read (default: {DEFAULT_SRC})",
    )
    parser.add_argument(
        "dst",
        nargs="?",
        type=Path,
        default=DEFAULT_DST,
        help=f"Markdown file to write (default: {DEFAULT_DST})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: read SRC, write the cleaned Markdown to DST."""
    args = _parse_args(argv)
    if not args.src.is_file():
        print(f"error: seed file not found: {args.src}", file=sys.stderr)
        return 2
    markdown = clean_wechat_export(args.src.read_text(encoding="utf-8"))
    args.dst.parent.mkdir(parents=True, exist_ok=True)
    args.dst.write_text(markdown, encoding="utf-8", newline="\n")
    print(f"wrote {args.dst} ({len(markdown)} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
