"""The pipeline variants compared by ``cityqa eval``.

* ``full``  — ``Assistant`` with the default settings (hybrid retrieval);
* ``bm25`` / ``dense`` — the same ``Assistant`` and index with ``retrieval="bm25"`` / ``"dense"``;
* ``e5`` — ``full`` with the optional ``e5-small`` embedder, on an index of its own
  (``<home>/eval-e5``: an index is never queried with another embedder);
* ``vanilla`` — a plain LlamaIndex baseline: default ``SentenceSplitter`` + in-memory
  ``VectorStoreIndex`` + top-k retriever over the same corpus files and the same embedder,
  answering with the top node's first two sentences cited as ``[1]``; it never refuses and
  knows neither chat history nor the dimension/path tags.

Every variant returns a ``Run``: the answer as plain data plus the top-10 passages used for the
ranking metrics, so the metrics never depend on which system produced them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.dataset import EvalItem, corpus_files
from eval.metrics import split_sentences, squeeze
from rag import Assistant, Settings

CONFIGS = ("full", "bm25", "dense", "vanilla", "e5")
RANK_DEPTH = 10  # passages retrieved for hit@k / recall@k / MRR@10 / nDCG@10


@dataclass
class CitedPassage:
    n: int
    section: str
    text: str
    doc_title: str = ""  # a document's part opens with its title, cited like a heading


@dataclass
class Run:
    """One question answered by one system."""

    answer: str
    refused: bool
    citations: list[CitedPassage]
    # passages as indexed (section path above text), best first (RANK_DEPTH of them)
    retrieved: list[str]
    latency_ms: float
    faithfulness: float | None = None  # the system's own score (None: it has none)
    rewritten_question: str | None = None
    refusal_reason: str = ""
    retrieved_sections: list[str] = field(default_factory=list)
    relevance: float | None = None  # the system's own answer relevance (None: it has none)
    low_relevance: bool | None = None


def indexed_text(section: str, text: str) -> str:
    """A passage as the product indexes it (embedded and term-indexed): its section path above
    its text. The chunker moves a heading such as "（四）数据要素×工业制造" out of the text into
    the section path, so a gold span that is a heading is judged where the retriever saw it;
    the vanilla splitter keeps headings inline, so it is judged on the same words."""
    return f"{section}\n{text}" if section else text


class System:
    name: str = ""
    description: str = ""

    def run(self, item: EvalItem) -> Run:  # pragma: no cover - interface
        raise NotImplementedError

    def warm_up(self, item: EvalItem) -> None:
        """One untimed answer first, so lazy loading (jieba, caches) is not in the latencies."""
        self.run(item)

    def passages(self) -> list[str]:
        """Every passage (chunk / node) text of the system's collection."""
        raise NotImplementedError  # pragma: no cover - interface

    def n_relevant(self, gold: Sequence[str]) -> int:
        spans = [squeeze(g) for g in gold if squeeze(g)]
        return sum(any(s in p for s in spans) for p in self._squeezed())

    def _squeezed(self) -> list[str]:
        cached = getattr(self, "_squeezed_cache", None)
        if cached is None:
            cached = [squeeze(p) for p in self.passages()]
            self._squeezed_cache = cached
        return cached


class AssistantSystem(System):
    def __init__(self, name: str, assistant: Assistant, description: str = "") -> None:
        self.name = name
        self.assistant = assistant
        self.description = description or f"Assistant, retrieval={assistant.settings.retrieval}"

    def run(self, item: EvalItem) -> Run:
        started = time.perf_counter()
        answer = self.assistant.ask(
            item.question,
            history=list(item.history) or None,
            dimension=item.dimension,
            path=item.path,
            id=item.id,
        )
        latency = (time.perf_counter() - started) * 1000
        query = answer.rewritten_question or item.question
        passages = self.assistant.retrieve(
            query, dimension=item.dimension, path=item.path, top_k=RANK_DEPTH
        )
        return Run(
            answer=answer.text,
            refused=answer.refused,
            citations=[CitedPassage(c.n, c.section, c.text, c.doc_title) for c in answer.citations],
            retrieved=[indexed_text(p.section, p.text) for p in passages],
            retrieved_sections=[p.section for p in passages],
            latency_ms=latency,
            faithfulness=answer.faithfulness,
            rewritten_question=answer.rewritten_question,
            refusal_reason=answer.refusal_reason,
            relevance=answer.relevance,
            low_relevance=answer.low_relevance,
        )

    def passages(self) -> list[str]:
        return [
            indexed_text(str(c.metadata.get("section", "")), c.text)
            for c in self.assistant.store.chunks().values()
        ]


