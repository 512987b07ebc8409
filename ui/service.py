"""The web UI's access to ``Assistant``: uploads and deletions beside concurrent questions.

Questions from many users run concurrently and never wait for a write: an upload or deletion
works on its own copy of the catalog under the index's writer lock (shared with every other
process) and publishes a new generation when it commits; questions keep reading the last
committed one until then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.pipeline import SourceFile, source_name
from rag.assistant import Assistant
from rag.errors import storage_error, storage_errors
from rag.pipeline import StreamEvent
from rag.types import Answer
from ui.uploads import (
    CheckedUpload,
    UploadError,
    check_upload,
    finish_staged_uploads,
    free_library_path,
    library_file,
    publish_staged,
    stage_upload,
)

log = logging.getLogger(__name__)
ProgressFn = Callable[..., Any]  # gr.Progress: progress(fraction, desc=...)


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

    def message(self, text: str) -> None:
        self._progress(self._offset / self._total, desc=text)


@dataclass
class UploadOutcome:
    name: str
    ok: bool
    message: str
    chunks: int = 0


class UIService:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._finish_staged()

    def _finish_staged(self) -> None:
        settings = self.assistant.settings
        if not settings.staging_dir.is_dir():
            return  # nothing was staged (and a read-only home is served as it is)
        with self.assistant.store.writing() as catalog:
            committed = {d.path for d in catalog.done()}
            for line in finish_staged_uploads(settings.staging_dir, committed):
                log.warning("%s", line)

    # ----- read path ---------------------------------------------------------------------
    def ask(self, question: str, **filters: Any) -> Answer:
        return self.assistant.ask(question, **filters)

    def stream(
        self, question: str, history: Sequence[dict[str, str]], **filters: Any
    ) -> Iterator[StreamEvent]:
        yield from self.assistant.stream_events(question, history=list(history), **filters)

    def documents(self) -> list[Any]:
        return self.assistant.documents()

    def stats(self) -> dict[str, Any]:
        return self.assistant.stats()

    def passages(self, **filters: Any) -> list[Any]:
        return self.assistant.passages(**filters)

    # ----- write path --------------------------------------------------------------------
    def upload(
        self, files: Sequence[tuple[Path, str | None]], progress: ProgressFn | None = None
    ) -> list[UploadOutcome]:
        """Validate, stage and ingest each (path, original name); failures change nothing."""
        settings = self.assistant.settings
        progress = progress or (lambda *a, **k: None)
        outcomes = []
        for i, (path, original) in enumerate(files):
            try:
                checked = check_upload(path, original, settings.max_upload_mb)
            except UploadError as exc:
                outcomes.append(UploadOutcome(Path(str(original or path)).name, False, str(exc)))
                continue
            try:
                outcome = self._ingest_one(checked, GradioIngestProgress(progress, i, len(files)))
            except Exception as exc:  # the index cannot be written at all (read-only, disk)
                log.exception("upload of %s failed", checked.name)
                reason = storage_error(exc, settings.home) or exc
                outcome = UploadOutcome(
                    checked.name, False, f"{checked.name}：入库失败（{reason}）"
                )
            outcomes.append(outcome)
        progress(1.0, desc="完成")
        return outcomes

    def _ingest_one(self, checked: CheckedUpload, progress: GradioIngestProgress) -> UploadOutcome:
        settings = self.assistant.settings
        with self.assistant.store.writing() as catalog:
            same = next((d for d in catalog.done() if d.content_hash == checked.sha256), None)
            if same is not None:
                return UploadOutcome(
                    checked.name,
                    False,
                    f"{checked.name}：与资料库中的《{same.title}》（{same.source}）内容相同，"
                    "未重复入库",
                )
            final = free_library_path(checked.name, settings.library_dir, settings.staging_dir)
            staged = stage_upload(checked, settings.staging_dir, final)
            source = source_name(final, None, settings)
            try:
                report = self.assistant.indexer.ingest(
                    [], files=[SourceFile(staged, source, stored_path=final)], progress=progress
                )
                outcome = report.files[0] if report.files else None
                if outcome is not None and outcome.status != "failed":
                    publish_staged(staged, final)
            except Exception as exc:
                log.exception("ingest of %s failed", checked.name)
                reason = storage_error(exc, settings.home) or exc
                return UploadOutcome(checked.name, False, f"{checked.name}：入库失败（{reason}）")
            finally:
                # Whatever happened: a committed upload's file goes into the library, any
                # other staged bytes go away, so the upload can simply be repeated.
                committed = {d.path for d in catalog.reload().done()}
                finish_staged_uploads(settings.staging_dir, committed)
        if outcome is None or outcome.status == "failed":
            reason = outcome.error if outcome is not None else "未知错误"
            return UploadOutcome(checked.name, False, f"{checked.name}：入库失败（{reason}）")
        notes = f"；提示：{'；'.join(outcome.warnings)}" if outcome.warnings else ""
        renamed = f"（保存为 {final.name}）" if final.name != checked.name else ""
        return UploadOutcome(
            checked.name,
            True,
            f"{checked.name}{renamed}：已入库，{outcome.chunks} 个片段{notes}",
            outcome.chunks,
        )

    def delete(self, doc_id: str) -> str:
        """Remove a document from both indexes; an uploaded file leaves the library too."""
        settings = self.assistant.settings
        with storage_errors(settings.home), self.assistant.store.writing():
            doc = self.assistant.delete_document(doc_id)  # raises InvalidInputError if unknown
            # The file goes after the commit: a kill in between leaves a file no document
            # owns, never a document without its file.
            path = library_file(doc.source, settings.home, settings.library_dir)
            if path is not None:
                path.unlink(missing_ok=True)
        return f"已删除《{doc.title}》"
