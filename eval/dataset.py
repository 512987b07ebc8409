"""The evaluation set: load ``eval/dataset.jsonl`` and validate every item loudly.

Each gold span must occur character for character in the corpus text *as the product loads it*
(``ingest.loaders.load_file``, which also adds the front matter as a "文献信息" section), so a
typo in a span, or a corpus edit that removes it, fails with the item id and the offending span.
The schema is documented in ``eval/README.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import squeeze as compact
from ingest.loaders import SUPPORTED_SUFFIXES, load_file
from rag.errors import CityQAError
from rag.taxonomy import Taxonomy

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVAL_DIR / "dataset.jsonl"
# Third-party regulation texts are never committed: items about them run only when the
# folder beside the repository exists (CI has it), and are reported as skipped otherwise.
SHARED_REGULATIONS = EVAL_DIR.parent.parent / "shared" / "regulations"
# The scale corpus of laws (same third-party collection): the blind generalisation set is
# written on a few of its documents, named by each item's ``doc`` (a path inside the folder).
SHARED_LAWS = EVAL_DIR.parent.parent / "shared" / "bench" / "laws"
REQUIRES = ("policies", "regulations", "laws")
# Items whose texts are not in the repository; they need these folders beside it.
THIRD_PARTY = ("regulations", "laws")
TYPES = ("fact", "list", "multi-hop", "paraphrase", "filtered", "follow-up", "unanswerable")
ROLES = ("user", "assistant")
_KNOWN_FIELDS = {
    "id",
    "type",
    "question",
    "history",
    "dimension",
    "path",
    "answerable",
    "key_points",
    "gold_evidence",
    "note",
    "requires",
    "doc",
}


class DatasetError(CityQAError, ValueError):
    """The evaluation set is malformed; the message names the file, line, item and problem."""


@dataclass(frozen=True)
class EvalItem:
    id: str
    type: str
    question: str
    answerable: bool
    key_points: tuple[str, ...] = ()
    gold_evidence: tuple[str, ...] = ()
    dimension: str | None = None
    path: str | None = None
    history: tuple[dict[str, str], ...] = ()
    note: str = ""
    requires: str = ""  # "regulations" / "laws": needs that third-party folder ingested
    about: str = ""  # the document the question names (for "laws": its path in the folder)

    @property
    def doc_kind(self) -> str:
        """The kind of document the item was written from (for per-kind reports)."""
        return {"regulations": "法规", "laws": "法规", "policies": "规范性文件"}.get(
            self.requires, "研究论文"
        )

    @property
    def filters(self) -> dict[str, str | None]:
        return {"dimension": self.dimension, "path": self.path}


def split_alternatives(key_point: str) -> list[str]:
    return [a.strip() for a in key_point.split("|") if a.strip()]


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The files the product ingests from a folder (supported types, no README, no dot-dirs);
    a file given itself (a law document added on its own) is that one file."""
    if Path(corpus_dir).is_file():
        return [Path(corpus_dir)]
    files = []
    for path in sorted(p for p in Path(corpus_dir).rglob("*") if p.is_file()):
        rel = path.relative_to(corpus_dir).parts
        if any(part.startswith(".") for part in rel):
            continue
        if path.suffix.lower() in SUPPORTED_SUFFIXES and path.stem.lower() != "readme":
            files.append(path)
    return files


def load_corpus_texts(corpus_dir: Path, *extra: Path) -> dict[str, str]:
    """Each corpus file's text exactly as ``ingest.loaders.load_file`` produces it (also for
    the files of ``extra`` folders, e.g. the regulations)."""
    texts = {str(p.relative_to(corpus_dir)): load_file(p).text for p in corpus_files(corpus_dir)}
    if not texts:
        raise DatasetError(f"语料目录 {corpus_dir} 中没有可入库的文件，无法校验 gold_evidence")
    for folder in extra:
        texts |= {f"{folder.name}/{p.name}": load_file(p).text for p in corpus_files(folder)}
    return texts


@dataclass
class LoadedDataset:
    items: list[EvalItem]
    skipped: dict[str, str]  # item id -> why it does not run here

    def library_paths(
        self, regulations_dir: Path = SHARED_REGULATIONS, laws_dir: Path = SHARED_LAWS
    ) -> list[Path]:
        """What the runnable items need added to the bundled corpus, as a user would add it:
        the regulations folder, and each law document the items were written on."""
        paths: list[Path] = []
        if any(i.requires == "regulations" for i in self.items):
            paths.append(regulations_dir)
        laws = sorted({i.about for i in self.items if i.requires == "laws"})
        return paths + [laws_dir / name for name in laws]


