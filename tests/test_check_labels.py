"""The issue's must-hold examples, against knowledge built from the recorded FDA labels.

The bundled snapshot (corpora/snapshot) is loaded once per session into a temporary store, and
the latest version of each label of the drugs below is extracted with the real pipeline, so
these tests check the whole chain: label text -> triples -> knowledge -> alert.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pgxlit.check.profile import profile_from_args
from pgxlit.check.service import CheckService

from pgxlit.config import Settings
from pgxlit.store import Store

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "corpora" / "snapshot"
DRUGS = ("clopidogrel", "abacavir", "codeine", "carbamazepine", "siponimod", "warfarin")


@pytest.fixture(scope="session")
def labels_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from pgxlit.extract.pipeline import extractor_name
    from pgxlit.extract.triples import iter_triples
    from pgxlit.ingest.load import Loader

    if not (SNAPSHOT / "manifest.tsv").is_file():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    home = tmp_path_factory.mktemp("check_labels")
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}")
    store = Store(settings.resolved_db_url)
    report = Loader(store, settings).load([SNAPSHOT])
    assert report.files_failed == 0
    latest: dict[str, object] = {}
    for lv in store.label_versions():
        names = " ".join(lv.generic_names).lower()
        if any(d in names for d in DRUGS) and lv.version >= getattr(latest.get(lv.set_id), "version", -1):
            latest[lv.set_id] = lv
    todo = [(f"label:{lv.set_id}:{lv.version}", lv.set_id, lv) for lv in latest.values()]
    extractor = extractor_name()
    for key, sha, triples in iter_triples(todo):
        with store.transaction() as session:
            store.replace_triples(session, key, sha, extractor, triples)
    store.close()
    return settings


@pytest.fixture(scope="session")
def service(labels_settings: Settings) -> CheckService:
    return CheckService(labels_settings)


def _check(service: CheckService, drug: str, *, diplotypes=(), phenotypes=(), hla=()) -> dict:
    profile = profile_from_args(list(diplotypes), list(phenotypes), list(hla), service.table)
    assert profile.messages == ()
    return service.run(drug, profile).to_json()


def _only_alert(result: dict, gene: str) -> dict:
    alerts = [a for a in result["alerts"] if a["gene"] == gene]
    assert len(alerts) == 1, result
    return alerts[0]


def _recommendation_is_from_the_evidence(alert: dict) -> None:
    words = alert["recommendation"].rstrip(".").split()[:6]
    sentences = " ".join(" ".join((c.get("sentence") or "").split()) for c in alert["citations"])
    assert " ".join(words).lower() in sentences.lower().replace("‑", "-"), alert["recommendation"]


def test_clopidogrel_cyp2c19_poor_metabolizer_consider_an_alternative(service: CheckService) -> None:
    alert = _only_alert(_check(service, "clopidogrel", diplotypes=["CYP2C19 *2/*2"]), "CYP2C19")
    assert alert["phenotype"] == "Poor Metabolizer"
    assert alert["action"] == "alternative" and alert["severity"] in ("critical", "warning")
    assert any(c["source"] == "fda_label" and c["section"] == "boxed_warning" for c in alert["citations"])
    _recommendation_is_from_the_evidence(alert)


def test_abacavir_hla_b5701_positive_do_not_use(service: CheckService) -> None:
    alert = _only_alert(_check(service, "abacavir", hla=["HLA-B*57:01 positive"]), "HLA-B")
    assert alert["action"] == "avoid" and alert["severity"] == "critical"
    assert {c["section"] for c in alert["citations"]} & {"boxed_warning", "contraindications"}
    _recommendation_is_from_the_evidence(alert)


def test_codeine_cyp2d6_ultrarapid_avoid(service: CheckService) -> None:
    alert = _only_alert(_check(service, "codeine", phenotypes=["CYP2D6 ultrarapid metabolizer"]), "CYP2D6")
    assert alert["action"] == "avoid" and alert["severity"] == "critical"
    _recommendation_is_from_the_evidence(alert)


def test_codeine_by_diplotype_with_a_duplication(service: CheckService) -> None:
    alert = _only_alert(_check(service, "codeine", diplotypes=["CYP2D6 *1/*2x2"]), "CYP2D6")
    assert alert["phenotype"] == "Ultrarapid Metabolizer" and alert["action"] == "avoid"


def test_carbamazepine_hla_b1502_positive_avoid(service: CheckService) -> None:
    alert = _only_alert(_check(service, "carbamazepine", hla=["HLA-B*15:02 positive"]), "HLA-B")
    assert alert["action"] == "avoid" and alert["severity"] == "critical"
    _recommendation_is_from_the_evidence(alert)


def test_siponimod_cyp2c9_3_3_contraindicated(service: CheckService) -> None:
    alert = _only_alert(_check(service, "siponimod", diplotypes=["CYP2C9 *3/*3"]), "CYP2C9")
    assert alert["action"] == "avoid" and alert["severity"] == "critical"
    assert any(c["section"] == "contraindications" for c in alert["citations"])
    assert "contraindicated" in alert["recommendation"].lower()


def test_siponimod_cyp2c9_1_3_dose(service: CheckService) -> None:
    alert = _only_alert(_check(service, "siponimod", diplotypes=["CYP2C9 *1/*3"]), "CYP2C9")
    assert alert["action"] == "dose change" and alert["severity"] == "warning"


def test_warfarin_cyp2c9_and_vkorc1_dosing(service: CheckService) -> None:
    result = _check(service, "warfarin", diplotypes=["CYP2C9 *1/*3", "rs9923231 CT"])
    for gene in ("CYP2C9", "VKORC1"):
        alert = _only_alert(result, gene)
        assert alert["action"] == "dose change" and alert["severity"] == "warning", alert
        assert any(c["source"] == "fda_label" for c in alert["citations"])


@pytest.mark.parametrize(("drug", "kwargs"), [
    ("clopidogrel", {"diplotypes": ["CYP2C19 *1/*1"]}),
    ("abacavir", {"hla": ["HLA-B*57:01 negative"]}),
    ("codeine", {"diplotypes": ["CYP2D6 *1/*2"]}),
    ("carbamazepine", {"hla": ["HLA-B*15:02 negative"]}),
    ("siponimod", {"diplotypes": ["CYP2C9 *1/*1"]}),
    ("warfarin", {"diplotypes": ["CYP2C9 *1/*1", "rs9923231 CC"]}),
])
def test_normal_function_genotypes_raise_no_critical_alert(service: CheckService, drug: str, kwargs: dict) -> None:
    result = _check(service, drug, **kwargs)
    assert not [a for a in result["alerts"] if a["severity"] == "critical"], result["alerts"]
    assert result["genes_considered"]


def test_cds_hooks_card_from_the_recorded_labels(labels_settings: Settings) -> None:
    from pgxlit.web.server import create_app

    body = json.loads((REPO / "tests" / "fixtures" / "check" / "cds_order_select_clopidogrel.json").read_text())
    with TestClient(create_app(labels_settings)) as client:
        cards = client.post("/cds-services/pgxlit-order-select", json=body).json()["cards"]
    alerts = [c for c in cards if c["source"]["label"] != "pgxlit (genotype reading)"]
    assert len(alerts) == 1 and alerts[0]["indicator"] == "critical"
    assert "Boxed Warning" in alerts[0]["detail"] and len(alerts[0]["summary"]) <= 140
    assert any("XYZ9 result '*1/*2' could not be read" in c["summary"] for c in cards)
