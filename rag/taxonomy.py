"""The paper's taxonomy (三维模型 dimensions and 六大路径 paths) loaded from YAML.

Labels are stored on every chunk as boolean metadata keys (``dim_technology``,
``path_governance``...) so that Chroma ``where`` filters and the BM25 mask can use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from rag.errors import ConfigError, InvalidInputError

Kind = Literal["dimension", "path"]
_KEY_PREFIX: dict[str, str] = {"dimension": "dim_", "path": "path_"}
_KIND_ZH: dict[str, str] = {"dimension": "维度", "path": "路径"}


@dataclass(frozen=True)
class Label:
    kind: Kind
    name: str
    alias: str
    description: str
    keywords: tuple[str, ...] = ()
    components: tuple[str, ...] = ()

    @property
    def meta_key(self) -> str:
        """The boolean metadata key that marks a chunk with this label."""
        return _KEY_PREFIX[self.kind] + self.alias


@dataclass(frozen=True)
class Taxonomy:
    dimensions: tuple[Label, ...]
    paths: tuple[Label, ...]
    source_file: Path | None = field(default=None, compare=False)

    @classmethod
    def load(cls, path: Path) -> Taxonomy:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"找不到分类体系文件 {path}（CITYQA_TAXONOMY_FILE）") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"分类体系文件 {path} 不是合法的 YAML：{exc}") from exc
        try:
            dims = tuple(_label("dimension", item) for item in data["dimensions"])
            paths = tuple(_label("path", item) for item in data["paths"])
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"分类体系文件 {path} 缺少字段：{exc}") from exc
        return cls(dimensions=dims, paths=paths, source_file=Path(path))

    def labels(self, kind: Kind) -> tuple[Label, ...]:
        return self.dimensions if kind == "dimension" else self.paths

    @property
    def all_labels(self) -> tuple[Label, ...]:
        return self.dimensions + self.paths

    def resolve(self, kind: Kind, value: str) -> Label:
        """A label by its Chinese name, English alias or meta key; else a helpful error."""
        wanted = value.strip().lower()
        for label in self.labels(kind):
            names = {label.name, label.alias, label.meta_key, _short_name(label)}
            if wanted in {n.lower() for n in names}:
                return label
        valid = "、".join(f"{lb.name}({lb.alias})" for lb in self.labels(kind))
        raise InvalidInputError(f"未知的{_KIND_ZH[kind]} '{value}'。可选值：{valid}")

    def mentions(self, text: str) -> list[str]:
        """Label forms named in a text ("管理维度", "数字治理驱动路径"), longest form per label."""
        found = []
        for label in self.all_labels:
            for form in label_forms(label):
                if form in text:
                    found.append(form)
                    break
        return found

    def names(self, kind: Kind, metadata: dict) -> list[str]:
        """The Chinese names of the labels set on a chunk's metadata."""
        return [lb.name for lb in self.labels(kind) if metadata.get(lb.meta_key)]


def label_forms(label: Label) -> list[str]:
    """How texts name a label, longest first: "数字治理驱动路径", "数字治理驱动", "数字治理";
    a dimension only as "技术维度" (the bare "技术" is too common a word)."""
    if label.kind == "path":
        return [f"{label.name}路径", label.name, label.name.removesuffix("驱动")]
    return [f"{label.name}维度"]


def _short_name(label: Label) -> str:
    # Accept "数字治理" for the path "数字治理驱动" and "技术维度" for the dimension "技术".
    if label.kind == "path":
        return label.name.removesuffix("驱动")
    return label.name + "维度"


def _label(kind: Kind, item: dict) -> Label:
    return Label(
        kind=kind,
        name=str(item["name"]),
        alias=str(item["alias"]),
        description=str(item.get("description", "")),
        keywords=tuple(str(k) for k in item.get("keywords", []) or []),
        components=tuple(str(c) for c in item.get("components", []) or []),
    )
