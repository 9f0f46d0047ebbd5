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
# "Is X safe for ...", "X in CYP2D6 poor metabolizers": the word before a verdict or a genotype.
SUBJECT_SLOT = re.compile(
    r"\b(?:is|are|can|does|should)\s+([A-Za-z][A-Za-z0-9-]{3,})\s+(?:safe|effective|contraindicated|ok|okay|"
    r"recommended|appropriate|dangerous|be|need|require|work|used|given)\b", re.IGNORECASE,
)
# International nonproprietary name stems: a word ending so is almost surely a drug name.
DRUG_STEM = re.compile(
    r"[a-z]{3,}(?:mab|tinib|nib|pril|sartan|olol|azole|cillin|mycin|statin|vir|parin|platin|taxel|rubicin|fenac|"
    r"profen|oxacin|cycline|dipine|setron|triptan|prazole|tidine|gliptin|glitazone|semide|caine|codone|morphone|"
    r"azepam|zolam|barbital|tadine|lukast|dronate|afil)$", re.IGNORECASE,
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
        slots = [m.group(1) for pattern in (DRUG_SLOT, SUBJECT_SLOT) for m in pattern.finditer(text)]
        stems = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9-]+", text) if DRUG_STEM.fullmatch(w)]
        for word in (w.rstrip("?.,;") for w in [*stems, *slots]):
            if word.lower() in NOT_DRUGS or lex.normalise_gene(word):
                continue
            unknown = word
            break
    return Question(text, tuple(sorted(drugs)), tuple(sorted(genes)), alleles, phenotypes, unknown)
