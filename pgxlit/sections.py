"""The one vocabulary of FDA label sections: codes, titles, source strength and each consumer's weights.

Why: seven stages ranked or filtered label sections with their own tables (search priors, answer
weights, digest tiers, alert severities, the crawler's PGx fields, the extractor's default effect).
They now all read this table, so a section means the same thing everywhere and a new section is
added once. Where consumers weigh the same section differently, each keeps its own number under a
name that says what it is for (`search_prior`, `answer_weight`, `check_rank`, `digest_tier`):
those numbers were tuned against their own figures and are not interchangeable.

`Strength` is the source-strength order of the knowledge layer (issue 14): boxed warning >
contraindication > dosage > pharmacogenomics/clinical pharmacology > warnings > other label text >
literature. Codes are openFDA field names (``boxed_warning``); each carries its LOINC section code
(the SPL XML name), kept consistent with ``ingest/spl_sections.tsv`` by a test. Core module: it
imports no stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cache

TABLE_SUFFIX = "_table"  # openFDA puts the HTML tables of section X in field X_table
PUBMED = "pubmed"
FDA_LABEL = "fda_label"


class Strength(IntEnum):
    """How strongly a source states a claim; higher is stronger. Names are the JSON values."""

    LITERATURE = 0
    LABEL = 1  # other label text
    WARNINGS = 2
    PHARMACOGENOMICS = 3  # the pharmacogenomics and clinical pharmacology sections
    DOSAGE = 4
    CONTRAINDICATION = 5
    BOXED_WARNING = 6

    @property
    def label(self) -> str:
        return self.name.lower()


# Digest tiers (0 first .. 5 other): what a label-watch team reads first. The digest ranks warnings
# above pharmacogenomics/clinical pharmacology, the reverse of `Strength`; both orders are kept.
DIGEST_OTHER = 5


@dataclass(frozen=True, slots=True)
class LabelSection:
    """One label section and what each consumer makes of it (None: the consumer's default)."""

    code: str  # openFDA field name
    loinc: str  # LOINC section code (SPL XML)
    title: str  # display title
    strength: Strength = Strength.LABEL
    digest_tier: int = DIGEST_OTHER  # digest: importance of a change here (0 = boxed warning)
    check_rank: int = 0  # check: which section's sentence leads among equal readings
    answer_weight: float | None = None  # qa: added to a retrieved sentence's score
    search_prior: float | None = None  # index: multiplies a label passage's fused score
    default_effect: str | None = None  # extract: effect when the sentence has no effect cue
    alert: str | None = None  # check: "critical" or "warning" sections can raise that severity
    actionable: bool = False  # qa: sections searched for what a prescriber must do
    pgx_query: bool = False  # crawl: sections searched for PGx terms (`crawl labels --pgx`)
    patient_text: bool = False  # plain text a patient leaflet repeats from the prescriber sections
    heading_words: tuple[str, ...] = ()  # digest: words in a heading that place an unknown section


# Order matters for `PGX_QUERY_FIELDS` (the crawl's query string) and is otherwise most important first.
SECTIONS: tuple[LabelSection, ...] = (
    LabelSection("boxed_warning", "34066-1", "Boxed Warning", Strength.BOXED_WARNING, 0, 6, 1.0, 1.3,
                 "toxicity", "critical", True, True, heading_words=("boxed warning",)),
    LabelSection("contraindications", "34070-3", "Contraindications", Strength.CONTRAINDICATION, 1, 5, 0.9, 1.25,
                 "toxicity", "critical", True, True, heading_words=("contraindication",)),
    LabelSection("dosage_and_administration", "34068-7", "Dosage and Administration", Strength.DOSAGE, 2, 4, 0.7,
                 1.2, "dosage", "warning", True, True, heading_words=("dosage and administration",)),
    LabelSection("warnings_and_cautions", "43685-7", "Warnings and Precautions", Strength.WARNINGS, 3, 3, 0.6, 1.15,
                 "toxicity", "warning", True, True, heading_words=("warnings and precautions",)),
    LabelSection("warnings", "34071-1", "Warnings", Strength.WARNINGS, 3, 3, 0.6, 1.15, "toxicity", "warning", True,
                 heading_words=("warnings",)),
    LabelSection("precautions", "42232-9", "Precautions", Strength.WARNINGS, 3, 2, 0.5, 1.1, None, "warning", True,
                 heading_words=("precautions",)),
    LabelSection("general_precautions", "34072-9", "General Precautions", Strength.WARNINGS, 3),
    LabelSection("pharmacogenomics", "66106-6", "Pharmacogenomics", Strength.PHARMACOGENOMICS, 4, 1, 0.6, 1.2,
                 heading_words=("pharmacogenomic",)),
    LabelSection("clinical_pharmacology", "34090-1", "Clinical Pharmacology", Strength.PHARMACOGENOMICS, 4, 1, 0.4,
                 1.0, pgx_query=True, heading_words=("clinical pharmacology",)),
    LabelSection("pharmacokinetics", "43682-4", "Pharmacokinetics", Strength.PHARMACOGENOMICS, 4,
                 default_effect="metabolism", heading_words=("pharmacokinetic",)),
    LabelSection("pharmacodynamics", "43681-6", "Pharmacodynamics", Strength.PHARMACOGENOMICS, 4),
    LabelSection("mechanism_of_action", "43679-0", "Mechanism of Action", Strength.PHARMACOGENOMICS, 4),
    LabelSection("use_in_specific_populations", "43684-0", "Use in Specific Populations", check_rank=2,
                 answer_weight=0.4, search_prior=1.05, pgx_query=True),
    LabelSection("indications_and_usage", "34067-9", "Indications and Usage", answer_weight=0.3),
    LabelSection("adverse_reactions", "34084-4", "Adverse Reactions", search_prior=0.9, default_effect="toxicity"),
    LabelSection("drug_interactions", "34073-7", "Drug Interactions", search_prior=0.95),
    LabelSection("laboratory_tests", "34075-2", "Laboratory Tests"),
    LabelSection("clinical_studies", "34092-7", "Clinical Studies"),
    LabelSection("spl_medguide", "42231-1", "Medication Guide", patient_text=True),
    LabelSection("spl_patient_package_insert", "42230-3", "Patient Information", patient_text=True),
    LabelSection("information_for_patients", "34076-0", "Information for Patients", patient_text=True),
)

# ---- each consumer's view (derived; do not edit these, edit SECTIONS) ---------------------------
BY_CODE: dict[str, LabelSection] = {s.code: s for s in SECTIONS}
BY_LOINC: dict[str, LabelSection] = {s.loinc: s for s in SECTIONS}
SEARCH_PRIOR: dict[str, float] = {s.code: s.search_prior for s in SECTIONS if s.search_prior is not None}
SEARCH_PRIOR_DEFAULT = 1.0
PUBMED_SEARCH_PRIOR = 0.95  # an abstract's prior: below the label sections a prescriber acts on
ANSWER_WEIGHT: dict[str, float] = {s.code: s.answer_weight for s in SECTIONS if s.answer_weight is not None}
ANSWER_WEIGHT_DEFAULT = 0.2
CHECK_RANK: dict[str, int] = {s.code: s.check_rank for s in SECTIONS if s.check_rank}
DEFAULT_EFFECT: dict[str, str] = {s.code: s.default_effect for s in SECTIONS if s.default_effect}
CRITICAL_SECTIONS: frozenset[str] = frozenset(s.code for s in SECTIONS if s.alert == "critical")
WARNING_SECTIONS: frozenset[str] = frozenset(s.code for s in SECTIONS if s.alert in ("critical", "warning"))
ACTIONABLE_SECTIONS: tuple[str, ...] = tuple(s.code for s in SECTIONS if s.actionable)
PGX_QUERY_FIELDS: tuple[str, ...] = tuple(s.code for s in SECTIONS if s.pgx_query)
PATIENT_SECTIONS: frozenset[str] = frozenset(s.code for s in SECTIONS if s.patient_text)
PGX_LOINC = BY_CODE["pharmacogenomics"].loinc


def base_code(code: str | None) -> str:
    """``X_table`` (openFDA's tables of section X) is section X."""
    return (code or "").removesuffix(TABLE_SUFFIX)


def section(code: str | None) -> LabelSection | None:
    """The vocabulary entry of an openFDA field name (tables included), None when not listed."""
    return BY_CODE.get(base_code(code))


def section_title(code: str | None) -> str:
    """A display title for any field name, so callers never show None ("label" when there is none)."""
    if not code:
        return "label"
    found = BY_CODE.get(code)
    return found.title if found else code.replace("_", " ").title()


def source_strength(source: str, code: str | None) -> Strength:
    """How strongly a citation's source states its claim: the section's tier, or literature."""
    if source != FDA_LABEL:
        return Strength.LITERATURE
    found = section(code)
    return found.strength if found else Strength.LABEL


@cache
def _heading_tiers() -> tuple[tuple[str, int], ...]:
    return tuple((w, s.digest_tier) for s in SECTIONS for w in s.heading_words)


def digest_tier(code: str | None, loinc: str | None = None, heading: str = "") -> int:
    """0 (boxed warning) .. 5 (other) from the field, else the LOINC code, else words of the
    heading (`heading` lower-cased by the caller), for sections a label names its own way."""
    for found in (section(code), BY_LOINC.get(loinc or "")):
        if found is not None and found.digest_tier != DIGEST_OTHER:
            return found.digest_tier
    for words, tier in _heading_tiers():
        if words in heading:
            return tier
    return DIGEST_OTHER
