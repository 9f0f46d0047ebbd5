"""FHIR Genomics Observations as a patient profile (CDS Hooks prefetch, `check --profile`).

Each Observation is parsed with `fhir.resources` (R4B, then R5), so a resource of the wrong
shape (`component: "x"`, `valueString: 5`) is reported as a result that could not be read --
never a crash and never silence. Read: a genotype (LOINC 84413-4, or the haplotype 84414-2)
with the gene studied (48018-6) as diplotype; a phenotype (53040-2, 79716-7, 79714-2); an HLA
allele with its presence (69548-6 or the interpretation POS/NEG) or written in the value.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from pgxlit.check.genotype import GeneCall, GenotypeError, GenotypeTable, canonical_phenotype, normalise_hla

LOINC = "http://loinc.org"
GENE_STUDIED = "48018-6"
GENOTYPE_DISPLAY = "84413-4"
HAPLOTYPE_NAME = "84414-2"
PHENOTYPE_CODES = {"53040-2", "79716-7", "79714-2"}  # effect on drug metabolism, therapeutic implication
VARIANT_ASSESSMENT = "69548-6"
PRESENT_CODES = {"LA9633-4", "POS", "DET", "A"}
ABSENT_CODES = {"LA9634-2", "NEG", "ND", "N"}
_UNUSED_STATUS = {"entered-in-error", "cancelled", "preliminary", "registered"}


def is_fhir(data: Any) -> bool:
    return isinstance(data, dict) and data.get("resourceType") in ("Bundle", "Observation")


def observations(data: Any) -> list[Any]:
    """The Observations of a Bundle (or the one Observation), and every entry that is not a FHIR
    resource at all (kept so it is named, not dropped); other resource types are skipped."""
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        entries = data.get("entry")
        if not isinstance(entries, list):
            return []
        found = []
        for e in entries:
            resource = e.get("resource") if isinstance(e, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "Observation":
                found.append(resource)
            elif not (isinstance(resource, dict) and _is_resource_type(resource.get("resourceType"))):
                found.append(e)  # read as an Observation below, so it is reported as not readable
        return found
    if isinstance(data, dict) and data.get("resourceType") == "Observation":
        return [data]
    return []


def _is_resource_type(name: Any) -> bool:
    from fhir.resources import get_fhir_model_class

    if not isinstance(name, str):
        return False
    try:
        get_fhir_model_class(name)
    except (ValueError, KeyError, AttributeError):
        return False
    return True


def parse_observation(raw: dict[str, Any]) -> Any:
    """A validated fhir.resources Observation (R4B, else R5); GenotypeError says what is wrong."""
    from fhir.resources.observation import Observation as ObservationR5
    from fhir.resources.R4B.observation import Observation as ObservationR4B

    if not isinstance(raw, dict) or raw.get("resourceType") != "Observation":
        shown = raw.get("resource", raw) if isinstance(raw, dict) else raw
        raise GenotypeError(f"a Bundle entry that is not a FHIR Observation ({json.dumps(shown)[:80]})")
    where = f"Observation/{raw.get('id', '?')}" if isinstance(raw.get("id"), str) else "Observation"
    first: ValidationError | None = None
    for model in (ObservationR4B, ObservationR5):
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            first = first or exc
        except (TypeError, ValueError, RecursionError) as exc:  # odd shapes the models do not expect
            raise GenotypeError(f"{where}: not a valid FHIR Observation ({exc})") from exc
    err = first.errors()[0] if first and first.errors() else {"loc": (), "msg": "invalid"}
    loc = ".".join(str(p) for p in err.get("loc", ())) or "resource"
    raise GenotypeError(f"{where}: not a valid FHIR Observation ({loc}: {err.get('msg')})")


def _codes(concept: Any) -> set[str]:
    return {c.code for c in (getattr(concept, "coding", None) or []) if c is not None and c.code}


def _text(concept: Any) -> str | None:
    if concept is None:
        return None
    if getattr(concept, "text", None) and concept.text.strip():
        return concept.text.strip()
    for c in getattr(concept, "coding", None) or []:
        if c is not None and c.display and c.display.strip():
            return c.display.strip()
    return None


def _presence(obs: Any) -> bool | None:
    codes = {code for i in obs.interpretation or [] for code in _codes(i)}
    for comp in obs.component or []:
        if VARIANT_ASSESSMENT in _codes(comp.code):
            codes |= _codes(comp.valueCodeableConcept)
            text = (_text(comp.valueCodeableConcept) or "").lower()
            codes.add({"present": "POS", "absent": "NEG", "detected": "POS", "not detected": "NEG"}.get(text, ""))
    if codes & PRESENT_CODES:
        return True
    if codes & ABSENT_CODES:
        return False
    return None


def hint(raw: Any) -> tuple[str | None, str]:
    """The gene and value an Observation states, read without trusting its shape (for messages)."""
    def text(c: Any) -> str | None:
        if not isinstance(c, dict):
            return None
        if isinstance(c.get("text"), str):
            return c["text"]
        coding = c.get("coding")
        return next((x["display"] for x in coding if isinstance(x, dict) and isinstance(x.get("display"), str)), None) \
            if isinstance(coding, list) else None

    if not isinstance(raw, dict) or raw.get("resourceType") != "Observation":
        return None, json.dumps(raw)[:80]
    value = raw.get("valueString") if isinstance(raw.get("valueString"), str) else text(raw.get("valueCodeableConcept"))
    gene = None
    components = raw.get("component") if isinstance(raw.get("component"), list) else []
    for comp in components:
        if not isinstance(comp, dict):
            continue
        code = comp.get("code")
        codes = {x.get("code") for x in (code.get("coding") or []) if isinstance(x, dict)} \
            if isinstance(code, dict) and isinstance(code.get("coding"), list) else set()
        ctext = comp.get("valueString") if isinstance(comp.get("valueString"), str) else text(comp.get("valueCodeableConcept"))
        if GENE_STUDIED in codes:
            gene = ctext
        elif value is None and ctext:
            value = ctext
    if value and gene and value.upper().startswith(gene.upper()):
        value = value[len(gene):].strip()
    if value and gene is None:
        m = re.match(r"^\s*(HLA-[A-Z0-9]+|[A-Z][A-Z0-9-]+)(?=[\s*])\s*(.*)$", value)
        if m:
            gene, value = m.group(1), m.group(2)
    return gene, value if value is not None else f"Observation/{raw.get('id', '?')}"


def calls_of_observation(raw: dict[str, Any], table: GenotypeTable) -> tuple[GeneCall, ...]:
    """One genotype/phenotype/HLA Observation -> its call(s); GenotypeError says why it cannot be read."""
    from pgxlit.check.profile import diplotype_calls, hla_call, phenotype_call

    obs = parse_observation(raw)
    where = f"Observation/{obs.id or '?'}"
    if obs.status in _UNUSED_STATUS:
        raise GenotypeError(f"{where}: status {obs.status}, not used")
    gene: str | None = None
    values: list[tuple[str, str]] = []  # (kind, text)
    main_codes = _codes(obs.code)
    value = obs.valueString.strip() if getattr(obs, "valueString", None) else _text(getattr(obs, "valueCodeableConcept", None))
    if value:
        values.append(("phenotype" if main_codes & PHENOTYPE_CODES else "genotype", value))
    for comp in obs.component or []:
        codes = _codes(comp.code)
        text = _text(comp.valueCodeableConcept) or (comp.valueString or "").strip()
        if GENE_STUDIED in codes:
            gene = next((c.display for c in (getattr(comp.valueCodeableConcept, "coding", None) or []) if c.display),
                        None) or text
        elif codes & {GENOTYPE_DISPLAY, HAPLOTYPE_NAME} and text:
            values.append(("genotype", text))
        elif codes & PHENOTYPE_CODES and text:
            values.append(("phenotype", text))
    if not values:
        raise GenotypeError(f"{where}: no genotype or phenotype value")
    errors = []
    for kind, text in values:
        entry = f"{where} ({text})"
        try:
            if "HLA" in text.upper() or (gene or "").upper().startswith("HLA"):
                allele = text.split(" ")[0]
                hla = normalise_hla(allele if allele.upper().startswith("HLA") or not gene else f"{gene}{allele}")
                if hla is None:
                    raise GenotypeError(f"{entry}: {text!r} is not an HLA allele with a status")
                rest = text[len(allele):].strip().lower()
                present = _presence(obs)
                if rest:
                    if re.fullmatch(r"negative|absent|not detected", rest):
                        present = False
                    elif re.fullmatch(r"positive|present|detected", rest):
                        present = True
                    else:
                        raise GenotypeError(f"{entry}: {rest!r} is not an HLA result status (positive or negative)")
                if present is None:
                    raise GenotypeError(f"{entry}: HLA result without positive/negative")
                return (hla_call(hla, present, entry, table),)
            said = text[len(gene):].strip() if gene and text.upper().startswith(gene.upper()) else text
            if kind == "phenotype" or canonical_phenotype(said):
                if not gene and " " in said:
                    gene, said = said.split(" ", 1)
                if not gene:
                    raise GenotypeError(f"{entry}: phenotype without a gene (component {GENE_STUDIED})")
                return (phenotype_call(gene, said, entry, table),)
            if gene is None:
                if said.lower().startswith("rs"):
                    rsid, _, genotype = said.partition(" ")
                    return (table.genotype(rsid, genotype, entry),)
                m = re.match(r"^\s*([A-Za-z][A-Za-z0-9-]*?)\s*((?:\*|\s).*)$", said)
                if not m:
                    raise GenotypeError(f"{entry}: genotype without a gene (component {GENE_STUDIED})")
                gene, said = m.group(1), m.group(2).strip()
            return diplotype_calls(gene, said, entry, table)
        except GenotypeError as exc:
            errors.append(str(exc))
    raise GenotypeError("; ".join(errors))


def profile_of_resources(data: Any, table: GenotypeTable) -> Any:
    """A Bundle (or one Observation) -> Profile; each unreadable Observation is named."""
    from pgxlit.check.profile import Entry, collect

    def entry(raw: Any) -> Entry:
        gene, value = hint(raw)
        return Entry(gene=gene, value=value, read=lambda: calls_of_observation(raw, table))

    return collect(entry(raw) for raw in observations(data))
