"""Question analysis: which terms carry the question, and does the corpus know them?

Two signals feed the refusal decision:
* ``missing_specific``: names, numbers, English tokens and 《titles》 in the question that occur
  nowhere in the corpus ("深圳", "2025年", "华为"): the corpus cannot be about them;
* ``coverage``: the IDF-weighted share of the question's content terms that the retrieved
  passages contain. Ubiquitous words ("城市", "数字化") weigh almost nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rag.answer_type import MEASURE_UNIT
from rag.lexical import ChineseTokenizer
from rag.synonyms import Thesaurus, alternative_term, term_forms, term_in
from rag.termindex import TermIndex

# Parts of speech (jieba/ICTCLAS) of proper names; "eng" is a Latin-script token.
_SPECIFIC_POS = ("ns", "nr", "nrt", "nrfg", "nt", "nz", "eng")
# Nouns and verbs; paraphrase verbs the corpus never uses ("涵盖") are damped in idf_weights.
_CONTENT_POS = ("n", "v", "eng", "i", "l", "j", "b", "x")
# Words of asking and of the document speaking about itself (它提到/点名/列出, 开头说): they
# say where or how the text says something, not what it says.
_QUESTION_WORD_TEXT = """
    什么 哪些 哪个 哪里 哪 几 几个 多少 如何 怎么 怎样 为什么 为何 是否 吗 呢 请问 介绍 说明
    简述 概括 主要 具体 内容 情况 分别 有 是 的 了 呢 吧 哪几 那 那么 它 其 这 该 此 关于 请
    一下 下 能 可以 应该 需要 包括 包含 属于 有关 相关 提到 谈到 讲 说 指 称为 叫
    论文 本文 文章 该文 报告 资料 文件 文档 作者 研究 原文 文中 提出 认为 方面 做 做了 哪方面
    给出 答案 回答 描述 阐述 论述 归纳 看待 看法 观点 有没有 有无 参考 借鉴 例子 举例 原因
    离不开 必须 必要 要不要 应当 为啥 到底 究竟 讲讲 说说 谈谈 聊聊 看看 介绍介绍
    东西 事情 事儿 时候 组成 构成 部分 说法 大家 起来
    点名 提及 写到 写明 列出 开头 结尾"""
_QUESTION_WORDS = frozenset(_QUESTION_WORD_TEXT.split())
# 多 + an adjective of measure is the interrogative (多大, 多长): in "留多大面积" jieba cuts
# 多 / 大面积, and only the rest ("面积") is the measured noun.
_MEASURE_ADJECTIVE = "大长高远久宽深重"
_INTERROGATIVE = re.compile(rf"^(?:哪|几|多少|什么|怎|多[{_MEASURE_ADJECTIVE}]$)")
# jieba merges a verb and the interrogative after it into one unknown word ("建多大", tagged as a
# name): such a token is the predicate of the question, not a term to find in the passages.
_EMBEDDED_INTERROGATIVE = re.compile(r".(?:多少|多大|多久|多长|多高|多远|什么|啥)")
# -log frequency in jieba's dictionary: everyday words sit near 8, specialised terms above 12.
COMMON_WORD_INFO = 8.0
RARE_WORD_INFO = 12.0
# Questions that ask for a quantity or a rank need the measured thing in the passages (dates
# and other answer types are checked on the answer itself, see rag/answer_type.py).
# "几年", "几天" ask a number in that unit as "多少年" does; "近几年", "好几天" state one.
_ASKED_UNIT = re.compile(rf"(?:多少|(?<![好这那十近前后])几)({MEASURE_UNIT})")
# The interrogatives proper: "规模/比例/…" only name a quantity and may be the measured noun
# itself ("交易规模要涨到多少"), so an interrogative in the clause is where the question asks.
_QUANTITY_INTERROGATIVE = re.compile(r"多少|多大|多长|多高|第几")
_QUANTITY_QUESTION = re.compile(rf"{_QUANTITY_INTERROGATIVE.pattern}|规模|比例|金额|排名")
# A verb with the resultative complement 到/至 right before the interrogative ("涨到多少",
# "提高至多少") is the predicate of the question; the measured thing is its subject.
_RESULTATIVE_VERB = re.compile(r"[\u4e00-\u9fff]+[到至]$")
# Nouns that name a kind of quantity, not what is measured: in "交易规模要涨到多少" and
# "经费占生产总值的比例是多少" the measured thing is their modifier (交易, 生产总值), and the
# passage may state the quantity without the noun ("交易规模倍增" does, "占…百分之四" not).
_QUANTITY_NOUN = frozenset({"规模", "比例", "比重", "占比", "金额", "数量", "总量", "总额", "排名"})
_CLAUSE = re.compile(r"[^？?。！!；;，,]+")
# 为 before 了/何/什么 is the conjunction "in order to" or "why", not the preposition.
_ACTOR = re.compile(
    r"^([\u4e00-\u9fffA-Za-z0-9]{2,8}?)(?:公司|集团)?(?:为(?!了|何|啥|什么)|在|对|向|给|帮助|参与)"
)
_MEASURE_WORDS = frozenset("篇份个本部")
_NOT_NAME_POS = ("r", "t", "d", "m", "u", "p", "c", "f")
_SELF_REFERENCES = ("我", "咱", "本", "该", "这", "那", "各", "城市", "政府", "论文", "文章")
_QUOTED = re.compile(r"[“\"]([^”\"“]{1,12})[”\"]")
_DEFINED = re.compile(
    r"((?:[“\"][^”\"“]{1,12}[”\"][和与及、])*[“\"][^”\"“]{1,12}[”\"])[^，,。？?“\"]{0,4}"
    r"(?:指|代表|表示|意思|含义)"
)
# "多少个数据集": the few characters after the interrogative and its measure word name what
# is counted. ("几个阶段" asks for a list, which answers it without a number.)
_COUNTED = re.compile(
    r"多少(?:个|项|家|座|条|次|倍|种|类|名|位|人|万|亿|元|大)?([\u4e00-\u9fff]{2,3})"
)
# The counted noun ends where a particle, a modal verb or a colloquial ending starts
# ("多少个空间来着", "多少个城市要…", "多少项呀").
# Adverbs and modal verbs open a verb phrase, never a noun.
_VERB_PHRASE_START = frozenset("就才得要会能可需应都也还便须")
# Postpositions after a number bound it ("三十日以内", "百分之二十以下", "五十人左右").
_POSTPOSITION = re.compile(r"[以之][内上下外前后]|左右|上下")
# The same unit as people say it and as documents write it ("多少天" against "六十日").
_SAME_UNITS = (("天", "日"), ("周", "星期"))
_UNIT_WORDINGS = {unit: group for group in _SAME_UNITS for unit in group}
_COUNTED_STOP = re.compile(r"来着|[的了是在呢吗啊呀吧嘛么要能会可？?，,。]")
_TITLE = re.compile(r"《([^》]{2,60})》")
_DIGITS = re.compile(r"\d")
_GENERIC_PLACE = frozenset({"城市", "国家", "全国", "我国", "中国", "地方", "各地", "全市"})
# Interrogative determiners: the noun after them is what the question asks for ("怎样的股权结构").
_ASKING_TEXT = "怎样 怎么样 什么样 什么 哪种 哪类 何种 哪个 哪些 哪一 哪几 哪几种 哪几类"
_ASKING_DETERMINERS = frozenset(_ASKING_TEXT.split())
_DEICTIC_START = frozenset("这那该此每各某段阵些")
_FILLER_TEXT = "的 一 个 种 类 些 项"
_DETERMINER_FILLERS = frozenset(_FILLER_TEXT.split())
_COUNT_FILLERS = ("m", "mq", "b", "q")  # "六条", "主导" between "哪" and the noun


@dataclass(frozen=True)
class QueryTerms:
    content: tuple[str, ...]  # words that carry the question's meaning
    specific: tuple[str, ...]  # names, numbers, English tokens and 《titles》
    subject: str = ""  # a short leading actor ("字节跳动" in "字节跳动为…提供了什么")
    asked: str = ""  # the noun an interrogative asks for ("股权结构" in "怎样的股权结构")
    listed: str = ""  # the kind of item a list question asks for ("阶段" in "哪几个阶段")
    # The plain words of each thesaurus term, used when no wording of it occurs in the corpus.
    pieces: dict[str, tuple[str, ...]] = field(default_factory=dict)


class QueryAnalyzer:
    def __init__(
        self,
        tokenizer: ChineseTokenizer,
        thesaurus: Thesaurus | None = None,
        aliases: Callable[[], Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        """``aliases``: the short names the library's documents define (``rag.aliases``),
        asked for on every question; the same sequence object means nothing changed."""
        self.tokenizer = tokenizer
        self.thesaurus = thesaurus or Thesaurus()
        self._aliases = aliases
        self._seen: Sequence[tuple[str, str]] | None = None
        self._merged = self.thesaurus

    def current_thesaurus(self) -> Thesaurus:
        """The configured thesaurus plus the library's defined short names."""
        if self._aliases is None:
            return self.thesaurus
        pairs = self._aliases()
        if pairs is not self._seen:
            self._merged = self.thesaurus.extended(pairs) if pairs else self.thesaurus
            self._seen = pairs
        return self._merged

    def terms(self, question: str) -> QueryTerms:
        specific: list[str] = [m.group(1) for m in _TITLE.finditer(question)]
        stripped = _TITLE.sub(" ", question)
        # A thesaurus phrase is one term with all its wordings ("没人用|使用率较低|…"); it is
        # taken out before segmentation so that its pieces ("没人", "用") do not count twice.
        content: list[str] = []
        pieces: dict[str, tuple[str, ...]] = {}
        for phrase, alternatives in self.current_thesaurus().find(stripped):
            term = alternative_term(phrase, alternatives)
            content.append(term)
            pieces[term] = tuple(self._content_words(self.tokenizer.pos_cut(phrase), []))
            stripped = stripped.replace(phrase, " ")
        pairs = self.tokenizer.pos_cut(stripped)
        content += self._content_words(pairs, specific)
        # A quoted item ("“6”指什么") points at the sentence that defines it, however short.
        # A quoted word that is already a content term or a wording of one ("“中枢”平台",
        # "“智能中枢”") is not counted twice: the corpus rarely quotes the way the question does.
        forms = {form for term in content for form in term_forms(term)}
        content += [q for q in quoted_items(question) if q[1:-1] not in forms]
        return QueryTerms(
            tuple(dict.fromkeys(content)),
            tuple(dict.fromkeys(specific)),
            self._subject(question),
            _asked_noun(pairs),
            _asked_noun(pairs, counted=True),
            pieces,
        )

    def _content_words(self, pairs: list[tuple[str, str]], specific: list[str]) -> list[str]:
        """Content words of a segmented text; names and numbers are also added to ``specific``."""
        content = []
        previous = ""
        for word, flag in pairs:
            word = word.strip()
            split_off = previous == "多" and len(word) >= 3 and word[0] in _MEASURE_ADJECTIVE
            previous = word or previous
            if split_off:
                word, flag = word[1:], "n"  # 多 / 大面积 -> 多大 / 面积
            if not word or word in _QUESTION_WORDS or _INTERROGATIVE.match(word):
                continue
            if _EMBEDDED_INTERROGATIVE.search(word):
                continue
            if word[0] in _MEASURE_WORDS and word[1:] in _QUESTION_WORDS:
                continue  # "这篇文章" segmented as 这 / 篇文章
            if not re.search(r"[\w]", word):
                continue
            if flag.startswith("v") and not self.tokenizer.known(word):
                continue  # a segmentation fragment of chatty wording ("来拆", "给弄")
            if flag.startswith("nr") and word[0] in _DEICTIC_START:
                continue  # a time phrase jieba takes for a name ("那阵子", "段时间")
            if flag in _SPECIFIC_POS and self._phrase_tagged_as_name(word):
                flag = "v"  # "刚成立" (刚/d + 成立/v) is a phrase, not a name
            is_number = bool(_DIGITS.search(word))
            if (flag in _SPECIFIC_POS and word not in _GENERIC_PLACE) or is_number:
                specific.append(word)
            # An ordinal stage ("第三阶段") is a time word to jieba but names what is asked.
            ordinal = flag == "t" and word.startswith("第")
            if len(word) >= 2 and (flag.startswith(_CONTENT_POS) or is_number or ordinal):
                content.append(word)
        return content

    def _phrase_tagged_as_name(self, word: str) -> bool:
        """jieba tags some phrases as names, even in its dictionary ("刚成立": 刚/d + 成立/v). A
        name does not split into a function word (adverb, pronoun, time word…) and a verb or
        adjective; "任正非" or "曾国藩" leave no word after the surname."""
        if len(word) < 3:
            return False
        head = self.tokenizer.dictionary_pos_cut(word[0])
        rest = self.tokenizer.dictionary_pos_cut(word[1:])
        return (
            bool(head)
            and head[0][1].startswith(_NOT_NAME_POS)
            and len(rest) == 1
            and rest[0][1].startswith(("v", "a"))
        )

    def _subject(self, question: str) -> str:
        """The actor before a verb-introducing preposition ("X为/在/对/向…"), if short."""
        match = _ACTOR.match(question.strip())
        if not match or match.group(1).startswith(_SELF_REFERENCES):
            return ""
        # A name is nouns (or words jieba does not know); pronouns, time words, adverbs and
        # numerals mean a chatty clause ("最早那几年大家还在…"), not an actor.
        pairs = self.tokenizer.pos_cut(match.group(1))
        if any(flag.startswith(_NOT_NAME_POS) for _, flag in pairs):
            return ""
        return match.group(1)


