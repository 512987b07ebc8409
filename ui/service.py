"""The web UI's access to ``Assistant``: thread safety, uploads and deletions.

Questions from many users run concurrently (the read path), while an upload or a deletion
(the write path) runs alone: ``Assistant``'s store caches are rebuilt on every write and are
not safe to read while that happens, so a readers-writer lock serialises writes against reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.assistant import Assistant
from rag.pipeline import StreamEvent
from rag.types import Answer
from ui.uploads import (
    UploadError,
    check_upload,
    find_duplicate,
    library_file,
    store_upload,
)

log = logging.getLogger(__name__)
ProgressFn = Callable[..., Any]  # gr.Progress: progress(fraction, desc=...)


class ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class GradioIngestProgress:
    """``ingest.pipeline.IngestProgress`` drawn on a ``gr.Progress`` bar."""

    def __init__(self, progress: ProgressFn, offset: int = 0, total: int = 1) -> None:
        self._progress = progress
        self._offset = offset  # files of this upload batch already handled
        self._total = max(total, 1)
        self._source = ""

    def _show(self, within: float, what: str) -> None:
        self._progress((self._offset + within) / self._total, desc=what)

    def start(self, total_files: int) -> None:
        self._show(0.0, "准备入库…")

    def file_started(self, source: str) -> None:
        self._source = source
        self._show(0.05, f"解析 {source}")

    def chunks_embedded(self, done: int, total: int) -> None:
        self._show(0.1 + 0.85 * done / max(total, 1), f"向量化 {self._source}：{done}/{total}")

    def file_finished(self, source: str, status: str) -> None:
        self._show(1.0, f"完成 {source}")


@dataclass
class UploadOutcome:
    name: str
    ok: bool
    message: str
    chunks: int = 0


class UIService:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.lock = ReadWriteLock()

    # ----- read path ---------------------------------------------------------------------
    def ask(self, question: str, **filters: Any) -> Answer:
        with self.lock.read():
            return self.assistant.ask(question, **filters)

    def stream(
        self, question: str, history: Sequence[dict[str, str]], **filters: Any
    ) -> Iterator[StreamEvent]:
        """``Assistant.stream_events``, each step under the read lock (never held by a
        suspended generator, so an abandoned stream cannot block uploads)."""
        with self.lock.read():
            events = self.assistant.stream_events(question, history=list(history), **filters)
        while True:
            with self.lock.read():
                event = next(events, None)
            if event is None:
                return
            yield event

    def read(self, fn: Callable[[], Any]) -> Any:
        with self.lock.read():
            return fn()

    def documents(self) -> list[Any]:
        return self.read(self.assistant.documents)

    def stats(self) -> dict[str, Any]:
        return self.read(self.assistant.stats)

    def passages(self, **filters: Any) -> list[Any]:
        return self.read(lambda: self.assistant.passages(**filters))

    # ----- write path --------------------------------------------------------------------
    def upload(
        self, files: Sequence[tuple[Path, str | None]], progress: ProgressFn | None = None
    ) -> list[UploadOutcome]:
        """Validate, store and ingest each (path, original name); failures change nothing."""
        settings = self.assistant.settings
        progress = progress or (lambda *a, **k: None)
        outcomes = []
        for i, (path, original) in enumerate(files):
            try:
                checked = check_upload(path, original, settings.max_upload_mb)
            except UploadError as exc:
                outcomes.append(UploadOutcome(Path(str(original or path)).name, False, str(exc)))
                continue
            with self.lock.write():
                outcomes.append(
                    self._ingest_one(checked, GradioIngestProgress(progress, i, len(files)))
                )
        progress(1.0, desc="完成")
        return outcomes

    def _ingest_one(self, checked: Any, progress: GradioIngestProgress) -> UploadOutcome:
        settings = self.assistant.settings
        duplicate = find_duplicate(checked, settings.library_dir)
        if duplicate is not None:
            return UploadOutcome(
                checked.name,
                False,
                f"{checked.name}：与资料库中的 {duplicate.name} 内容相同，未重复入库",
            )
        stored = store_upload(checked, settings.library_dir)
        try:
            report = self.assistant.ingest([stored], progress=progress)
        except Exception as exc:
            stored.unlink(missing_ok=True)
            log.exception("ingest of %s failed", stored)
            return UploadOutcome(checked.name, False, f"{checked.name}：入库失败（{exc}）")
        outcome = report.files[0] if report.files else None
        if outcome is None or outcome.status == "failed":
            stored.unlink(missing_ok=True)
            reason = outcome.error if outcome is not None else "未知错误"
            return UploadOutcome(checked.name, False, f"{checked.name}：入库失败（{reason}）")
        notes = f"；提示：{'；'.join(outcome.warnings)}" if outcome.warnings else ""
        renamed = f"（保存为 {stored.name}）" if stored.name != checked.name else ""
        return UploadOutcome(
            checked.name,
            True,
            f"{checked.name}{renamed}：已入库，{outcome.chunks} 个片段{notes}",
            outcome.chunks,
        )

    def delete(self, doc_id: str) -> str:
        """Remove a document from both indexes; an uploaded file leaves the library too."""
        settings = self.assistant.settings
        with self.lock.write():
            doc = next((d for d in self.assistant.documents() if d.doc_id == doc_id), None)
            self.assistant.delete_document(doc_id)  # raises InvalidInputError if unknown
            if doc is not None:
                path = library_file(doc.source, settings.home, settings.library_dir)
                if path is not None:
                    path.unlink(missing_ok=True)
        return f"已删除《{doc.title if doc else doc_id}》"
