"""The optional ``llm`` answerer: any OpenAI-compatible endpoint (vLLM, Ollama, DeepSeek, Qwen).

The prompt numbers the passages ``[1]..[k]`` and demands a ``[n]`` after every sentence and no
outside knowledge. Whatever the model writes is verified afterwards like any other answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rag.errors import CityQAError, ConfigError
from rag.settings import Settings
from rag.types import REFUSAL_TEXT, Passage


class LLMError(CityQAError):
    """The LLM endpoint failed; the message names it and says how."""


def describe_failure(exc: BaseException) -> str:
    """A short Chinese reason for an OpenAI-client failure."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"HTTP {status}"
    if "Timeout" in name:
        return "请求超时"
    if "Connection" in name:
        return "无法连接（服务未启动或地址有误）"
    return f"{name}：{str(exc)[:200]}"


SYSTEM_PROMPT = f"""你是城市数字化转型领域的资料问答助手，只能依据用户提供的【资料】回答。
规则：
1. 只使用【资料】中的信息，不得使用资料以外的知识，不得编造数字、地名、机构或文件名。
2. 每一句话末尾都必须用 [编号] 标注其依据的资料，例如“……。[1]”；可以标注多个，如 [1][3]。
3. 尽量使用资料原文的表述，简洁作答，使用简体中文。
4. 如果资料不足以回答问题，只回答：{REFUSAL_TEXT}"""


def build_llm(
    settings: Settings, *, temperature: float = 0.1, purpose: str = "answerer=llm"
) -> Any:
    """An llama-index OpenAI-compatible LLM from CITYQA_LLM_* settings."""
    if not settings.llm_base_url or not settings.llm_model:
        raise ConfigError(
            f"{purpose} 需要设置 CITYQA_LLM_BASE_URL 与 CITYQA_LLM_MODEL（以及需要时的"
            " CITYQA_LLM_API_KEY；任何 OpenAI 兼容接口，如 vLLM、Ollama、DeepSeek、Qwen）"
        )
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ConfigError(
            "需要 llama-index-llms-openai-like：pip install llama-index-llms-openai-like"
        ) from exc
    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.llm_base_url,
        api_key=settings.llm_api_key or "not-needed",
        is_chat_model=True,
        timeout=settings.llm_timeout,
        max_retries=1,
        temperature=temperature,
    )


def build_messages(question: str, passages: list[Passage]) -> list[Any]:
    from llama_index.core.llms import ChatMessage, MessageRole

    blocks = []
    for n, p in enumerate(passages, start=1):
        where = " > ".join(x for x in (str(p.metadata.get("doc_title", "")), p.section) if x)
        blocks.append(f"[{n}]（{where}）\n{p.text}")
    user = "【资料】\n" + "\n\n".join(blocks) + f"\n\n【问题】{question}"
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=SYSTEM_PROMPT),
        ChatMessage(role=MessageRole.USER, content=user),
    ]


class LLMAnswerer:
    def __init__(self, llm: Any) -> None:
        self.llm = llm

    @property
    def endpoint(self) -> str:
        return str(getattr(self.llm, "api_base", "") or "大模型接口")

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        """Text pieces as the model produces them; ``LLMError`` naming the endpoint when it
        fails, times out, or answers with something that is not a streamed completion (an
        empty reply is a broken endpoint, never "not in the documents")."""
        produced = False
        try:
            for chunk in self.llm.stream_chat(build_messages(question, passages)):
                if chunk.delta:
                    produced = True
                    yield chunk.delta
        except Exception as exc:
            raise LLMError(f"大模型接口 {self.endpoint} 出错：{describe_failure(exc)}") from exc
        if not produced:
            raise LLMError(
                f"大模型接口 {self.endpoint} 返回了空回复（不是 OpenAI 兼容的流式回复，"
                "请检查地址是否指向 /v1 接口）"
            )

    def answer(self, question: str, passages: list[Passage]) -> str:
        return "".join(self.stream(question, passages)).strip()
