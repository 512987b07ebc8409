"""Protocol test of the ``llm`` answerer against an OpenAI-compatible server on loopback.

The server is a tiny stand-in written here: it checks the request shape, streams a canned
completion as server-sent events, and records what it received. Only the HTTP protocol is under
test; the answer is verified by the real verifier against the real index.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from rag.assistant import Assistant
from rag.llm import LLMAnswerer, build_llm
from rag.pipeline import QAPipeline

REPLY = (
    "城市数字化转型的三大维度分别是技术维度、业务维度和管理维度,如图1所示。[1]"
    "这些维度由深圳市在2019年率先提出。[2]"
)


class _Handler(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    reply = REPLY
    fault = ""  # "", "http500", "html", "json", "bad-sse", "slow"

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        fault = type(self).fault
        if fault == "http500":
            self._send(500, "application/json", b'{"error": {"message": "boom"}}')
        elif fault == "html":  # a web page answering 200, e.g. a login portal
            self._send(200, "text/html", "<html><body>请登录</body></html>".encode())
        elif fault == "json":  # a non-streaming completion to a streaming request
            self._send(200, "application/json", json.dumps(_completion(REPLY)).encode())
        elif fault == "bad-sse":
            self._send(200, "text/event-stream", b"data: {not json}\n\n")
        elif fault == "slow":
            time.sleep(3)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                self._send(200, "application/json", b"{}")
        elif body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in _pieces(type(self).reply):
                self.wfile.write(f"data: {json.dumps(_chunk(piece))}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            payload = json.dumps(_completion(type(self).reply)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)


def _pieces(text: str, size: int = 7) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def _chunk(piece: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}
        ],
    }


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture
def llm_server() -> Iterator[str]:
    _Handler.received = []
    _Handler.reply = REPLY
    _Handler.fault = ""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture
def llm_assistant(corpus_index, llm_server: str) -> Assistant:
    base = corpus_index.assistant
    settings = base.settings.model_copy(
        update={
            "answerer": "llm",
            "llm_base_url": llm_server,
            "llm_model": "fake",
            "llm_api_key": "sk-test",
        }
    )
    assistant = Assistant(settings, base.embed_model, base.store, base.taxonomy, base.tokenizer)
    assert isinstance(assistant.pipeline, QAPipeline)
    return assistant


def test_request_shape_streaming_and_citation_parsing(llm_assistant: Assistant) -> None:
    pieces = list(llm_assistant.stream("城市数字化转型包括哪三个维度？"))
    assert len(pieces) > 3  # streamed, not delivered at once
    assert "".join(pieces) == REPLY
    request = _Handler.received[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "fake" and body["stream"] is True
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user"]
    assert "[编号]" in body["messages"][0]["content"]  # the prompt demands [n] citations
    assert "【资料】" in body["messages"][1]["content"] and "[1]" in body["messages"][1]["content"]


def test_llm_answer_is_verified(llm_assistant: Assistant) -> None:
    answer = llm_assistant.ask("城市数字化转型包括哪三个维度？")
    assert answer.answerer == "llm"
    assert not answer.refused
    assert [c.supported for c in answer.sentences] == [True, False]  # the 深圳 claim is made up
    assert answer.faithfulness == 0.5
    assert answer.citations[0].n == 1


def test_llm_refusal_is_passed_through(llm_assistant: Assistant) -> None:
    _Handler.reply = "资料中未找到与该问题直接相关的内容。"
    answer = llm_assistant.ask("城市数字化转型包括哪三个维度？")
    assert answer.refused and "可能相关" in answer.text


def test_strict_mode_drops_unsupported_sentences(llm_assistant: Assistant) -> None:
    llm_assistant.pipeline.strict = True
    answer = llm_assistant.ask("城市数字化转型包括哪三个维度？")
    assert "深圳" not in answer.text
    assert answer.faithfulness == 1.0


def test_missing_llm_settings_is_a_clear_error(corpus_index) -> None:
    from rag.errors import ConfigError

    settings = corpus_index.settings.model_copy(update={"answerer": "llm", "llm_base_url": None})
    with pytest.raises(ConfigError, match="CITYQA_LLM_BASE_URL"):
        build_llm(settings)
    assert LLMAnswerer  # the class is importable without a server


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("http500", "HTTP 500"),
        ("html", "大模型接口"),
        ("json", "大模型接口"),
        ("bad-sse", "大模型接口"),
        ("slow", "超时"),
    ],
)
def test_broken_endpoint_is_named_and_the_extractive_answer_stands_in(
    llm_assistant: Assistant, llm_server: str, fault: str, reason: str
) -> None:
    _Handler.fault = fault
    llm_assistant.settings = llm_assistant.settings.model_copy(update={"llm_timeout": 1.0})
    llm_assistant.pipeline.llm_answerer = LLMAnswerer(build_llm(llm_assistant.settings))
    answer = llm_assistant.ask("城市数字化转型包括哪三个维度？")
    assert llm_server in answer.notice and reason in answer.notice, answer.notice
    assert not answer.refused  # never passed off as "not in the documents"
    assert answer.answerer == "extractive" and "技术维度" in answer.text
    assert answer.to_dict()["notice"] == answer.notice


def test_closed_port_is_named(llm_assistant: Assistant) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = llm_assistant.settings.model_copy(
        update={"llm_base_url": f"http://127.0.0.1:{port}/v1", "llm_timeout": 2.0}
    )
    llm_assistant.pipeline.llm_answerer = LLMAnswerer(build_llm(settings))
    events = list(llm_assistant.stream_events("城市数字化转型包括哪三个维度？"))
    answer = events[-1].answer
    assert answer is not None and "无法连接" in answer.notice and str(port) in answer.notice
    assert not answer.refused and "⚠" in "".join(e.text for e in events)
