"""Typed records that cross stage boundaries (parse -> store -> extract).

Parsers return these; the store persists them. They are plain frozen
dataclasses so a newcomer can read them in one sitting and tests can build
them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def label_date(effective_time: str | None) -> str | None:
    """A label's effective time as published (YYYYMMDD) -> YYYY-MM-DD; anything else as it was."""
    if effective_time and len(effective_time) == 8 and effective_time.isdigit():
        return f"{effective_time[:4]}-{effective_time[4:6]}-{effective_time[6:]}"
    return effective_time


@dataclass(frozen=True, slots=True)
class Table:
    """A label table as a grid: header rows over body rows, spans expanded (a cell spanning three
    columns fills all three slots), so every cell has its row and column headers
    (`pgxlit.ingest.tables.table_cells` reads them)."""

    caption: str | None
    header: tuple[tuple[str, ...], ...]
    rows: tuple[tuple[str, ...], ...]
    id: str | None = None  # the label's own table ID, when it gives one
    notes: tuple[str, ...] = ()  # footnotes, as the label prints them under the table

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Table:
        """A table as stored (JSON lists) back to the record."""
        return cls(caption=value.get("caption"), header=tuple(tuple(r) for r in value.get("header") or ()),
                   rows=tuple(tuple(r) for r in value.get("rows") or ()), id=value.get("id"),
                   notes=tuple(value.get("notes") or ()))


@dataclass(frozen=True, slots=True)
class Section:
    """One section of a label version, in reading order."""

    order: int
    text: str
    field: str | None = None  # openFDA field name, e.g. "boxed_warning"
    loinc: str | None = None  # LOINC section code, e.g. "34066-1"
    title: str | None = None
    is_table: bool = False
    tables: tuple[Table, ...] = ()  # the section's own tables, parsed; `text` still renders them as rows


@dataclass(frozen=True, slots=True)
class LabelVersion:
    """One published version of an FDA label, keyed on set_id + version."""

    set_id: str  # always lower case
    version: int
    effective_time: str | None  # YYYYMMDD as published
    spl_id: str | None
    title: str | None
    generic_names: tuple[str, ...] = ()
    brand_names: tuple[str, ...] = ()
    application_numbers: tuple[str, ...] = ()
    manufacturer: str | None = None
    sections: tuple[Section, ...] = ()
    source_format: str = "openfda"  # "openfda" or "spl"

    @property
    def key(self) -> tuple[str, int]:
        return (self.set_id, self.version)


@dataclass(frozen=True, slots=True)
class LabelHistoryEntry:
    """One row of DailyMed's /spls/{setid}/history answer."""

    set_id: str
    version: int
    published_date: str | None  # ISO date
    title: str | None = None


@dataclass(frozen=True, slots=True)
class AbstractSection:
    text: str
    label: str | None = None  # e.g. "RESULTS"
    category: str | None = None  # NlmCategory, e.g. "RESULTS"


@dataclass(frozen=True, slots=True)
class Abstract:
    """A PubMed citation with its abstract, keyed on PMID."""

    pmid: str
    title: str
    sections: tuple[AbstractSection, ...] = ()
    pmid_version: int = 1
    journal: str | None = None
    pub_year: int | None = None
    pub_date: str | None = None  # as precise as PubMed gives it: YYYY, YYYY-MM or YYYY-MM-DD
    date_revised: str | None = None  # ISO date
    mesh_terms: tuple[str, ...] = ()
    chemicals: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    doi: str | None = None
    status: str | None = None  # MedlineCitation/@Status
    language: str | None = None
    keywords: tuple[str, ...] = field(default=())

    @property
    def abstract_text(self) -> str:
        return "\n".join(s.text for s in self.sections)

    @property
    def has_text(self) -> bool:
        return any(s.text.strip() for s in self.sections)


@dataclass(frozen=True, slots=True)
class PubmedDeletion:
    """PMIDs that a PubMed update file withdraws (DeleteCitation)."""

    pmids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The parts of an E-utilities esearch answer a crawler needs."""

    count: int
    ids: tuple[str, ...]
    retstart: int = 0
    retmax: int = 0
    webenv: str | None = None
    query_key: str | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class ParseError(ValueError):
    """Input bytes are not what the parser expects; the message names the source."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ApiError(RuntimeError):
    """An API answered with an error body (HTTP 200 with <ERROR>, or an error JSON)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class RemoteError(RuntimeError):
    """A remote source failed for good (unreachable, refused, retries spent).

    Core code catches this base class so it never needs the stage that does the fetching;
    `pgxlit.ingest.http.FetchError` is the one raised today.
    """


# ---- extraction -----------------------------------------------------------
# Entity labels pgxlit uses; `extract.evaluate` maps them to PGxCorpus/BioRED types.
ENTITY_LABELS = ("DRUG", "GENE", "VARIANT", "ALLELE", "PHENOTYPE", "DISEASE")


@dataclass(frozen=True, slots=True)
class Mention:
    """An entity span in one text, with its normalised identity when known."""

    start: int  # character offsets into the text the mention was found in
    end: int
    label: str  # one of ENTITY_LABELS
    text: str
    norm: str | None = None  # e.g. "HGNC:2625|CYP2D6", "PA449053|clopidogrel", "rs9923231", "CYP2D6*4"
    kind: str | None = None  # finer type: "rsid", "hgvs_c", "protein_change", "star_allele", "hla", "diplotype", "metabolizer", ...
    source: str = "rule"  # which component found it


@dataclass(frozen=True, slots=True)
class RelationMention:
    """A typed relation between two mentions of one sentence (indices into its mention list)."""

    head: int
    tail: int
    type: str  # influences, increases, decreases, causes, isAssociatedWith, treats, isEquivalentTo
    confidence: float = 1.0
    negated: bool = False
    hedged: bool = False


EFFECTS = ("efficacy", "toxicity", "dosage", "metabolism", "other")


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a triple was read: the exact sentence and its place in the source."""

    source: str  # "fda_label" or "pubmed"
    sentence: str
    start: int  # offsets of the sentence within its section text or abstract text
    end: int
    set_id: str | None = None
    version: int | None = None
    section: str | None = None  # openFDA field name, else LOINC code, else title
    effective_time: str | None = None
    pmid: str | None = None
    year: int | None = None