class VanillaSystem(System):
    name = "vanilla"
    description = (
        "LlamaIndex SentenceSplitter + VectorStoreIndex, same embedder; top node's 2 sentences"
    )

    def __init__(self, corpus_dir: Path, embed_model: Any, *extra: Path) -> None:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        from ingest.loaders import LoadError, load_file

        documents = []
        for folder in (corpus_dir, *extra):
            for path in corpus_files(folder):
                try:
                    loaded = load_file(path)
                except LoadError:
                    continue  # the product reports bad files too and carries on
                source = path.name if folder.is_file() else str(path.relative_to(folder))
                meta = {"source": source, "doc_title": loaded.title}
                documents.append(Document(text=loaded.text, metadata=meta))
        self.nodes = SentenceSplitter().get_nodes_from_documents(documents)
        # embed_model is passed explicitly: llama-index's global Settings would fall back to OpenAI.
        index = VectorStoreIndex(self.nodes, embed_model=embed_model)
        self.retriever = index.as_retriever(similarity_top_k=RANK_DEPTH)

    def run(self, item: EvalItem) -> Run:
        started = time.perf_counter()
        hits = self.retriever.retrieve(item.question)
        citations: list[CitedPassage] = []
        text = ""
        if hits:
            top = hits[0].node.get_content()
            sentences = [s for s in split_sentences(top) if s.strip()][:2]
            text = "".join(f"{s}[1]" for s in sentences)
            citations = [CitedPassage(1, "", top)]
        latency = (time.perf_counter() - started) * 1000
        return Run(
            answer=text,
            refused=False,
            citations=citations,
            retrieved=[h.node.get_content() for h in hits],
            retrieved_sections=["" for _ in hits],
            latency_ms=latency,
        )

    def passages(self) -> list[str]:
        return [n.get_content() for n in self.nodes]


def parse_configs(value: str | Sequence[str]) -> list[str]:
    names = [c.strip() for c in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in dict.fromkeys(names) if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or not names:
        from rag.errors import InvalidInputError

        raise InvalidInputError(
            f"未知的评测配置 {unknown or value!r}；可选：{', '.join(CONFIGS)}（逗号分隔）"
        )
    return names


def variant_settings(base: Settings, name: str) -> Settings:
    """The settings of a configuration: same corpus; retrieval differs, and ``e5`` swaps the
    embedder and with it the index."""
    if name == "e5":
        from rag.embeddings import E5_SMALL

        return base.model_copy(
            update={"retrieval": "hybrid", "embedder": E5_SMALL, "home": base.home / "eval-e5"}
        )
    retrieval = {"full": "hybrid", "bm25": "bm25", "dense": "dense"}[name]
    return base.model_copy(update={"retrieval": retrieval})


def open_systems(
    names: Sequence[str],
    base: Settings,
    opener: Callable[[Settings], Assistant] = Assistant.open,
    extra: Sequence[Path] = (),
) -> dict[str, System]:
    """Open each configuration once. The index is brought up to date with the corpus (and
    the ``extra`` folders, e.g. the regulations, added as a user would add them)."""
    systems: dict[str, System] = {}
    first: Assistant | None = None
    updated: set[Path] = set()
    for name in names:
        if name == "vanilla":
            continue
        settings = variant_settings(base, name)
        assistant = opener(settings)
        if settings.home not in updated:
            # Bring each index up to date (a no-op when nothing changed): an index built by an
            # older pipeline would otherwise be evaluated instead of the current code.
            assistant.ingest([base.corpus_dir, *extra])
            updated.add(settings.home)
        if first is None and name != "e5":
            first = assistant
        systems[name] = AssistantSystem(name, assistant)
    if "vanilla" in names:
        if first is not None:
            embed_model = first.embed_model
        else:
            from rag.embeddings import build_embedder

            embed_model = build_embedder(base)
        systems["vanilla"] = VanillaSystem(base.corpus_dir, embed_model, *extra)
    return {name: systems[name] for name in names}