def _asked_noun(pairs: list[tuple[str, str]], *, counted: bool = False) -> str:
    """The first noun after an interrogative determiner ("怎样的股权结构"), skipping "的/个/种".

    With ``counted``, also after a counting interrogative ("哪几个阶段", "几大路径",
    "哪六条主导路径"), skipping numerals and attributives: the kind of item a list asks for."""
    asking = False
    for word, flag in pairs:
        counting = counted and word.startswith(("哪几", "几", "哪")) and len(word) <= 3
        if word in _ASKING_DETERMINERS or counting:
            asking = True
        elif asking and (word in _DETERMINER_FILLERS or (counted and flag in _COUNT_FILLERS)):
            continue
        elif asking:
            return word if flag.startswith("n") and len(word) >= 2 else ""
    return ""


def quoted_items(question: str) -> list[str]:
    """Short quoted items of a question, with their quotes ("“6”")."""
    return [f"“{m.group(1)}”" for m in _QUOTED.finditer(question)]


def defined_items(question: str) -> list[str]:
    """Quoted items whose meaning the question asks ("“6”指什么", "“2”和“3”分别代表什么"): the
    sentence that explains one says it too."""
    return [f"“{q}”" for m in _DEFINED.finditer(question) for q in _QUOTED.findall(m.group(1))]


