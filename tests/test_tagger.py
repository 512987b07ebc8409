"""Taxonomy tagging: on the real index of the paper, and on hand-made passages."""

from __future__ import annotations

import json
import math

import pytest
from conftest import TAXONOMY
from llama_index.core.schema import MetadataMode, TextNode

from ingest.tagger import TaxonomyTagger, lexicon_score, structural_match
from rag.taxonomy import Taxonomy

S3 = "3 城市数字化转型六大主导路径 > "
S4 = "4 促进城市数字化发展的思考和建议 > "

# Written out by hand (not read from taxonomy.yaml) so that a changed taxonomy shows up here.
PATH_SECTIONS = [
    ("3.1 制度创新驱动路径", "制度创新驱动", "institution"),
    ("3.2 数字底座驱动路径", "数字底座驱动", "infrastructure"),
    ("3.3 数据要素驱动路径", "数据要素驱动", "data"),
    ("3.4 数字治理驱动路径", "数字治理驱动", "governance"),
    ("3.5 特色产业驱动路径", "特色产业驱动", "industry"),
    ("3.6 数字生活驱动路径", "数字生活驱动", "life"),
]
DIMENSION_SECTIONS = [
    ("4.1 技术维度:推动分类施策,因地制宜", "技术", "technology"),
    ("4.2 管理维度:推动管运分离、多方协同", "管理", "management"),
    ("4.3 业务维度:推动流程变革,效能提升", "业务", "business"),
]
DIMENSIONS = {"技术": "technology", "业务": "business", "管理": "management"}
PATHS = {name: alias for _, name, alias in PATH_SECTIONS}


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load(TAXONOMY)


@pytest.fixture(scope="module")
def tagger(taxonomy: Taxonomy, embedder) -> TaxonomyTagger:
    return TaxonomyTagger(taxonomy, embedder)


def _names(value: str) -> set[str]:
    return {v for v in value.split(",") if v}


# ----- on the real index --------------------------------------------------------------------------
@pytest.mark.parametrize(("heading", "name", "alias"), PATH_SECTIONS)
def test_path_sections_carry_their_path(paper_chunks, heading: str, name: str, alias: str) -> None:
    chunks = [c for c in paper_chunks if c.metadata["section"] == S3 + heading]
    assert chunks, f"no chunk in {heading}"
    for chunk in chunks:
        assert chunk.metadata[f"path_{alias}"] is True
        assert name in _names(chunk.metadata["paths"])
        assert json.loads(chunk.metadata["tag_scores"])[name] == 1.0


@pytest.mark.parametrize(("heading", "name", "alias"), DIMENSION_SECTIONS)
def test_dimension_sections_carry_their_dimension(
    paper_chunks, heading: str, name: str, alias: str
) -> None:
    chunks = [c for c in paper_chunks if c.metadata["section"] == S4 + heading]
    assert chunks, f"no chunk in {heading}"
    for chunk in chunks:
        assert chunk.metadata[f"dim_{alias}"] is True
        assert name in _names(chunk.metadata["dimensions"])


def test_tag_scores_are_json_for_every_label(paper_chunks) -> None:
    for chunk in paper_chunks:
        scores = json.loads(chunk.metadata["tag_scores"])
        assert set(scores) == set(DIMENSIONS) | set(PATHS)
        assert all(isinstance(v, float | int) and 0.0 <= v <= 1.0 for v in scores.values())


def test_flags_match_names(paper_chunks) -> None:
    for chunk in paper_chunks:
        meta = chunk.metadata
        dims = _names(meta["dimensions"])
        assert dims == {n for n, a in DIMENSIONS.items() if meta[f"dim_{a}"] is True}
        assert _names(meta["paths"]) == {n for n, a in PATHS.items() if meta[f"path_{a}"] is True}


def test_tags_are_selective(paper_chunks) -> None:
    """Not everything is tagged with everything, and some chunks carry no path at all."""
    assert any(c.metadata["paths"] == "" for c in paper_chunks)
    for alias in PATHS.values():
        tagged = sum(1 for c in paper_chunks if c.metadata[f"path_{alias}"])
        # Graded evidence is calibrated on policy passages; the paper's long sections mention
        # several paths in passing, so the bound here is only "not every chunk".
        assert 0 < tagged < len(paper_chunks), alias


# ----- on hand-made passages ------------------------------------------------------------------
def test_lexicon_score_saturates(taxonomy: Taxonomy) -> None:
    governance = taxonomy.resolve("path", "governance")
    assert lexicon_score(governance, "今天天气晴朗。") == 0.0
    assert lexicon_score(governance, "建设城市大脑。") == pytest.approx(1 - math.exp(-0.5))
    assert lexicon_score(governance, "建设城市大脑，推进一网统管、一网通办。") == pytest.approx(
        1 - math.exp(-1.5)
    )


def test_structural_match(taxonomy: Taxonomy) -> None:
    governance = taxonomy.resolve("path", "governance")
    management = taxonomy.resolve("dimension", "management")
    assert structural_match(governance, S3 + "3.4 数字治理驱动路径")
    assert not structural_match(governance, S3 + "3.3 数据要素驱动路径")
    assert structural_match(management, S4 + "4.2 管理维度:推动管运分离、多方协同")
    assert not structural_match(management, "2 城市数字化转型“三维”模型")