@dataclass(frozen=True, slots=True)
class Triple:
    """A drug–gene(–variant) relation with its effect, flags, confidence and evidence."""

    drug: str
    drug_id: str | None
    gene: str | None
    gene_id: str | None
    variant: str | None  # rsID, star/HLA allele, diplotype or phenotype (normalised)
    relation: str
    effect: str  # one of EFFECTS
    negated: bool
    hedged: bool
    confidence: float
    pgx: bool  # a genetic factor changes the drug's effect, safety or dose
    evidence: Evidence
    extractor: str = "rules"
    # germline (inherited PGx), somatic (a tumour's biomarker) or unknown; `pgx` is True only for
    # germline or unknown factors, so `--pgx` means germline pharmacogenomics.
    origin: str = "unknown"

    def to_json(self) -> dict[str, Any]:
        """The `--json` shape every command and API uses for a triple."""
        e = self.evidence
        return {
            "drug": self.drug, "drug_id": self.drug_id, "gene": self.gene, "gene_id": self.gene_id,
            "variant": self.variant, "relation": self.relation, "effect": self.effect, "negated": self.negated,
            "hedged": self.hedged, "confidence": self.confidence, "pgx": self.pgx, "extractor": self.extractor,
            "origin": self.origin,
            "evidence": {"source": e.source, "set_id": e.set_id, "version": e.version, "section": e.section,
                         "effective_time": e.effective_time, "pmid": e.pmid, "year": e.year,
                         "sentence": e.sentence, "start": e.start, "end": e.end},
        }


# ---- index and answers -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Passage:
    """A window of consecutive sentences of one label section or abstract, the unit we search and cite.

    `start`/`end` are offsets of `text` within its section text (labels) or title+abstract text
    (PubMed), the same frame as triple evidence offsets.
    """

    doc_key: str
    source: str  # "fda_label" or "pubmed"
    text: str
    start: int
    end: int
    sentence_starts: tuple[int, ...] = (0,)  # offsets within `text`
    set_id: str | None = None
    version: int | None = None
    section: str | None = None  # openFDA field name, else LOINC code, else title
    section_title: str | None = None
    effective_time: str | None = None
    pmid: str | None = None
    year: int | None = None
    title: str | None = None  # label title or article title
    drugs: tuple[str, ...] = ()  # canonical drug names named in it (a label's own drug included)
    genes: tuple[str, ...] = ()  # HGNC symbols named in it, alone or inside an allele
    kind: str = "passage"  # "passage", or "triple" for a triple's own entry
    id: int | None = None
    superseded: bool = False
    evidence_passage_id: int | None = None  # a triple entry points at the passage holding its sentence

    def sentences(self) -> list[tuple[int, str]]:
        """(offset within `text`, sentence) pairs."""
        bounds = [*self.sentence_starts, len(self.text)]
        return [(bounds[i], self.text[bounds[i] : bounds[i + 1]].strip()) for i in range(len(bounds) - 1)]

    @property
    def url(self) -> str:
        """Where a reader checks the source: DailyMed for a label set, PubMed for an abstract."""
        if self.source == "pubmed":
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        return f"https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={self.set_id}"


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage the index returned for a query, with the scores that ranked it."""

    passage: Passage
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    via_triple: bool = False  # reached through a triple entry that points at this passage


@dataclass(frozen=True, slots=True)
class Citation:
    """One numbered source of an answer: exactly where its sentence was read."""

    key: int
    passage: Passage
    text: str  # the cited sentence(s)

    def to_json(self) -> dict[str, Any]:
        p = self.passage
        return {
            "key": self.key, "source": p.source, "set_id": p.set_id, "version": p.version,
            "section": p.section, "section_title": p.section_title, "effective_time": p.effective_time,
            "pmid": p.pmid, "year": p.year, "title": p.title, "text": self.text, "url": p.url,
            "passage_id": p.id,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """A short answer in which every sentence cites retrieved passages, or a refusal with its reason."""

    question: str
    answer: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    triples: tuple[Triple, ...] = ()
    reason: str | None = None
    answerer: str = "extractive"
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. why an LLM answer fell back to the extractive one

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.answer, "refused": self.refused, "reason": self.reason,
            "answerer": self.answerer, "citations": [c.to_json() for c in self.citations],
            "triples": [t.to_json() for t in self.triples], "timings_ms": self.timings_ms,
            "notes": list(self.notes),
        }
