"""Where a passage stands in an official document, from its section path.

A regulation is cited by article (``第三十九条``); a 文件 by its ordinal items
(``二、（四）``); anything else by its section heading. Shared by ingest (stored on each chunk)
and rag (citations), so it sits below both.
"""

from __future__ import annotations

import re

_CN = "一二三四五六七八九十百零〇"
ARTICLE = re.compile(rf"^第[{_CN}\d]+条")
ITEM = re.compile(rf"^(?:[{_CN}]+、|[（(][{_CN}]+[）)]|\d{{1,2}}[.．](?!\d))")


def article_of(section: str) -> str:
    """The article a section path ends in (``第四章 公共数据 > 第三十九条`` -> 第三十九条)."""
    for part in reversed(_parts(section)):
        found = ARTICLE.match(part)
        if found:
            return found.group(0)
    return ""


def item_of(section: str) -> str:
    """The ordinal items of a section path, outermost first (``二、（四）``)."""
    return "".join(m.group(0) for part in _parts(section) if (m := ITEM.match(part)))


def place_of(section: str) -> str:
    """The shortest exact name of the place: the article, else the items, else the heading."""
    return article_of(section) or item_of(section) or (_parts(section) or [""])[-1]


def _parts(section: str) -> list[str]:
    return [p.strip() for p in section.split(">") if p.strip()]