def _tag(tagger: TaxonomyTagger, embedder, text: str, section: str) -> TextNode:
    node = TextNode(text=text, metadata={"section": section})
    tagger.tag(node, embedder.get_text_embedding(text))
    return node


def test_keywords_tag_a_passage_outside_the_path_sections(tagger, embedder) -> None:
    node = _tag(
        tagger,
        embedder,
        "依托城市大脑中枢系统和数字驾驶舱，推进一网统管、一网通办，提升城市运行管理效能。",
        "二、主要任务",
    )
    assert node.metadata["path_governance"] is True
    assert "数字治理驱动" in _names(node.metadata["paths"])


def test_a_passage_without_evidence_stays_untagged(tagger, embedder) -> None:
    """No forced label: a filter on a dimension must not show passages that are not about it."""
    node = _tag(tagger, embedder, "今天天气晴朗，我们去公园散步。", "")
    assert node.metadata["dimensions"] == ""
    assert node.metadata["paths"] == ""
    assert not any(node.metadata[f"path_{a}"] for a in PATHS.values())


def test_a_second_path_beside_a_structural_one_needs_strong_evidence(tagger, embedder) -> None:
    node = _tag(
        tagger,
        embedder,
        "依托城市大脑推进数据流通。",  # one keyword of 数据要素驱动 only
        S3 + "3.4 数字治理驱动路径",
    )
    assert _names(node.metadata["paths"]) == {"数字治理驱动"}


def test_tags_are_not_embedded_or_shown_to_the_llm(tagger, embedder) -> None:
    node = _tag(tagger, embedder, "建设城市大脑。", S3 + "3.4 数字治理驱动路径")
    for mode in (MetadataMode.EMBED, MetadataMode.LLM):
        content = node.get_content(metadata_mode=mode)
        assert "tag_scores" not in content and "path_governance" not in content
    assert "3.4 数字治理驱动路径" in node.get_content(metadata_mode=MetadataMode.EMBED)


def test_calibration_file_round_trips_and_bad_files_name_themselves(tmp_path) -> None:
    from ingest.tagger import TagCalibration
    from rag.errors import ConfigError

    shipped = TagCalibration.load()
    assert set(shipped.thresholds) == set(DIMENSIONS) | set(PATHS)
    copy = tmp_path / "tagger.json"
    copy.write_text(shipped.to_json(), "utf-8")
    assert TagCalibration.load(copy) == shipped
    copy.write_text('{"lexicon_weight": {}}', "utf-8")
    with pytest.raises(ConfigError, match=r"tagger\.json"):
        TagCalibration.load(copy)


def test_fitted_thresholds_stay_above_the_no_evidence_score() -> None:
    """The calibration never buys recall by tagging passages that carry no evidence."""
    from ingest.tagger import TagCalibration

    shipped = TagCalibration.load()
    kinds = {**dict.fromkeys(DIMENSIONS, "dimension"), **dict.fromkeys(PATHS, "path")}
    for name, bar in shipped.thresholds.items():
        assert bar > shipped.no_evidence(kinds[name]), name


@pytest.mark.parametrize(
    ("text", "section", "path"),
    [
        # a national policy item
        (
            "建立公共数据资源登记制度，推进公共数据授权运营，培育数据交易市场，促进数据流通和交易。",
            "二、重点任务 > （三）培育数据要素市场",
            "数据要素驱动",
        ),
        # a local regulation's article
        (
            "本市推进“一网通办”“一网统管”建设，依托城市运行管理平台提升城市治理能力。",
            "第三章 数字政府 > 第二十条",
            "数字治理驱动",
        ),
    ],
)
def test_tagging_policy_and_regulation_passages(
    tagger, embedder, text: str, section: str, path: str
) -> None:
    """Two kinds of document the taxonomy was not written from are tagged from content."""
    node = _tag(tagger, embedder, text, section)
    assert path in _names(node.metadata["paths"])


def test_trained_classifiers_serve_the_embedder_they_were_trained_for(
    tagger, taxonomy: Taxonomy, embedder
) -> None:
    """The shipped calibration carries a classifier per label for the bundled embedder; an
    embedder without classifiers gets the description-similarity fallback, never a mix of
    another embedder's weights."""
    names = {lb.name for lb in taxonomy.all_labels}
    assert set(tagger.classifiers) == names
    stranger = TaxonomyTagger(taxonomy, embedder)
    stranger.embedder_id = "some-other-model"
    assert stranger.classifiers == {}
    text, section = "推进公共数据授权运营，培育数据交易市场。", "二、重点任务"
    vector = embedder.get_text_embedding(f"{section}\n{text}")
    trained = {s.label.name: s.score for s in tagger.score(text, section, vector)}
    fallback = {s.label.name: s.score for s in stranger.score(text, section, vector)}
    assert trained != fallback
    assert all(0.0 <= v < 1.0 for v in trained.values())  # 1.0 only from a heading


def test_tagger_against_blind_labels_keeps_its_measured_level() -> None:
    """The eval report's tagging table, on the 90 passages labelled blind, each tagged by
    classifiers that never saw it: a change that loses evidence (or tags everything) shows up
    here. Measured 0.74 held out (0.69 for the description-similarity fallback)."""
    from eval.tagging import summary

    result = summary()
    assert result["passages"] >= 80 and result["training_passages"] >= 120
    assert result["macro_f1"] >= 0.70
    assert result["fallback_macro_f1"] >= 0.6
    assert {s["label"] for s in result["labels"]} == set(DIMENSIONS) | set(PATHS)
