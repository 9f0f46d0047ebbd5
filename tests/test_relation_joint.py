"""The joint-scoring mechanisms measured by tools/relation_ablations.py (issue 17).

Hand-set first-stage probabilities on a real PGxCorpus-style sentence: the joint features must
rank a pair among the candidates sharing an end, see a coordinated list, and the structured
decode must keep an end's best partner and drop the others.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pgxlit.extract.relation_model import NONE, SentenceContext, candidate_pairs
from pgxlit.records import Mention

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
ablations = pytest.importorskip("relation_ablations")

CLASSES = [NONE, "influences<", "influences>", "isAssociatedWith"]
# A list of two genes, one drug (PGxCorpus-style: "X and Y polymorphisms influence Z").
TEXT = "CYP2C9 and VKORC1 genotypes influence warfarin dose requirements ."


def mention(sub: str, label: str) -> Mention:
    start = TEXT.index(sub)
    return Mention(start, start + len(sub), label, sub)


@pytest.fixture()
def sentence():
    mentions = [mention("CYP2C9", "GENE"), mention("VKORC1", "GENE"), mention("warfarin", "DRUG")]
    pairs = candidate_pairs(mentions, [("DRUG", "GENE")])
    return SentenceContext(TEXT, mentions), pairs


def probs_for(pairs, related: dict[tuple[int, int], float]) -> np.ndarray:
    out = np.zeros((len(pairs), len(CLASSES)))
    for r, p in enumerate(pairs):
        q = related.get(p, 0.05)
        out[r] = [1 - q, 0.0, q * 0.8, q * 0.2]
    return out


def test_joint_features_rank_margin_and_coordination(sentence) -> None:
    ctx, pairs = sentence
    assert pairs == [(0, 2), (1, 2)]  # both genes paired with the drug, none with each other
    feats = ablations.joint_features(ctx, pairs, probs_for(pairs, {(0, 2): 0.9, (1, 2): 0.4}), CLASSES)
    cyp, vkorc = feats
    # warfarin's two GENE partners compete: CYP2C9 is first, VKORC1 second, by a wide margin.
    assert cyp["b_rank=1"] == 1.0 and vkorc["b_rank=2"] == 1.0
    assert cyp["b_margin=>=0.5"] == 1.0 and vkorc["b_margin=<-0.2"] == 1.0
    # Each gene is alone as a GENE end of its own pairs.
    assert cyp["a_alone"] == 1.0 and vkorc["a_alone"] == 1.0
    # VKORC1 is in a list with CYP2C9, whose pair with warfarin is likely: that is read (and the
    # other way round); the drug end has no list.
    assert vkorc["a_coord_p"] == pytest.approx(0.9) and cyp["a_coord_p"] == pytest.approx(0.4)
    assert "b_coord" not in vkorc and "b_coord" not in cyp
    assert cyp["logp_best"] == pytest.approx(np.log(0.72))
    assert cyp["best=influences>"] == 1.0


def test_structured_decode_keeps_the_best_partner_only(sentence) -> None:
    ctx, pairs = sentence

    class S:  # the two fields structured_decode reads of a train_relations.Sentence
        mentions = ctx.mentions

    S.pairs = pairs
    p = probs_for(pairs, {(0, 2): 0.9, (1, 2): 0.4})
    both = ablations.structured_decode([S], p, CLASSES, "both", 0.0)
    assert both[0].tolist() == p[0].tolist()  # best for warfarin and for CYP2C9
    assert both[1, 0] == 1.0 and both[1, 1:].sum() == 0.0  # VKORC1 is not warfarin's best partner
    either = ablations.structured_decode([S], p, CLASSES, "either", 0.0)
    assert either.tolist() == p.tolist()  # VKORC1's own best partner is warfarin: kept
    wide = ablations.structured_decode([S], p, CLASSES, "both", 0.6)
    assert wide.tolist() == p.tolist()  # within the margin of the best
