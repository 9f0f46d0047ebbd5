"""What the stages above extraction (digest, knowledge, check) may use from it.

Why: the digest used to reach into extraction's internals (its gene set, its per-sentence triple
rules, its mention labels); a change there broke the digest silently. These few functions are the
contract: they keep their meaning while the modules behind them change. The pipeline and models
load lazily, on first use, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from pgxlit.extract.relations import GENETIC as GENETIC_LABELS  # mention labels that are a genetic factor
from pgxlit.records import Evidence, LabelVersion, Mention, Triple

__all__ = ["GENETIC_LABELS", "is_pharmacogene", "label_text_pgx_triples", "last_pharmacogene", "names_genetic_factor",
           "pharmacogene_of"]


def is_pharmacogene(symbol: str) -> bool:
    """A gene whose metabolizer status or alleles labels and papers act on (CYP2D6, DPYD, HLA-B, ...)."""
    from pgxlit.extract import factor_genes

    return factor_genes.is_pharmacogene(symbol)


def pharmacogene_of(m: Mention) -> tuple[str, str] | None:
    """(symbol, HGNC id) when a mention is a pharmacogene, else None."""
    if m.label == "GENE" and m.norm and "|" in m.norm:
        hgnc, symbol = m.norm.split("|", 1)
        if is_pharmacogene(symbol):
            return symbol, hgnc
    return None


@lru_cache(maxsize=1)
def _gene_matcher():
    from pgxlit.extract.lexicons import DictionaryMatcher

    return DictionaryMatcher(genes=True, drugs=False)


def last_pharmacogene(text: str) -> tuple[str, str] | None:
    """The last pharmacogene a passage names: the gene a following "Poor metabolizers ..." is about."""
    found = None
    for m in _gene_matcher().find(text):
        found = pharmacogene_of(m) or found
    return found


@lru_cache(maxsize=1)
def _recognizer():
    from pgxlit.extract.pipeline import PgxEntityRecognizer

    return PgxEntityRecognizer()


def names_genetic_factor(text: str) -> bool:
    """Does the text name any genetic factor (gene, allele, variant, phenotype, inherited condition)?

    Without one the triple rules cannot produce a triple, so callers may skip the spaCy pass.
    """
    from pgxlit.extract.conditions import find_conditions

    return any(m.label in GENETIC_LABELS for m in _recognizer().find(text)) or bool(find_conditions(text))


def label_text_pgx_triples(
    items: Sequence[tuple[str, str]], label: LabelVersion, section_field: str | None, *, somatic: bool = False
) -> list[list[Triple]]:
    """PGx triples the rules pipeline finds in (context, text) pairs of one label section.

    With `somatic`, tumour biomarker triples (origin "somatic", never flagged PGx) come too, so a
    caller such as the digest can rank a biomarker change below a germline one instead of missing it.

    `context` is the text before `text` (it tells which gene a bare "poor metabolizers" means).
    Only whether a triple is pharmacogenomic is meant to matter to the caller, and that does not
    depend on which drug a sentence names, so drug mentions are set aside and the label's drug is
    the subject of every sentence: the relation classifier (most of extraction's cost) is not run.
    """
    from pgxlit.extract.pipeline import annotate_texts, rules_nlp
    from pgxlit.extract.triples import Subject, label_subject, sentence_triples

    subject = label_subject(label) or Subject((label.generic_names or (label.title or "label",))[0].lower(), None)
    out: list[list[Triple]] = [[] for _ in items]
    todo = [k for k, (_context, text) in enumerate(items) if names_genetic_factor(text)]
    texts = [items[k][1] for k in todo]
    for k, sentences in zip(todo, annotate_texts(texts, rules_nlp()), strict=True):
        found: list[Triple] = []
        context_gene = last_pharmacogene(items[k][0]) if items[k][0] else None
        for sent in sentences:
            evidence = Evidence(source="fda_label", sentence=sent.text, start=sent.start, end=sent.end,
                                set_id=label.set_id, version=label.version, section=section_field)
            factors_only = replace(sent, mentions=tuple(m for m in sent.mentions if m.label != "DRUG"))
            found += [t for t in sentence_triples(factors_only, evidence, subject, section_field, context_gene)
                      if t.pgx or (somatic and t.origin == "somatic")]
            for m in sent.mentions:
                context_gene = pharmacogene_of(m) or context_gene
        out[k] = found
    return out