def load_runnable(
    path: Path,
    corpus_dir: Path | None = None,
    taxonomy_path: Path | None = None,
    regulations_dir: Path = SHARED_REGULATIONS,
    laws_dir: Path = SHARED_LAWS,
) -> LoadedDataset:
    """The items that can run here: those needing a third-party folder (the regulations, the
    laws) are skipped, with the reason, when that folder is absent."""
    folders = {"regulations": regulations_dir, "laws": laws_dir}
    present = {k: v for k, v in folders.items() if v.is_dir()}
    items = load_dataset(
        path, corpus_dir, taxonomy_path, present.get("regulations"), present.get("laws")
    )
    skipped = {
        i.id: f"需要 {folders[i.requires]}（第三方整理的法规原文，不随仓库分发），该目录不存在"
        for i in items
        if i.requires in THIRD_PARTY and i.requires not in present
    }
    return LoadedDataset([i for i in items if i.id not in skipped], skipped)


def resolve_references(
    obj: dict[str, Any], folder: Path | None, where: str, texts: dict[Path, str] | None = None
) -> dict[str, Any]:
    """Evidence and key points of regulation items are stored as references into the
    regulation files ({"file", "at", "len", "sha1"}), not as quotations: the third-party texts
    are never copied into the repository. Resolve them against ``folder``; without it they
    become placeholders (such items are skipped). ``texts`` caches file contents across the
    items of one dataset."""
    texts = {} if texts is None else texts

    def text(ref: Any) -> str:
        if not isinstance(ref, dict):
            return str(ref)
        name, at, length = ref.get("file"), ref.get("at"), ref.get("len")
        if folder is None:
            return f"⟨{name}@{at}⟩"
        path = folder / str(name)
        try:
            body = texts.get(path) or texts.setdefault(path, path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DatasetError(f"{where}：无法读取 {path}（{exc}）") from exc
        span = body[int(at) : int(at) + int(length)]
        if hashlib.sha1(span.encode()).hexdigest()[: len(str(ref.get("sha1", "")))] != ref.get(
            "sha1"
        ):
            raise DatasetError(
                f"{where}：{name} 第 {at} 字起的原文与题目记录的不符（文件已改动？）"
            )
        return span

    out = dict(obj)
    if isinstance(obj.get("gold_evidence"), list):
        out["gold_evidence"] = [text(g) for g in obj["gold_evidence"]]
    if isinstance(obj.get("key_points"), list):
        out["key_points"] = [
            "|".join(text(a) for a in k) if isinstance(k, list) else k for k in obj["key_points"]
        ]
    return out


def load_dataset(
    path: Path = DEFAULT_DATASET,
    corpus_dir: Path | None = None,
    taxonomy_path: Path | None = None,
    regulations_dir: Path | None = None,
    laws_dir: Path | None = None,
) -> list[EvalItem]:
    """Parse and validate the JSONL file; raise ``DatasetError`` on the first bad item.

    Without ``regulations_dir`` (``laws_dir``) the evidence of items that require the
    regulations (laws) is not checked (their texts are not here to check against)."""
    from rag.settings import default_corpus_dir

    corpus_dir = Path(corpus_dir or default_corpus_dir())
    taxonomy = Taxonomy.load(taxonomy_path or corpus_dir / "taxonomy.yaml")
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"无法读取评测集 {path}：{exc}") from exc
    raw: list[tuple[int, dict[str, Any]]] = []
    regulation_texts: dict[Path, str] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path.name} 第 {lineno} 行不是合法 JSON：{exc.msg}") from exc
        if not isinstance(obj, dict):
            raise DatasetError(f"{path.name} 第 {lineno} 行应为 JSON 对象")
        folder = laws_dir if obj.get("requires") == "laws" else regulations_dir
        where = f"{path.name} 第 {lineno} 行"
        raw.append((lineno, resolve_references(obj, folder, where, regulation_texts)))
    if not raw:
        raise DatasetError(f"评测集 {path} 为空")
    extra = (regulations_dir,) if regulations_dir is not None else ()
    checkable = {"regulations"} if regulations_dir is not None else set()
    texts = load_corpus_texts(corpus_dir, *extra)
    if laws_dir is not None:
        checkable.add("laws")
        for _, obj in raw:
            name = obj.get("doc")
            if obj.get("requires") == "laws" and isinstance(name, str) and name:
                law = laws_dir / name
                if not law.is_file():
                    raise DatasetError(f"{path.name}（id={obj.get('id')}）：找不到文档 {law}")
                texts.setdefault(f"laws/{name}", load_file(law).text)
    return validate(raw, texts, taxonomy, source=path.name, checkable=checkable)


def validate(
    raw: Iterable[tuple[int, dict[str, Any]]],
    corpus_texts: dict[str, str],
    taxonomy: Taxonomy,
    source: str = "dataset",
    checkable: Iterable[str] = THIRD_PARTY,
) -> list[EvalItem]:
    """``checkable``: the third-party requirements whose texts are in ``corpus_texts``."""
    checkable = set(checkable)
    joined = "\n".join(corpus_texts.values())
    joined_compact = compact(joined)
    seen: set[str] = set()
    items = []
    for lineno, obj in raw:
        where = f"{source} 第 {lineno} 行"
        item_id = obj.get("id")
        if not isinstance(item_id, str) or not item_id.strip():
            raise DatasetError(f"{where}：缺少 id（非空字符串）")
        where = f"{where}（id={item_id}）"
        if item_id in seen:
            raise DatasetError(f"{where}：id 重复")
        seen.add(item_id)
        if obj.get("requires") in THIRD_PARTY and obj.get("requires") not in checkable:
            items.append(_validate_item(obj, where, None, None, taxonomy))
        else:
            items.append(_validate_item(obj, where, joined, joined_compact, taxonomy))
    return items


