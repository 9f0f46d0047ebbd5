"""CDS Hooks 2.0 service: discovery, real-shaped FHIR requests, cards, and 400s for bad requests."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pgxlit.check.cds_hooks import SERVICES, alternatives_named, call_of_observation, cards_for
from pgxlit.check.engine import CheckResult, DrugRef
from pgxlit.check.genotype import GenotypeError, load_table
from test_check_fixtures import FIXTURES, fill_store

from pgxlit.config import Settings
from pgxlit.web.server import create_app
from pgxlit.store import Store

REQUEST = json.loads((FIXTURES / "cds_order_select_clopidogrel.json").read_text(encoding="utf-8"))
TABLE = load_table()


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    store = Store(f"sqlite:///{tmp_path / 'cds.sqlite'}")
    fill_store(store)
    store.close()
    settings = Settings(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'cds.sqlite'}")
    with TestClient(create_app(settings)) as c:
        yield c


def test_health(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"


def test_discovery_lists_both_order_hooks_with_a_genotype_prefetch(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert {s["hook"] for s in services} == {"order-select", "order-sign"}
    for s in services:
        assert {"hook", "id", "description", "prefetch"} <= set(s)
        assert "Observation?patient={{context.patientId}}" in s["prefetch"]["genotypes"]


def _alerts(cards: list[dict]) -> list[dict]:
    """The evidence cards, without the info cards about results that could not be read."""
    return [c for c in cards if c["source"]["label"] != "pgxlit (genotype reading)"]


def test_order_select_answers_a_card_for_the_selected_order_only(client: TestClient) -> None:
    response = client.post("/cds-services/pgxlit-order-select", json=REQUEST)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert len(_alerts(cards)) == 1  # codeine is in draftOrders but not selected
    # the request's Observation for an unknown gene is named in an info card, not dropped
    [unread] = [c for c in cards if c not in _alerts(cards)]
    assert unread["indicator"] == "info" and "XYZ9 result '*1/*2' could not be read" in unread["summary"]
    card = _alerts(cards)[0]
    assert card["indicator"] == "critical"
    assert len(card["summary"]) <= 140 and card["summary"].startswith("Clopidogrel")
    assert "Consider use of another platelet P2Y 12 inhibitor" in card["detail"]
    assert "dailymed.nlm.nih.gov" in card["detail"] and card["links"][0]["type"] == "absolute"
    assert card["source"]["label"]
    uuid.UUID(card["uuid"])


def test_order_sign_checks_every_draft_order(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    body["hook"] = "order-sign"
    del body["context"]["selections"]
    cards = client.post("/cds-services/pgxlit-order-sign", json=body).json()["cards"]
    summaries = [c["summary"] for c in cards]
    assert any(s.startswith("Clopidogrel") for s in summaries)
    assert any(s.startswith("Codeine") and "avoid" in s for s in summaries)
    codeine = next(c for c in cards if c["summary"].startswith("Codeine"))
    assert codeine["suggestions"][0]["actions"][0] == {
        "type": "delete", "description": "Remove the codeine order",
        "resourceId": ["MedicationRequest/smart-MedicationRequest-104"]}


def test_a_negative_hla_result_gives_no_card(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    entry = body["context"]["draftOrders"]["entry"][0]["resource"]
    entry["medicationCodeableConcept"] = {"text": "abacavir 300 MG Oral Tablet"}
    assert _alerts(client.post("/cds-services/pgxlit-order-select", json=body).json()["cards"]) == []
    hla = next(e["resource"] for e in body["prefetch"]["genotypes"]["entry"] if e["resource"]["id"] == "hla-b-5701")
    hla["interpretation"][0]["coding"][0]["code"] = "POS"
    cards = client.post("/cds-services/pgxlit-order-select", json=body).json()["cards"]
    assert cards[0]["indicator"] == "critical" and "HLA-B*57:01" in cards[0]["summary"]


def test_an_empty_genotype_bundle_gives_no_cards(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    body["prefetch"]["genotypes"] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    response = client.post("/cds-services/pgxlit-order-select", json=body)
    assert response.status_code == 200 and response.json() == {"cards": []}


def _without(path: list[str]) -> dict:
    body = copy.deepcopy(REQUEST)
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


@pytest.mark.parametrize(("body", "reason"), [
    (_without(["hookInstance"]), "hookInstance is required"),
    ({**REQUEST, "hookInstance": "not-a-uuid"}, "UUID"),
    ({**REQUEST, "hook": "order-sign"}, "answers hook 'order-select'"),
    (_without(["context"]), "context is required"),
    (_without(["context", "patientId"]), "context.patientId is required"),
    (_without(["context", "selections"]), "context.selections is required"),
    ({**REQUEST, "context": {**REQUEST["context"], "draftOrders": {"resourceType": "Patient"}}}, "FHIR Bundle"),
    (_without(["prefetch"]), "prefetch.genotypes is required"),
    ({**REQUEST, "prefetch": {"other": {}}}, "prefetch.genotypes is required"),
    ({**REQUEST, "fhirServer": 42}, "fhirServer"),
    ([1, 2], "JSON object"),
])
def test_bad_requests_get_400_with_a_reason(client: TestClient, body: object, reason: str) -> None:
    response = client.post("/cds-services/pgxlit-order-select", json=body)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_a_body_that_is_not_json_gets_400(client: TestClient) -> None:
    response = client.post("/cds-services/pgxlit-order-select", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not JSON" in response.json()["error"]


def test_an_unknown_service_is_404(client: TestClient) -> None:
    assert client.post("/cds-services/nope", json=REQUEST).status_code == 404


def test_observations_of_several_shapes_are_read() -> None:
    genotype = {"resourceType": "Observation", "id": "g", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "84413-4"}]},
                "valueCodeableConcept": {"text": "CYP2C9 *1/*3"}}
    assert call_of_observation(genotype, TABLE).phenotype == "Intermediate Metabolizer"
    string_value = {"resourceType": "Observation", "id": "s", "status": "final", "code": {"text": "genotype"},
                    "valueString": "rs9923231 CT"}
    assert call_of_observation(string_value, TABLE).phenotype == "-1639 AG"
    hla_component = {"resourceType": "Observation", "id": "h", "status": "final",
                     "code": {"coding": [{"system": "http://loinc.org", "code": "84413-4"}]},
                     "valueCodeableConcept": {"text": "HLA-B*15:02"},
                     "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "69548-6"}]},
                                    "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA9633-4",
                                                                         "display": "Present"}]}}]}
    assert call_of_observation(hla_component, TABLE).phenotype == "HLA-B*15:02 positive"
    with pytest.raises(GenotypeError, match="Observation/x"):
        call_of_observation({"resourceType": "Observation", "id": "x", "status": "final", "code": {}}, TABLE)
    with pytest.raises(GenotypeError, match="entered-in-error"):
        call_of_observation({**genotype, "status": "entered-in-error"}, TABLE)


def test_alternatives_are_suggested_only_when_the_evidence_offers_them() -> None:
    offered = alternatives_named(
        ["In CYP2C19 poor metabolizers, consider an alternative antiplatelet agent such as prasugrel or ticagrelor."],
        DrugRef("clopidogrel"))
    assert offered == ["prasugrel", "ticagrelor"]
    # phenytoin's label: carbamazepine is what phenytoin would replace, not an alternative to it
    assert alternatives_named(["Consider avoiding DILANTIN as an alternative to carbamazepine in patients who are "
                               "positive for HLA-B*1502 or in CYP2C9*3 carriers."], DrugRef("phenytoin")) == []
    assert alternatives_named(["Consider use of another platelet P2Y 12 inhibitor in patients identified as CYP2C19 "
                               "poor metabolizers."], DrugRef("clopidogrel")) == []


def test_a_suggested_alternative_must_itself_be_safe_for_the_patient() -> None:
    from pgxlit.check.cds_hooks import Order

    alert = {"action": "alternative", "severity": "critical", "summary": "Clopidogrel: consider an alternative",
             "detail": "d", "recommendation": "Consider an alternative antiplatelet agent such as prasugrel or ticagrelor.",
             "citations": [{"source": "pubmed", "pmid": "1", "url": "https://pubmed.ncbi.nlm.nih.gov/1/", "sentence": None}]}
    result = CheckResult(drug="clopidogrel", alerts=[alert], explanation=[], genes_considered=["CYP2C19"])
    order = Order("MedicationRequest/1", "clopidogrel", DrugRef("clopidogrel"))
    all_safe = cards_for(order, result, "p1")[0]["suggestions"]
    assert [s["label"].split(" with ")[1].split(" ")[0] for s in all_safe] == ["prasugrel", "ticagrelor"]
    create = all_safe[0]["actions"][1]
    assert create["type"] == "create" and create["resource"]["resourceType"] == "MedicationRequest"
    only_one = cards_for(order, result, "p1", is_safe=lambda name: name != "prasugrel")[0]["suggestions"]
    assert len(only_one) == 1 and "ticagrelor" in only_one[0]["label"]


def test_services_are_declared_for_the_hooks_they_answer() -> None:
    assert {v["hook"] for v in SERVICES.values()} == {"order-select", "order-sign"}


def test_orders_are_read_from_rxnorm_codes_and_r5_medication_concepts(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    body["hook"] = "order-sign"
    del body["context"]["selections"]
    entries = body["context"]["draftOrders"]["entry"]
    # R4 coding with the RxNorm ingredient code of clopidogrel and no usable text
    entries[0]["resource"]["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "32968"}]}
    # R5: medication is a CodeableReference
    del entries[1]["resource"]["medicationCodeableConcept"]
    entries[1]["resource"]["medication"] = {"concept": {"text": "Codeine Sulfate"}}
    cards = _alerts(client.post("/cds-services/pgxlit-order-sign", json=body).json()["cards"])
    assert sorted(c["summary"].split(":")[0] for c in cards) == ["Clopidogrel", "Codeine"]


def test_an_order_without_a_medication_concept_is_a_bad_request(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    del body["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"]
    response = client.post("/cds-services/pgxlit-order-select", json=body)
    assert response.status_code == 400 and "medicationCodeableConcept" in response.json()["error"]


# ---- issue 16 item 2: a result that cannot be read is never an empty card list -----------------
def _with_cyp2c19(text: str) -> dict:
    body = copy.deepcopy(REQUEST)
    entries = body["prefetch"]["genotypes"]["entry"]
    obs = next(e["resource"] for e in entries if e["resource"]["id"] == "cyp2c19-genotype")
    obs["valueCodeableConcept"] = {"text": text}
    body["prefetch"]["genotypes"]["entry"] = [e for e in entries if e["resource"]["id"] != "bad-gene"]
    return body


@pytest.mark.parametrize("text", ["*2/", "*2/*2/*3", "CYP2C19 *2/"])
def test_an_unreadable_cyp2c19_result_gives_an_info_card_naming_it(client: TestClient, text: str) -> None:
    response = client.post("/cds-services/pgxlit-order-select", json=_with_cyp2c19(text))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards, "an unreadable genotype must never give an empty card list"
    [card] = [c for c in cards if c["indicator"] == "info" and "could not be read" in c["summary"]]
    value = text.replace("CYP2C19 ", "")
    assert card["summary"] == f"CYP2C19 result {value!r} could not be read"
    assert f"CYP2C19 result {value!r} could not be read; no PGx check was done for this gene" in card["detail"]
    assert not _alerts(cards)  # nothing was checked for CYP2C19, so no evidence card either


def test_an_unreadable_hla_result_gives_an_info_card_naming_it(client: TestClient) -> None:
    body = copy.deepcopy(REQUEST)
    body["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"] = {"text": "abacavir"}
    hla = next(e["resource"] for e in body["prefetch"]["genotypes"]["entry"] if e["resource"]["id"] == "hla-b-5701")
    hla["valueCodeableConcept"] = {"text": "HLA-B*57:01 maybe"}
    del hla["interpretation"]
    cards = client.post("/cds-services/pgxlit-order-select", json=body).json()["cards"]
    assert any("HLA-B" in c["summary"] and "*57:01 maybe" in c["summary"] and "could not be read" in c["summary"]
               for c in cards)


def test_an_indeterminate_result_gives_an_info_card(client: TestClient) -> None:
    cards = client.post("/cds-services/pgxlit-order-select", json=_with_cyp2c19("*1/*12")).json()["cards"]
    [card] = [c for c in cards if "Indeterminate" in c["summary"]]
    assert card["indicator"] == "info" and "*12" in card["detail"] and "no PGx check was done" in card["summary"]


def test_wrong_fhir_shapes_in_observations_give_a_card_not_a_500(client: TestClient) -> None:
    for change in ({"component": "x"}, {"valueString": 5}, {"resourceType": "x"}, {"status": 5}):
        body = _with_cyp2c19("*2/*2")
        obs = body["prefetch"]["genotypes"]["entry"][0]["resource"]
        obs.update(change)
        if "valueString" in change:
            del obs["valueCodeableConcept"]
        response = client.post("/cds-services/pgxlit-order-select", json=body)
        assert response.status_code == 200, (change, response.text)
        summaries = [c["summary"] for c in response.json()["cards"]]
        assert any("could not be read" in s for s in summaries), (change, summaries)


@pytest.mark.parametrize(("change", "reason"), [
    ({"medication": "str"}, "medication must be a CodeableReference"),
    ({"medicationCodeableConcept": "clopidogrel"}, "medicationCodeableConcept must be a CodeableConcept"),
    ({"medicationCodeableConcept": {"coding": "x"}}, "coding must be a list"),
])
def test_wrong_fhir_shapes_in_orders_get_400_with_a_reason(client: TestClient, change: dict, reason: str) -> None:
    body = copy.deepcopy(REQUEST)
    body["context"]["draftOrders"]["entry"][0]["resource"].update(change)
    response = client.post("/cds-services/pgxlit-order-select", json=body)
    assert response.status_code == 400 and reason in response.json()["error"]


def test_other_wrong_shapes_get_400_not_500(client: TestClient) -> None:
    for mutate in (lambda b: b["context"]["draftOrders"].update(entry="x"),
                   lambda b: b["prefetch"].update(genotypes="x"),
                   lambda b: b["prefetch"]["genotypes"].update(entry={"a": 1}),
                   lambda b: b["prefetch"]["genotypes"].update(resourceType="x")):
        body = copy.deepcopy(REQUEST)
        mutate(body)
        assert client.post("/cds-services/pgxlit-order-select", json=body).status_code == 400
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    response = client.post("/cds-services/pgxlit-order-select", content=deep, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
