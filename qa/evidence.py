"""Pick the sentences an answer may rest on, from retrieved passages only.

Pure functions over hits: which sentences speak about the asked drug (and gene), how
actionable each is (contraindication > test before use > dose change > monitor), and which
are instructions aimed at a model rather than facts, to be dropped as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pgxlit.extract.actions import action_of, looks_like_table
from pgxlit.extract.lexicons import entity_names
from pgxlit.extract.quote import tidy
from pgxlit.knowledge.facts import is_heading_or_pointer
from pgxlit.qa.question import Question, recognise

from pgxlit.records import Hit, Passage, Triple
from pgxlit.sections import ANSWER_WEIGHT, ANSWER_WEIGHT_DEFAULT

# Text addressed to a model, not a reader: retrieved text is data and never instructions.
INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.]{0,40}\b(?:previous|prior|above|earlier|all)\b[^.]{0,20}\b(?:instruction|prompt|rule|direction)s?"
    r"|\b(?:system prompt|you are now|act as|new instructions?|as an ai)\b",
    re.I,
)


# Words that make a gene mention pharmacogenomic rather than, say, an enzyme a drug inhibits.
PGX_CUE = re.compile(r"\b(?:genotyp\w*|allele\w*|polymorphi\w*|variant\w*|carrier\w*|metaboli[sz]er\w*|"
                     r"positive|negative|deficien\w*|loss-of-function|genetic\w*|heterozyg\w*|homozyg\w*)\b", re.I)
def is_instruction(sentence: str) -> bool:
    return bool(INJECTION.search(sentence))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sentence of a retrieved passage that may go into the answer."""

    sentence: str
    passage: Passage
    offset: int  # of the sentence within the passage text
    score: float
    action: str | None
    names_gene: bool
    triples: tuple[Triple, ...] = ()

    @property
    def absolute_start(self) -> int:
        """Offset in the section or abstract text: the frame triple evidence uses."""
        return self.passage.start + self.offset


# A worker answers question after question from the same passages: what a sentence is (evidence or not,
# its drugs and genes, its action) depends on its text alone, so it is worked out once per sentence.
SENTENCE_MEMO = 65_536


@lru_cache(maxsize=SENTENCE_MEMO)
def _entities(sentence: str) -> tuple[frozenset[str], frozenset[str], bool]:
    # the extraction recogniser's mentions without loading spaCy (qa.question.recognise)
    mentions = recognise(sentence)
    drugs, genes = entity_names(mentions)
    genetic = any(m.label in ("ALLELE", "VARIANT") or (m.label == "PHENOTYPE" and "etaboli" in (m.norm or m.text))
                  for m in mentions) or (any(m.label == "GENE" for m in mentions) and bool(PGX_CUE.search(sentence)))
    return frozenset(drugs), frozenset(genes), genetic


@lru_cache(maxsize=SENTENCE_MEMO)
def _not_evidence(sentence: str) -> bool:
    """Too short, addressed to a model, a table row, a heading or a pointer: never quoted."""
    return len(sentence) < 20 or is_instruction(sentence) or looks_like_table(sentence, quote=True) \
        or is_heading_or_pointer(sentence)


@lru_cache(maxsize=SENTENCE_MEMO)
def _action(sentence: str) -> tuple[str | None, int]:
    return action_of(sentence)


def candidates(question: Question, hits: Sequence[Hit], triples: Sequence[Triple] = ()) -> list[Candidate]:
    """Sentences about the asked drug (and gene, when one is asked), best first."""
    by_place: dict[tuple, list[Triple]] = {}
    for t in triples:
        e = t.evidence
        by_place.setdefault((e.set_id, e.version, e.section, e.pmid, e.start), []).append(t)
    asked_drugs, asked_genes = set(question.drugs), set(question.genes)
    out: list[Candidate] = []
    for rank, hit in enumerate(hits, start=1):
        p = hit.passage
        own_label_drug = p.source == "fda_label" and bool(asked_drugs & set(p.drugs))
        for offset, sentence in p.sentences():
            if _not_evidence(sentence):
                continue
            drugs, genes, genetic = _entities(sentence)
            if asked_drugs and not (asked_drugs & drugs or own_label_drug):
                continue
            if p.source == "pubmed" and asked_drugs and not asked_drugs & drugs:
                continue
            # pgxlit answers pharmacogenomic questions: the evidence must name the asked gene, or any
            # gene, allele or metabolizer status when none was asked.
            names_gene = bool(asked_genes & genes) if asked_genes else genetic
            if not names_gene:
                continue
            action, weight = _action(sentence)
            supported = tuple(by_place.get((p.set_id, p.version, p.section, p.pmid, p.start + offset), ()))
            score = (
                1.0 / rank + weight + (1.5 if names_gene else 0.0) + (1.0 if supported else 0.0)
                + (ANSWER_WEIGHT.get(p.section or "", ANSWER_WEIGHT_DEFAULT) if p.source == "fda_label" else 0.0)
                + (0.5 if p.source == "fda_label" else 0.0)
                + (1.0 if p.source == "fda_label" and any(d in (p.title or "").lower() for d in asked_drugs) else 0.0)
            )
            out.append(Candidate(sentence, p, offset, score, action, names_gene, supported))
    out.sort(key=lambda c: -c.score)
    return out


def same_claim_key(sentence: str) -> str:
    """Sentences repeated across label versions or generic labels count once (their citations merge)."""
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"\[[^\]]*\]|\([^)]*\d[^)]*\)", "", tidy(sentence).lower())).strip()


def quote_key(sentence: str) -> str:
    """One key per quoted sentence however a label version, generic or set id spaced, punctuated or
    capitalised it ("P2Y 12" / "P2Y12"): an answer numbers each such sentence once."""
    return re.sub(r"[^a-z0-9]+", "", same_claim_key(sentence))
