"""Optional LLM judge (``cityqa eval --judge``): RAGAS-style faithfulness.

The answer is split into atomic claims by the LLM, then each claim is judged against the
passages the answer cites; the score is the share of supported claims. It needs an
OpenAI-compatible endpoint (``CITYQA_LLM_BASE_URL`` / ``CITYQA_LLM_MODEL`` /
``CITYQA_LLM_API_KEY``); the deterministic metrics never call it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.llm import build_llm
from rag.settings import Settings

CLAIMS_PROMPT = """请把下面的【回答】拆分成若干条独立、完整、只含一个事实的陈述句。
去掉 [1] 这类引用标注，不要补充回答中没有的内容。
只输出一个 JSON 字符串数组，例如 ["陈述一", "陈述二"]。

【回答】
{answer}"""

VERDICT_PROMPT = """请逐条判断下列【陈述】能否仅凭【资料】直接推断出来（不得使用资料以外的知识）。
能推断出来记 1，否则记 0。只输出一个与陈述一一对应的 JSON 数组，
例如 [{{"claim": "陈述一", "verdict": 1}}]。

【资料】
{context}

【陈述】
{claims}"""

_JSON_ARRAY = re.compile(r"\[.*\]", re.DOTALL)
_MARKER = re.compile(r"\[\^?\d+\]")


@dataclass
class Verdict:
    score: float | None  # supported claims / claims; None when the judge failed
    claims: list[str]
    verdicts: list[int]
    error: str = ""


def build_judge_llm(settings: Settings) -> Any:
    """An ``OpenAILike`` client from the CITYQA_LLM_* settings, or a clear ``ConfigError``."""
    return build_llm(settings, temperature=0.0, purpose="--judge（确定性指标不需要它）")


def parse_json_array(text: str) -> list[Any]:
    """The first JSON array in an LLM reply (code fences and chatter around it are ignored)."""
    match = _JSON_ARRAY.search(text or "")
    if not match:
        raise ValueError(f"回复中没有 JSON 数组：{text[:80]!r}")
    value = json.loads(match.group(0))
    if not isinstance(value, list):
        raise ValueError("回复不是 JSON 数组")
    return value


class FaithfulnessJudge:
    def __init__(self, llm: Any) -> None:
        self.llm = llm

    def _ask(self, prompt: str) -> str:
        return str(self.llm.complete(prompt).text)

    def judge(self, answer: str, passages: Sequence[str]) -> Verdict:
        try:
            claims = [
                str(c).strip()
                for c in parse_json_array(self._ask(CLAIMS_PROMPT.format(answer=answer)))
                if str(c).strip()
            ]
            claims = [_MARKER.sub("", c) for c in claims]
            if not claims:
                return Verdict(None, [], [], "未拆分出任何陈述")
            context = "\n\n".join(f"[{n}] {p}" for n, p in enumerate(passages, start=1))
            listing = "\n".join(f"{i}. {c}" for i, c in enumerate(claims, start=1))
            reply = self._ask(VERDICT_PROMPT.format(context=context, claims=listing))
            verdicts = [_verdict(v) for v in parse_json_array(reply)]
        except Exception as exc:  # network errors, malformed JSON: the item gets no score
            return Verdict(None, [], [], f"{type(exc).__name__}: {exc}")
        if len(verdicts) != len(claims):
            return Verdict(None, claims, verdicts, "判定数与陈述数不一致")
        return Verdict(sum(verdicts) / len(claims), claims, verdicts)


def _verdict(value: Any) -> int:
    if isinstance(value, dict):
        value = value.get("verdict", 0)
    try:
        return 1 if int(value) == 1 else 0
    except (TypeError, ValueError):
        return 1 if str(value).strip().lower() in ("yes", "true", "是", "能") else 0
