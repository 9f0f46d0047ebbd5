"""Which gene a genetic factor of a sentence names: its own (a gene, an allele "DPYD*2A", an HLA
serotype "HLA-A2"), the gene written for it ("rs2242480 (in CYP3A4)", "c-Myc genotypes (rs4645943)"),
else the nearest gene of the sentence; and `variant_key`, what two spellings of one variant share, so
an abstract can give a variant written alone the gene it wrote it with before."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pgxlit.extract.grammars import GENE_ALLELE_GENES
from pgxlit.extract.lexicons import load_lexicons
from pgxlit.records import Mention

__all__ = ["STATUS_GENES", "gene_of", "is_pharmacogene", "named_gene", "names_pharmacogene", "variant_key"]

# Genes whose metabolizer status labels and papers talk about. CYP3A4 has star alleles but its
# "poor metabolizers" are almost never meant; next to a bare status it is the wrong guess.
STATUS_GENES = GENE_ALLELE_GENES - {"CYP3A4"}


def is_pharmacogene(symbol: str) -> bool:
    """A gene whose metabolizer status or alleles labels and papers act on (CYP2D6, DPYD, HLA-B, ...)."""
    return symbol in STATUS_GENES or symbol.startswith("HLA-")


def names_pharmacogene(m: Mention) -> bool:
    """A gene or allele mention of a pharmacogene ("CYP2D6", "DPYD*2A")."""
    return is_pharmacogene((m.norm or "").split("|")[-1].split("*")[0])


# A gene written right after a bare variant as its own: "rs2242480 (in CYP3A4)", "rs776746 of CYP3A5".
_STATED_GENE_GAP = re.compile(r"\s*[(\[]\s*(?:(?:in|of|on|at|within)\s+(?:the\s+)?)?|\s+(?:in|of|on|at|within)\s+(?:the\s+)?")
# A variant written straight after "<name> gene" is that gene's ("alpha-adducin gene Gly460Trp").
_GENE_WORD_BEFORE = re.compile(r"\b(?!(?:the|this|that|each|same|candidate|a|one|its|their)\s)[\w-]+\s+genes?\s+$",
                               re.IGNORECASE)
_GENE_GAP = re.compile(r"\s+(?:genes?\s+)?")
_OPEN_BRACKET = re.compile(r"\s*[(\[]\s*")  # "ENOX1(rs9594987)", "GENE [rs1]"


def gene_of(
    factor: Mention, sentence_mentions: Sequence[Mention], sentence: str | None = None
) -> tuple[str | None, str | None]:
    """(symbol, HGNC id) of a genetic factor; a bare variant takes the gene written right after it as
    its own (with `sentence`: "rs2242480 (in CYP3A4)"), else the nearest gene in the sentence."""
    lex = load_lexicons()
    if factor.label == "GENE" and factor.norm and "|" in factor.norm:
        hgnc, symbol = factor.norm.split("|", 1)
        return symbol, hgnc
    if factor.label == "GENE" and not factor.norm:  # a model mention: normalise its text if we can
        found = lex.normalise_gene(factor.text)
        return (found[1], found[0]) if found else (None, None)
    if factor.source == "model":
        # A model phrase ("CYP2D6 genotype", "polymorphisms in DPYD") names its gene inside it, or has none.
        inside = [m for m in sentence_mentions if m is not factor and m.label == "GENE" and m.norm
                  and "|" in m.norm and factor.start <= m.start and m.end <= factor.end]
        if inside:
            hgnc, symbol = inside[0].norm.split("|", 1)
            return symbol, hgnc
        return None, None
    candidate = None
    if factor.norm:
        head = factor.norm.split("*")[0] if "*" in factor.norm else factor.norm.split(":")[0]
        head = head.split(" ")[0]
        serotype = _HLA_SEROTYPE.fullmatch(head)
        if serotype:
            head = serotype.group(1)
        if head and not head.startswith("rs") and head[0].isalpha():
            candidate = head
    if candidate:
        found = lex.normalise_gene(candidate)
        if found:
            return found[1], found[0]
    if sentence is not None and factor.label == "VARIANT":
        for m in sentence_mentions:
            if (m.label == "GENE" and m.start >= factor.end and (stated := named_gene(m))
                    and _STATED_GENE_GAP.fullmatch(sentence, factor.end, m.start)):
                return stated
        headed = _bracket_head(factor, sentence_mentions, sentence)
        if headed is not None:
            return headed
        if _unknown_gene_before(factor, sentence_mentions, sentence):
            return None, None
    # Otherwise the nearest gene named in the sentence, on its own or inside an allele ("DPYD*2A").
    # A bare metabolizer status only borrows a pharmacogene, never e.g. a transporter named nearby; a bare variant
    # never a gene written with its own variant in brackets ("ENOX1(rs9594987), rs10108210, and rs703297").
    nearest: tuple[int, str, str] | None = None
    for m in sentence_mentions:
        if m is factor:
            continue
        if factor.label == "PHENOTYPE" and not names_pharmacogene(m):
            continue
        if factor.label == "VARIANT" and sentence is not None and _holds_own_variant(m, factor, sentence_mentions, sentence):
            continue
        found = named_gene(m)
        if found and (nearest is None or abs(m.start - factor.start) < nearest[0]):
            nearest = (abs(m.start - factor.start), found[0], found[1])
    return (nearest[1], nearest[2]) if nearest else (None, None)


def _holds_own_variant(gene: Mention, factor: Mention, sentence_mentions: Sequence[Mention], sentence: str) -> bool:
    """Is the gene written with another variant of its own in brackets straight after it ("ENOX1(rs9594987)")?
    (A variant inside those brackets has taken the gene already, in `_bracket_head`.)"""
    opened = _OPEN_BRACKET.match(sentence, gene.end) if gene.label == "GENE" else None
    return opened is not None and any(v is not factor and v.label in ("VARIANT", "ALLELE") and v.start == opened.end()
                                      for v in sentence_mentions)


def _unknown_gene_before(factor: Mention, sentence_mentions: Sequence[Mention], sentence: str) -> bool:
    """Is the variant written straight after a gene's name that the lexicons cannot name ("alpha-adducin
    Gly460Trp", "alpha-adducin gene Gly460Trp")? Then it is that gene's variant, and borrowing the nearest
    gene they know would name the wrong one."""
    lex = load_lexicons()
    before = [m for m in sentence_mentions
              if m.end <= factor.start and _GENE_GAP.fullmatch(sentence, m.end, factor.start)]
    if before:
        # a gene the lexicons cannot name, or a name the trained NER read but nothing identifies (it tagged
        # "alpha-adducin" a drug); a known drug or gene before the variant leaves the choice to the rules below
        return all(m.label in ("GENE", "DRUG", "ALLELE") and not m.norm
                   and not lex.normalise_gene(m.text) and not lex.normalise_drug(m.text) for m in before)
    return _GENE_WORD_BEFORE.search(sentence, max(0, factor.start - 60), factor.start) is not None


def named_gene(mention: Mention) -> tuple[str, str] | None:
    """(symbol, HGNC id) a gene mention names, or an allele by its gene ("DPYD*2A")."""
    if mention.label == "GENE" and mention.norm and "|" in mention.norm:
        hgnc, symbol = mention.norm.split("|", 1)
        return symbol, hgnc
    if mention.label == "ALLELE" and mention.norm and "*" in mention.norm:
        hit = load_lexicons().normalise_gene(mention.norm.split("*")[0])
        return (hit[1], hit[0]) if hit else None
    return None


def _bracket_head(factor: Mention, mentions: Sequence[Mention], sentence: str) -> tuple[str, str] | None:
    """The gene a bracketed variant elaborates: one named inside the same brackets, else the gene
    written just before them in the same phrase ("c-Myc genotypes (rs4645974 and rs4645943),
    CYP4F2 ..." gives MYC, not the nearer CYP4F2). None when the variant is not in brackets or no
    gene heads them."""
    brackets = _enclosing_brackets(sentence, factor.start)
    while brackets is not None:  # innermost first, then outward: "ABCB1 [c.2677G>T/A (rs2032582), ...]"
        opening, closing = brackets
        inside = [(abs(m.start - factor.start), g) for m in mentions
                  if m is not factor and opening < m.start and m.end <= closing and (g := named_gene(m))]
        if inside:
            return min(inside)[1]
        before = [(m.end, g) for m in mentions if m.end <= opening and (g := named_gene(m))
                  and _HEAD_GAP.fullmatch(sentence, m.end, opening)]
        if before:
            return max(before)[1]
        brackets = _enclosing_brackets(sentence, opening)
    return None


def _enclosing_brackets(text: str, position: int) -> tuple[int, int] | None:
    """(opening, closing) offsets of the innermost brackets open at `position` (closing = the text's
    end when they never close), or None when no bracket is open there."""
    opened: list[int] = []
    for i, ch in enumerate(text[:position]):
        if ch in "([":
            opened.append(i)
        elif ch in ")]" and opened:
            opened.pop()
    if not opened:
        return None
    depth = len(opened)
    for i in range(position, len(text)):
        if text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            depth -= 1
            if depth < len(opened):
                return opened[-1], i
    return opened[-1], len(text)


# Between a gene and the bracket that elaborates it: the rest of one short phrase ("genotypes for
# 5.2% ", "gene polymorphism "), never a list break (a comma, a semicolon, "and", "or") or a clause.
_HEAD_GAP = re.compile(r"(?:(?![,;]|\b(?:and|or|but|whereas|while|than|versus|vs)\b)[^()\[\]]){0,40}", re.IGNORECASE)
# An HLA serotype names its locus's gene: "HLA-A2" -> HLA-A, "HLA-Cw6" -> HLA-C.
_HLA_SEROTYPE = re.compile(r"(HLA-[ABC])w?\d{1,3}")


_POSITION = re.compile(r"(?:[cgp]\.)?(-?\d+)(?=[ACGT]|del|ins|dup|$)")


def variant_key(variant: str) -> str:
    """What two spellings of one variant share within an abstract: an rsID as it is, a nucleotide change
    by its position ("C3435T", "3435C>T", "3435CC", "3435 TT" -> "3435"), any other notation as written."""
    if variant.startswith("rs"):
        return variant
    written = variant.replace(" ", "")
    if written[:1] in ("A", "C", "G", "T") and written[1:2].isdigit():
        written = written[1:]  # "C3435T"
    match = _POSITION.match(written)
    return match.group(1) if match else variant
