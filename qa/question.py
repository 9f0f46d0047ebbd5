"""Read a question the way the extraction stage reads a sentence: which drug, gene, allele, phenotype."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgxlit.extract.lexicons import load_lexicons
from pgxlit.extract.pipeline import PgxEntityRecognizer
from pgxlit.index.passages import entity_names

# Where a pharmacist names the drug: "before prescribing X", "taking X", "dose of X", "X and CYP2C19".
DRUG_SLOT = re.compile(
    r"\b(?:prescrib\w*|taking|take|starting|start|giving|give|dos(?:e|ing) of|using|use of|on|for|about|with)\s+"
    r"([A-Za-z][A-Za-z0-9-]{3,})", re.IGNORECASE,
)
NOT_DRUGS = frozenset(
    "a an the this that these patients patient someone people my our their his her what which whom genotype "
    "status testing test check dose dosing drug drugs medication medicine therapy treatment".split()
)


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    drugs: tuple[str, ...]  # canonical names
    genes: tuple[str, ...]  # HGNC symbols, from genes, alleles and metabolizer phrases
    alleles: tuple[str, ...]  # normalised allele, HLA, rsID or diplotype mentions
    phenotypes: tuple[str, ...]
    unknown_drug: str | None = None  # a word in a drug's place that pgxlit does not know


_recogniser: PgxEntityRecognizer | None = None


def read_question(text: str) -> Question:
    """Entities of a question, normalised; a word where a drug should be but unknown is kept to say so."""
    global _recogniser
    if _recogniser is None:
        _recogniser = PgxEntityRecognizer()
    text = " ".join(text.split())
    mentions = _recogniser.find(text)
    drugs, genes = entity_names(mentions)
    alleles = tuple(dict.fromkeys(m.norm or m.text for m in mentions if m.label in ("ALLELE", "VARIANT")))
    phenotypes = tuple(dict.fromkeys(m.norm or m.text for m in mentions if m.label == "PHENOTYPE"))
    unknown = None
    if not drugs:
        lex = load_lexicons()
        for match in DRUG_SLOT.finditer(text):
            word = match.group(1).rstrip("?.,;")
            if word.lower() in NOT_DRUGS or lex.normalise_gene(word):
                continue
            unknown = word
            break
    return Question(text, tuple(sorted(drugs)), tuple(sorted(genes)), alleles, phenotypes, unknown)