def _fail(where: str, problem: str) -> DatasetError:
    return DatasetError(f"{where}：{problem}")


def _validate_item(
    obj: dict[str, Any],
    where: str,
    corpus: str | None,
    corpus_compact: str | None,
    taxonomy: Taxonomy,
) -> EvalItem:
    unknown = sorted(set(obj) - _KNOWN_FIELDS)
    if unknown:
        raise _fail(where, f"未知字段 {unknown}（可用字段：{sorted(_KNOWN_FIELDS)}）")
    for name in ("type", "question", "answerable", "key_points", "gold_evidence"):
        if name not in obj:
            raise _fail(where, f"缺少必填字段 {name}")
    kind, question, answerable = obj["type"], obj["question"], obj["answerable"]
    if kind not in TYPES:
        raise _fail(where, f"type 为 {kind!r}，应为 {', '.join(TYPES)} 之一")
    if not isinstance(question, str) or not question.strip():
        raise _fail(where, "question 必须是非空字符串")
    if not isinstance(answerable, bool):
        raise _fail(where, "answerable 必须是 true 或 false")
    keys = _string_list(obj["key_points"], "key_points", where)
    gold = _string_list(obj["gold_evidence"], "gold_evidence", where)
    if kind == "unanswerable" and answerable:
        raise _fail(where, "type 为 unanswerable 的题目 answerable 必须为 false")
    if answerable:
        if not keys:
            raise _fail(where, "可回答的题目必须给出至少一个 key_points")
        if not gold:
            raise _fail(where, "可回答的题目必须给出至少一段 gold_evidence")
    elif keys or gold:
        raise _fail(where, "不可回答的题目不应有 key_points / gold_evidence")
    requires = obj.get("requires", "")
    if requires and requires not in REQUIRES:
        raise _fail(where, f"requires 为 {requires!r}，应为 {', '.join(REQUIRES)} 之一")
    for span in gold if corpus is not None and corpus_compact is not None else ():
        if span not in corpus:
            hint = (
                "（忽略空白后能找到：请按原文逐字复制空白）"
                if compact(span) in corpus_compact
                else ""
            )
            raise _fail(where, f"gold_evidence 不在语料原文中：{span!r}{hint}")
    for key in keys:
        alternatives = split_alternatives(key)
        if not alternatives:
            raise _fail(where, f"key_points 中有空的要点：{key!r}")
        if corpus_compact is not None and not any(
            compact(a) in corpus_compact for a in alternatives
        ):
            raise _fail(where, f"key_points 要点 {key!r} 的任何写法都不在语料中")
    history = _history(obj.get("history"), where)
    if kind == "follow-up" and not history:
        raise _fail(where, "follow-up 题目必须给出 history（之前的用户提问）")
    dimension = _label(obj.get("dimension"), "dimension", where, taxonomy)
    path = _label(obj.get("path"), "path", where, taxonomy)
    if kind == "filtered" and not (dimension or path):
        raise _fail(where, "filtered 题目必须给出 dimension 或 path")
    note = obj.get("note", "")
    return EvalItem(
        id=obj["id"],
        type=kind,
        question=question.strip(),
        answerable=answerable,
        key_points=tuple(keys),
        gold_evidence=tuple(gold),
        dimension=dimension,
        path=path,
        history=history,
        note=str(note),
        requires=str(requires),
        about=str(obj.get("doc", "") or ""),
    )


def _string_list(value: Any, name: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(where, f"{name} 必须是非空字符串组成的列表")
    return list(value)


def _history(value: Any, where: str) -> tuple[dict[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(where, "history 必须是 {role, content} 对象的列表")
    turns = []
    for turn in value:
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ROLES
            or not isinstance(turn.get("content"), str)
            or set(turn) - {"role", "content"}
        ):
            raise _fail(where, f"history 中的一轮格式不对：{turn!r}（应为 {{role, content}}）")
        turns.append({"role": turn["role"], "content": turn["content"]})
    if turns and not any(t["role"] == "user" for t in turns):
        raise _fail(where, "history 中至少要有一轮 user 提问")
    return tuple(turns)


def _label(value: Any, kind: str, where: str, taxonomy: Taxonomy) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"{kind} 必须是非空字符串")
    try:
        taxonomy.resolve(kind, value)  # type: ignore[arg-type]
    except CityQAError as exc:
        raise _fail(where, str(exc)) from exc
    return value
