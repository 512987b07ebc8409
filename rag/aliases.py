"""Short names that documents define for themselves: "（以下简称科技部门）".

Chinese official documents name a long body, instrument or place once in full and then use a
defined short name: "县级以上人民政府科学技术行政部门（以下简称科技部门）",
"《中华人民共和国预算法》（以下简称预算法）", "…的意见（简称“数据二十条”）". A planner may ask
with either name, and a passage may use either; each learned pair becomes a thesaurus group,
so BM25 searches both wordings and term coverage counts either as the term. No list is
involved: the pairs come from the documents in the library.

The defining parenthesis follows the full name directly. What stands before it is a clause
("推动横琴粤澳深度合作区", "向市人大常委会主任会议"), so the full name is the run of nominal
words that ends at the parenthesis and reaches back as far as the nouns do, and it must contain
the short name's characters in order (a Chinese abbreviation keeps characters of the full name:
市人民代表大会常务委员会 → 市人大常委会). A definition that does not pass that check
("…沿岸范围（以下简称一江一河沿岸地区）") is not learned. A 《title》 is delimited already, so
its nickname ("数据二十条") is taken as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

PosCut = Callable[[str], list[tuple[str, str]]]

DEFINITION = re.compile(
    r"（(?:以下|下文|下同，?)?(?:简称|称)(?:为)?[：:]?[“\"「《]?(?P<short>[^”\"」》（）()]{2,16})[”\"」》]?）"
)
# Characters that end the clause a full name stands in (a space ends an article number).
_CLAUSE_BREAK = re.compile(r"[，。；：、！？,;:!?\s“”\"「」]")
_TITLE_BEFORE = re.compile(r"《(?P<title>[^《》]{2,80})》$")
MAX_FULL_CHARS = 40
# jieba tags that continue a name leftwards: nouns of all kinds, place and organisation
# names, abbreviations, distinguishing words, numerals and measure words ("两级"), and the
# locatives of rank ("县级以上人民政府"). Not nominal verbs: "设置专项规划" sets up a plan, its
# name is "专项规划".
_NOMINAL = ("n", "j", "b", "m", "q", "f", "eng")
_KEYWORD = ("简称", "以下称", "下文称")


def mentions_definition(text: str) -> bool:
    """A cheap test before the regular expression and the segmenter run."""
    return any(k in text for k in _KEYWORD)


def learn_aliases(texts: Iterable[str], pos_cut: PosCut) -> list[tuple[str, str]]:
    """(full name, short name) pairs defined in the texts, in order of first definition."""
    found: dict[tuple[str, str], None] = {}
    for text in texts:
        if not mentions_definition(text):
            continue
        for match in DEFINITION.finditer(text):
            short = match.group("short").strip()
            full = full_name(text[: match.start()], short, pos_cut)
            if full and full != short and len(short) < len(full):
                found.setdefault((full, short), None)
    return list(found)


def full_name(before: str, short: str, pos_cut: PosCut) -> str:
    """The full name that ends ``before`` and abbreviates to ``short`` ("" if none does)."""
    before = before.rstrip()
    title = _TITLE_BEFORE.search(before)
    if title:
        # 《》 delimits the name, so a nickname ("数据二十条") needs no abbreviation check.
        return title.group("title")
    clause = _CLAUSE_BREAK.split(before)[-1][-MAX_FULL_CHARS:]
    if not clause:
        return ""
    tokens = [(w, f) for w, f in pos_cut(clause) if w]
    # The shortest word-aligned ending that holds the short name's characters in order …
    start = len(tokens)
    while start > 0 and not _abbreviates(short, "".join(w for w, _ in tokens[start:])):
        start -= 1
    if not _abbreviates(short, "".join(w for w, _ in tokens[start:])):
        return ""
    last = tokens[-1][1]
    if last.startswith(("u", "v", "p", "c", "r", "d")) and last != "vn":
        return ""  # "…需要评估的": a description ends in 的 or a verb, a name in a noun
    # … then back over the nouns before it ("横琴粤澳深度" before "合作区").
    while start > 0 and tokens[start - 1][1].startswith(_NOMINAL):
        start -= 1
    return "".join(w for w, _ in tokens[start:])


def _abbreviates(short: str, full: str) -> bool:
    """``short``'s characters occur in ``full`` in order (ignoring quotes and spaces)."""
    chars = iter(full)
    return all(ch in chars for ch in short if not ch.isspace() and ch not in '“”"《》')