# A target year ("到2035年", "截至2023年", "2026年底"): the question asks what holds by then, so
# a sentence about another year ("2020年…达到7.8%", "到2028年…") does not answer it.
_TARGET_YEAR = re.compile(r"(?:到|至|截至|截止)\s*(\d{4})\s*年|(\d{4})\s*年(?:底|末|前|中期)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def target_years(question: str) -> list[str]:
    """The years a question sets as the time of what it asks ("到2035年要达到多少")."""
    return list(dict.fromkeys(a or b for a, b in _TARGET_YEAR.findall(question)))


def unanswered_years(question: str, sentences: Sequence[str]) -> list[str]:
    """The question's target years when no answer sentence names any year of the question:
    "到2035年要达到多少" is not answered by what holds in 2020 or by 2028, but when it names
    other years too ("2020年是多少、到2025年要到多少") a sentence about one answers a part."""
    years = target_years(question)
    named = set(years) | set(_YEAR.findall(question))
    return years if years and not any(y in s for y in named for s in sentences) else []


def counted_thing(question: str) -> str:
    """What a quantity question counts, as the question words it ("数据集"), or ""."""
    match = _COUNTED.search(question)
    if not match:
        return ""
    start = match.start(1)
    if start == match.start() + 2 and _ASKED_UNIT.match(question, match.start()):
        return ""  # "多少天重新申请": a unit of measure follows, which measured_wordings reads
    if question[start] in _VERB_PHRASE_START:
        return ""  # "多少人就得配一个…": a verb phrase follows, the classifier was the thing
    thing = _COUNTED_STOP.split(question[start : start + 6])[0][:3]
    if _POSTPOSITION.match(thing):
        return ""  # "多少以内", "多少以上": a bound on the number, not what is counted
    return thing if len(thing) >= 2 else ""


def measured_wordings(question: str, terms: QueryTerms) -> list[str]:
    """Wordings of what a quantity question counts ("多少个数据集" -> 数据集), else of its
    quantity focus; [] for other questions."""
    counted = counted_thing(question)
    if counted:
        return [counted]
    # "多少人", "多少日", "多少平方米": the unit right after the interrogative is what is
    # counted, and a number stated in that unit ("五万人口", "三十日") answers it.
    unit = _ASKED_UNIT.search(question)
    if unit:
        return list(_UNIT_WORDINGS.get(unit.group(1), (unit.group(1),)))
    focus = quantity_focus(question, terms)
    return term_forms(focus) if focus else []


def quantity_focus(question: str, terms: QueryTerms) -> str | None:
    """The measured thing of a quantity question: Y in "X的Y是多少？" (interrogative at the
    end), or in "有多少Y…" (the first content term after the interrogative)."""
    clause = next(
        (c.group(0) for c in _CLAUSE.finditer(question) if _QUANTITY_QUESTION.search(c.group(0))),
        None,
    )
    if clause is None:
        return None
    question = clause  # "有多少个？统计截至什么时候？": only the clause that asks the number
    match = _QUANTITY_INTERROGATIVE.search(question) or _QUANTITY_QUESTION.search(question)
    assert match is not None
    if _ASKED_UNIT.match(question, match.start()):
        return None  # "多少天内给我回话": the unit is what is measured, not the verb after it
    after = [(question.find(term_forms(t)[0], match.end()), t) for t in terms.content]
    after = [(pos, t) for pos, t in after if pos >= 0]
    if after and question[match.end() :].strip(" ？?。"):
        return min(after)[1]
    before = [(question.rfind(term_forms(t)[0], 0, match.start()), t) for t in terms.content]
    before = [(pos, t) for pos, t in before if pos >= 0 and not _predicate(question, pos, t, match)]
    measured = [(pos, t) for pos, t in before if t not in _QUANTITY_NOUN]
    return max(measured or before)[1] if before else None


def _predicate(question: str, pos: int, term: str, asked: re.Match[str]) -> bool:
    """Whether ``term`` at ``pos`` is a "V到/V至" verb directly before the interrogative."""
    end = pos + len(term_forms(term)[0])
    between = question[end : asked.start()].strip()
    # The complement is part of the term ("涨到") or was left out of it as a function word.
    return bool(_RESULTATIVE_VERB.search(term + between)) and len(between) <= 1


def missing_specific(
    terms: QueryTerms,
    corpus: TermIndex,
    informativeness: Callable[[str], float] | None = None,
) -> list[str]:
    """Specific terms absent from the corpus (an abbreviation of a present name is present).

    The noun a question asks for counts as specific when it is a rare notion in general
    Chinese ("股权结构", "交易额"): a corpus that never uses it cannot answer. Everyday nouns
    ("路子", "机构") are usually paraphrases and are left to the coverage check."""
    missing = [t for t in terms.specific if not corpus.occurs(t)]
    if terms.subject and not any(corpus.occurs(w) for w in _bigrams(terms.subject)):
        missing.append(terms.subject)  # "字节跳动为…": a name jieba does not know
    asked = terms.asked
    if (
        asked
        and informativeness is not None
        and informativeness(asked) >= RARE_WORD_INFO
        and asked not in missing
        and not corpus.occurs(asked)
        and not corpus.contains(asked[:2])  # "人才队伍" when the corpus speaks of "人才"
    ):
        missing.append(asked)
    return missing


def _bigrams(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(len(text) - 1)] or [text]


def idf_weights(
    terms: Iterable[str],
    corpus: TermIndex,
    informativeness: Callable[[str], float] | None = None,
    pieces: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, float]:
    """Corpus IDF of each term. A term the corpus never uses gets the maximum IDF only when it
    is also rare in general Chinese ("回报率", "财政预算"); everyday words ("特点", "经历") are
    usually paraphrases of what the corpus says and weigh less."""
    n = max(corpus.n, 1)
    top = math.log((n + 1) / 0.5)
    weights: dict[str, float] = {}
    for term in terms:
        df = corpus.document_frequency(term)
        if df == 0 and pieces and term in pieces:
            # No wording of a thesaurus term occurs ("本地的产业"): weigh its plain words.
            weights |= idf_weights(pieces[term], corpus, informativeness)
            continue
        weight = math.log((n + 1) / (df + 0.5))
        if df == 0 and informativeness is not None:
            rarity = (informativeness(term_forms(term)[0]) - COMMON_WORD_INFO) / (
                RARE_WORD_INFO - COMMON_WORD_INFO
            )
            weight = top * min(1.0, max(0.25, rarity))
        weights[term] = weight
    return weights


def coverage(weights: dict[str, float], passages_text: str) -> float:
    """IDF-weighted share of the question's content terms present in the passages (a
    thesaurus term is present when any of its wordings is)."""
    total = sum(weights.values())
    if total <= 0:
        return 1.0
    return sum(w for t, w in weights.items() if term_in(t, passages_text)) / total
