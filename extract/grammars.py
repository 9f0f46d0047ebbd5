"""Pattern grammars for the pharmacogenomic entities a lexicon cannot list.

Pure functions over one raw text string (a sentence, an abstract, a label
section); no tokenizer, no spaCy, no I/O. Every finder returns
``list[Mention]`` with exact character offsets into the string it was given
(``text[m.start:m.end] == m.text``), ``source="grammar"``, sorted by start and
without overlaps among its own results.

- ``find_variants(text, generic=False)`` label VARIANT. kinds: ``rsid``
  (``rs9923231``, ``rs 1065852``), ``hgvs_c`` (c./n., also ``c516G > T``),
  ``hgvs_g`` (g./m.), ``hgvs_p`` (``p.Val433Met``, ``p.V433M``,
  ``p.(Arg144Cys)``), ``ivs`` (``IVS14+1G>A``), ``nucleotide_change``
  (``3435C>T``, ``C3435T``, ``-1639G>A``, ``G-1639A``, ``677C-->T``, ``250G/A``),
  ``protein_change`` (``V600E`` with a position of two digits or more,
  ``Arg144Cys``, ``Val(158)Met``, ``F508del``), ``snp_allele`` / ``genotype``
  (``VKORC1 -1639A``, ``CYP2B6 516TT``, ``3435 CC genotype``: only after a gene
  symbol or before allele/genotype/carrier...). With ``generic=True`` also
  ``gene_variation`` (see ``find_gene_variations``).
- ``find_alleles(text)`` label ALLELE. kinds: ``star_allele`` (``CYP2D6*4``,
  ``TPMT*3A``, ``CYP2D6*1xN``, stand-alone ``*28`` only when a gene symbol is
  near in the same sentence), ``diplotype`` (``CYP2C19*2/*17``, ``CYP3A5*3*3``,
  stand-alone ``*1/*3``), ``hla`` (``HLA-B*57:01``, ``HLA-B*5701``, bare
  ``B*1502`` after an HLA context, serotypes ``HLA-B27``/``HLA-Cw6``).
- ``find_phenotypes(text)`` label PHENOTYPE. kinds: ``metabolizer`` (poor,
  intermediate, extensive/normal, rapid, ultrarapid metabolizer/metaboliser;
  coordinations "intermediate, extensive, or ultra-rapid metabolizers"; the
  abbreviations PM/IM/EM/UM... when defined in the text, after a gene, or
  plural in a CYP text; slow/rapid acetylators), ``function`` (decreased/no/
  increased/normal function, loss-of-function, reduced TPMT activity, activity
  score), ``deficiency`` (DPD/TPMT/G6PD/NUDT15/cholinesterase... deficiency).
- ``find_gene_variations(text)`` gene-level variation phrases ("CYP2D6
  genotype", "EGFR mutations", "polymorphisms in CYP3A5"); the span contains the
  gene symbol, so it nests a GENE mention, and it is off unless asked for.
- ``find_all(text, generic=False)`` the union, overlaps resolved by
  ``resolve_overlaps`` (longest first, then ALLELE > VARIANT > PHENOTYPE).

Norms
-----
- rsID: ``rs9923231`` (lower case, no space).
- HGVS: the mention without spaces, arrows as ``>`` (``c.1905+1G>A``); protein
  changes in the three-letter HGVS form (``V433M``, ``p.V433M`` and
  ``p.(Val433Met)`` all give ``p.Val433Met``); bare nucleotide changes as
  ``3435C>T`` / ``-1639G>A``; IVS ``IVS14+1G>A``. When a gene symbol stands right
  before the variant (``VKORC1 -1639G>A``, ``ABCB1 C3435T``, ``BRAF V600E``) the
  norm is prefixed ``GENE:`` (``VKORC1:-1639G>A``, ``BRAF:p.Val600Glu``); the
  span stays the variant alone, so it does not swallow the GENE mention a
  lexicon finds. Not prefixed: rsIDs.
- star allele ``CYP2C19*2``; diplotype ``CYP2C19*2/*17`` (``*1/*3`` when no gene
  is in reach); ``x``/``×`` copy numbers as ``CYP2D6*1xN``; HLA in colon form
  ``HLA-B*57:01`` (4 digits -> 2:2, 6 -> 2:2:2); HLA diplotype
  ``HLA-E*01:01/*01:03``; ``HLA-Cw6`` -> ``HLA-C*06``; other serotypes as written.
- phenotype: ``Poor Metabolizer``, ``Intermediate Metabolizer``, ``Normal
  Metabolizer`` (extensive -> normal), ``Rapid Metabolizer``, ``Ultrarapid
  Metabolizer``, ``Indeterminate Metabolizer``; ``No Function``, ``Decreased
  Function``, ``Normal Function``, ``Increased Function``, ``Poor Function``;
  ``Activity Score`` (``Activity Score 1.5`` when a value follows);
  ``<GENE> Deficiency`` (``DPYD Deficiency`` for "DPD deficiency"). A
  metabolizer/function phrase with a gene right before it (or "metabolizers of
  CYP2C9", "reduced TPMT activity") is prefixed with it: ``CYP2D6 Poor
  Metabolizer``. The vocabulary follows PharmCAT's phenotypes.tsv
  (shared/vocab/pharmcat_allele_definitions/phenotypes.tsv, MPL-2.0).

All quantifiers are bounded and every pattern that opens on a character run has
a look-behind that stops it restarting inside the run, so a finder is linear in
the text length (100 KB of noise takes well under a second).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from pgxlit.records import Mention

__all__ = [
    "GENE_ALLELE_GENES",
    "find_all",
    "find_alleles",
    "find_gene_variations",
    "find_phenotypes",
    "find_variants",
    "resolve_overlaps",
]

SOURCE = "grammar"

# The genes PharmCAT ships allele-definition files for: the file names
# <GENE>_translation.json in shared/vocab/pharmcat_allele_definitions/
# (PharmCAT, MPL-2.0). These are the PGx genes whose alleles are named
# (star alleles, or for DPYD/RYR1/CACNA1S/CFTR/G6PD named variants; HLA-A/B are
# listed in phenotypes.tsv but have no translation file and are handled by the
# HLA grammar).
GENE_ALLELE_GENES: frozenset[str] = frozenset({
    "ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6",
    "CYP3A4", "CYP3A5", "CYP4F2", "DPYD", "G6PD", "IFNL3", "NAT2", "NUDT15",
    "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1",
})

# Gene symbols without a digit that carry star alleles or named variants in the
# literature; symbols with a digit (CYP1A2, ADH1B, UGT2B7, ...) are taken by
# shape. Used to accept GENE*N and as context for stand-alone stars.
_NO_DIGIT_GENES = ("TPMT", "DPYD", "TYMS", "TSER", "POR", "COMT", "MTHFR", "BCHE", "FMO", "GSTM", "GSTT")

# Tokens of gene shape that are not genes (or not ones to attach variants to).
_NOT_GENES = frozenset({
    "P450", "CYP450", "COVID19", "SARS2", "HIV1", "HIV2", "HCV1", "HCV2", "HCV3", "HCV4",
    "AUC0", "CD4", "CD8", "H2O", "CO2", "IC50", "EC50", "LD50", "ED50", "HBA1C", "A1C", "T2D",
})

_DASH = "\\-\u2010\u2011\u2012\u2013\u2014\u2212"  # for character classes: hyphen, nb-hyphen, dashes, minus
_SIGN = "\u2013\u2212-"  # characters that can mean a minus sign before a position
_ARROW = r"(?:>|-{1,2}>|\u2192|\u27f6|\u2794)"

_AA3 = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E",
    "Gly": "G", "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F",
    "Pro": "P", "Ser": "S", "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V",
}
_AA1_TO_3 = {v: k for k, v in _AA3.items()}
_AA1_TO_3.update({"*": "Ter", "X": "Ter"})
_AA3_ALT = "|".join(_AA3)
_AA1 = "ACDEFGHIKLMNPQRSTVWY"

# ---------------------------------------------------------------------------
# gene tokens (context only: a lexicon finds GENE mentions)

_GENE_SHAPE = (
    r"(?:[Cc][Yy][Pp]\d{1,2}[A-Za-z]{1,2}\d{0,3}"
    r"|G6PD"
    r"|[A-Z]{2,7}\d{1,2}[A-Z]{0,2}\d{0,2}[A-Z]?"
    r"|(?:" + "|".join(_NO_DIGIT_GENES) + r"))"
)
_GENE_TOKEN = re.compile(r"(?<![A-Za-z0-9])" + _GENE_SHAPE + r"(?![A-Za-z0-9])")
# a gene symbol right before a mention (norm prefix), e.g. "VKORC1 ", "ABCB1-", "BRAF (".
_GENE_BEFORE = re.compile(
    r"(?<![A-Za-z0-9])(" + _GENE_SHAPE + r")(?:\s{1,2}gene)?(?:\s{0,2}[" + _DASH + r":(]?\s{0,2})$"
)
# any upper-case symbol right before a variant ("BRAF V600E", "COMT Val158Met"), for the norm prefix only
_SYMBOL_BEFORE = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9]{2,7})[ \t]{1,2}$")
_NOT_SYMBOLS = frozenset({
    "AND", "THE", "FOR", "WITH", "SNP", "SNPS", "DNA", "RNA", "PCR", "GWAS", "RFLP", "HIV", "HBV", "HCV", "CNV",
    "ALL", "NOT", "RESULTS", "METHODS", "CONCLUSIONS", "CONCLUSION", "BACKGROUND", "OBJECTIVE", "PURPOSE", "AIMS",
})
_SENT_BREAK = re.compile(r"[.!?]\s+(?=[A-Z\[(])|\n")


def _is_gene(token: str) -> bool:
    return token.upper() not in _NOT_GENES


def _gene_right_before(text: str, start: int) -> re.Match | None:
    window = text[max(0, start - 24):start]
    m = _GENE_BEFORE.search(window)
    if m and _is_gene(m.group(1)):
        return m
    return None


def _canon_gene(token: str) -> str:
    """Upper case, and "CYP 3A5" / "cytochrome P450 3A4" -> "CYP3A5" / "CYP3A4"."""
    up = token.upper()
    if " " in up or "\t" in up or up.startswith(("P450", "CYTOCHROME")):
        parts = up.split()
        up = "CYP" + parts[-1] if "P450" in parts else "".join(parts)
    return up


# ---------------------------------------------------------------------------
# VARIANT grammar

_RSID = re.compile(
    r"(?<![A-Za-z0-9])(?P<rs>rs(?P<num>\d{1,12})|(?:RS|Rs)(?P<num3>\d{3,12})|rs\s(?P<num2>\d{3,12}))"
    r"(?P<allele>\s?:?\s?[ACGT]\s?" + _ARROW + r"\s?[ACGT](?![A-Za-z0-9]))?"
    r"(?![0-9]|[A-Za-z]{2})"
)

_HGVS_POS = r"[-*]?\d{1,7}(?:\s?[+\-]\s?\d{1,6})?"
_HGVS_NT_CHANGE = (
    r"(?:[ACGTacgt]{1,3}\s?(?:" + _ARROW + r")\s?[ACGTacgt]{1,3}"
    r"|del(?:[ACGT]{1,50}|\d{1,4})?(?:ins[ACGT]{1,50})?"
    r"|dup[ACGT]{0,50}"
    r"|ins[ACGT]{1,50}"
    r"|inv\d{0,4}"
    r"|[ACGT]{1,2}=?"  # c.521TT (genotype) / c.123A=
    r")"
)
_HGVS_NT = re.compile(
    r"(?<![A-Za-z0-9.])(?:(?P<ref>N[MCGRPT]_\d{4,9}(?:\.\d{1,3})?)\s?:\s?)?"
    r"(?P<t>[cgmn])\.\s?(?P<pos>" + _HGVS_POS + r"(?:_" + _HGVS_POS + r")?)\s?(?P<chg>" + _HGVS_NT_CHANGE + r")"
    r"(?![A-Za-z0-9])"
)
_P_TAIL = r"(?:fs(?:\*\d{1,4}|Ter\d{1,4}|X\d{1,4})?|del|dup|ins(?:[A-Z][a-z]{2}){1,10}|=|\*|X|Ter)"
_HGVS_P = re.compile(
    r"(?<![A-Za-z0-9])(?:(?P<ref>NP_\d{4,9}(?:\.\d{1,3})?)\s?:\s?)?p\.\s?(?P<open>\()?"
    r"(?:(?P<wt3>" + _AA3_ALT + r"|Ter)(?P<pos3>\d{1,5})(?P<mt3>" + _AA3_ALT + r"|" + _P_TAIL + r")"
    r"|(?P<wt1>[" + _AA1 + r"*])(?P<pos1>\d{1,5})(?P<mt1>[" + _AA1 + r"]|" + _P_TAIL + r"))"
    r"(?(open)\)?)"
    r"(?![A-Za-z0-9])"
)
_IVS = re.compile(
    r"(?<![A-Za-z0-9])IVS\s?(?P<intron>\d{1,3})\s?(?P<sign>[+" + _DASH + r"])\s?(?P<off>\d{1,5})\s?"
    r"(?P<ref>[ACGT])\s?" + _ARROW + r"\s?(?P<alt>[ACGT])(?![A-Za-z0-9])"
)
# 3435C>T, -1639G>A, -1639 G>A, 677C-->T, 1905+1G>A, 250G/A (slash needs >= 2 digits)
_NT_CHANGE = re.compile(
    r"(?:(?<=[\s(\[,;/])|^)"
    r"(?P<pos>(?:[" + _SIGN + r"]\s?)?\d{1,6}(?:[+\-]\d{1,5})?)\s?(?P<ref>[ACGT])\s?"
    r"(?:(?P<arrow>" + _ARROW + r")|(?P<slash>/))\s?(?P<alt>[ACGT])(?![A-Za-z0-9])"
)
# the same glued to a gene with a hyphen: "CYP2B6-516G>T", "VKORC1-1639G>A"
_NT_AFTER_GENE = re.compile(
    r"(?<![A-Za-z0-9])(?P<gene>" + _GENE_SHAPE + r")(?P<dash>[" + _DASH + r"])"
    r"(?P<num>\d{2,6})\s?(?P<ref>[ACGT])\s?(?:" + _ARROW + r"|/)\s?(?P<alt>[ACGT])(?![A-Za-z0-9])"
)
# "T521>C", "c516G > T" (a reference base or a c./g. without its dot before an arrow change)
_NT_LOOSE = re.compile(
    r"(?<![A-Za-z0-9.])(?:(?P<t>[cg])(?P<pos1>[" + _SIGN + r"]?\d{2,7})\s?(?P<ref1>[ACGT])"
    r"|(?P<ref2>[ACGT])(?P<pos2>[" + _SIGN + r"]?\d{2,7}))\s?" + _ARROW + r"\s?(?P<alt>[ACGT])(?![A-Za-z0-9])"
)
# C3435T, G-1639A, A118G; also one-letter protein changes V600E, R144C, F508del
_LETTER_POS_LETTER = re.compile(
    r"(?<![A-Za-z0-9_*])(?<!\d\.)(?P<rt>rt)?(?P<wt>[" + _AA1 + r"])(?P<pos>[" + _SIGN + r"]?\d{2,5})"
    r"(?P<mt>[" + _AA1 + r"X*](?:/[" + _AA1 + r"]){0,3}|del|fs)(?![A-Za-z0-9])"
)
_THREE_LETTER = re.compile(
    # the look-ahead (three letters, then a digit within 4 characters) only makes the scan faster
    r"(?<![A-Za-z0-9])(?=[A-Za-z]{3}[\s(\-]{0,4}\d)(?P<wt>" + _AA3_ALT + r")(?P<sep1>\s?-?\s?\(?\s?)(?P<pos>\d{1,5})(?:\s?/\s?\d{1,5})?"
    r"(?P<sep2>\s?\)?\s?(?:-{1,2}>|\u2192|-)?\s?)(?P<mt>" + _AA3_ALT + r"|Ter|Stop|fs|del)(?![a-z])",
    re.IGNORECASE,
)
# well-known promoter positions written glued to the gene with a hyphen
# ("VKORC1-1639G>A" means VKORC1 -1639G>A, while "CYP2B6-516G>T" means 516G>T).
_PROMOTER_POSITIONS = {
    "VKORC1": {"1639"}, "TNF": {"308", "238"}, "IL10": {"1082", "819", "592"},
    "IL6": {"174"}, "VEGF": {"2578", "1154", "460"}, "VEGFA": {"2578", "1154", "460"},
}
# a SNP allele or genotype by position: "VKORC1 -1639A", "CYP2B6 516TT", "235T allele", "3435 CC genotype"
_NT_GENOTYPE = re.compile(
    r"(?:(?<=[\s(\[,;/])|^)(?P<pos>(?:[" + _SIGN + r"]\s?)?\d{2,6})\s?(?P<gt>[ACGT]{1,2})(?![A-Za-z0-9>/])"
)
_EXON_BEFORE = re.compile(r"(?:exon|intron|codon|EXON|Exon|Intron|Codon)\s{0,2}$")
_GENOTYPE_WORD = re.compile(
    r"\s{0,2}[" + _DASH + r"]?\s{0,2}(?:alleles?|genotypes?|carriers?|homozyg|heterozyg|variants?|polymorphisms?|mutations?)",
    re.IGNORECASE,
)
# gene-level variation ("CYP2D6 genotype", "EGFR mutations", "polymorphisms in CYP3A5"), only with generic=True
_VAR_NOUN = (
    r"(?:polymorphisms?|variants?|variations?|mutations?|mutants?|mutated|genotypes?|genotyping|alleles?|SNPs?|"
    r"haplotypes?|diplotypes?|deletions?|duplications?|amplifications?|wild[" + _DASH + r"\s]?types?|null|status|"
    r"carriers?|single[" + _DASH + r"\s]nucleotide\s+polymorphisms?)"
)
_ANY_GENE = r"(?:[A-Z][A-Z0-9]{1,9}(?:[" + _DASH + r"][A-Z0-9]{1,4})?|p53|[Cc]yp\d{1,2}[a-z]{1,2}\d{1,3})"
_GENE_VARIATION = re.compile(
    r"(?<![A-Za-z0-9" + _DASH + r"])(?P<g1>" + _ANY_GENE + r")(?:\s{1,2}gene)?\s{0,2}[" + _DASH + r"]?\s{0,2}"
    r"(?:(?:genetic|gene|germline|promoter|coding|functional|common|genomic)\s{1,2})?(?P<n1>" + _VAR_NOUN + r")(?![A-Za-z])"
    r"|(?<![A-Za-z])(?P<n2>" + _VAR_NOUN + r")\s{1,2}(?:in|of|at|within)\s{1,2}(?:the\s{1,2})?(?P<g2>" + _ANY_GENE + r")"
    r"(?:\s{1,2}gene)?(?![A-Za-z0-9])"
    r"|(?<![A-Za-z])(?P<n3>mutant|mutated|wild[" + _DASH + r"\s]?type)\s{1,2}(?P<g3>" + _ANY_GENE + r")(?![A-Za-z0-9])"
)
_VARIANT_LIKE = re.compile(r"[A-Z][" + _SIGN + r"]?\d{1,6}[A-Z]|[Rr][Ss]\d{1,12}|\d{1,6}[A-Z]{1,2}")
_NOT_VARIATION_GENES = frozenset({
    "DNA", "RNA", "SNP", "SNPS", "PCR", "GWAS", "CNV", "AND", "THE", "ALL", "WT", "LOF", "GOF", "TT", "CC", "GG",
    "AA", "CT", "AG", "GA", "TC", "CA", "AC", "GT", "TG", "CG", "GC", "AT", "TA", "NO", "MHC", "IN", "OF",
    "RESULTS", "METHODS", "CONCLUSIONS", "CONCLUSION", "BACKGROUND", "OBJECTIVE", "AIMS", "PURPOSE",
})
_FIGURE_REF = re.compile(r"(?:Fig(?:ure)?s?\.?|Tables?|Supplementa(?:ry|l)|Panel|Data)\s{0,2}$", re.IGNORECASE)
# cell lines, proteins and model names that look like one-letter protein changes
_NOT_PROTEIN_CHANGE = frozenset({"T47D", "S100A", "S100B", "S100P", "K562R", "H69AR", "M14K"})


def _mention(text: str, start: int, end: int, label: str, norm: str | None, kind: str) -> Mention:
    return Mention(start=start, end=end, label=label, text=text[start:end], norm=norm, kind=kind, source=SOURCE)


def _nospace(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _canon_arrow(s: str) -> str:
    s = _nospace(s)
    s = re.sub(r"-{1,2}>|\u2192|\u27f6|\u2794", ">", s)
    return s.replace("\u2013", "-").replace("\u2212", "-")


def _with_gene(text: str, start: int, change: str) -> str:
    """Prefix a variant norm with the gene symbol right before it ("BRAF V600E" -> "BRAF:p.Val600Glu")."""
    g = _gene_right_before(text, start)
    if g:
        return f"{_canon_gene(g.group(1))}:{change}"
    w = _SYMBOL_BEFORE.search(text, max(0, start - 16), start)
    if w and w.group(1) not in _NOT_GENES and w.group(1) not in _NOT_SYMBOLS:
        return f"{w.group(1)}:{change}"
    return change


def _protein_norm(wt: str, pos: str, mt: str) -> str:
    w = _AA1_TO_3.get(wt, wt) if len(wt) == 1 else wt.capitalize()
    if len(mt) == 1:
        m = _AA1_TO_3.get(mt, mt)
    elif mt.lower() in {a.lower() for a in _AA3} or mt.lower() == "ter":
        m = mt.capitalize()
    elif mt.lower() == "stop":
        m = "Ter"
    else:
        m = mt
    return f"p.{w}{pos}{m}"


def _noun_lemma(noun: str) -> str:
    n = re.sub(r"[\s" + _DASH + r"]+", " ", noun.lower())
    if n.startswith("wild"):
        return "wild-type"
    if n.startswith("single"):
        return "SNP"
    if n in ("snp", "snps"):
        return "SNP"
    if n in ("mutant", "mutants", "mutated"):
        return "mutation"
    return n[:-1] if n.endswith("s") and n not in ("status",) else n


def find_gene_variations(text: str) -> list[Mention]:
    """Gene-level variation phrases (label VARIANT, kind "gene_variation"), norm "GENE:noun".

    "CYP2D6 genotype", "EGFR mutations", "BRAF-mutated", "polymorphisms in CYP3A5",
    "mutant KRAS". The span includes the gene symbol, so it nests a GENE mention;
    that is why this is not part of find_variants() unless asked (generic=True).
    """
    if not text:
        return []
    found: list[Mention] = []
    for m in _GENE_VARIATION.finditer(text):
        gene = m.group("g1") or m.group("g2") or m.group("g3")
        noun = m.group("n1") or m.group("n2") or m.group("n3")
        if gene.upper() in _NOT_VARIATION_GENES or gene.upper() in _NOT_GENES or gene.isdigit():
            continue
        if not any(c.isupper() for c in gene[1:]) and not any(c.isdigit() for c in gene) and gene != "p53":
            continue  # "Patients", "Results": a capitalised word, not a symbol
        if len(gene) < 3 and not any(c.isdigit() for c in gene):
            continue
        if _VARIANT_LIKE.fullmatch(gene):
            continue  # "C3435T polymorphism": the variant grammar takes it
        norm = f"{_canon_gene(gene) if gene != 'p53' else 'TP53'}:{_noun_lemma(noun)}"
        found.append(_mention(text, m.start(), m.end(), "VARIANT", norm, "gene_variation"))
    return resolve_overlaps(found)


def find_variants(text: str, *, generic: bool = False) -> list[Mention]:
    """rsIDs, HGVS, IVS, nucleotide and protein changes (label VARIANT).

    generic=True adds gene-level variation phrases (see find_gene_variations).
    """
    if not text:
        return []
    found: list[Mention] = find_gene_variations(text) if generic else []
    if not any(ch.isdigit() for ch in text):
        return found

    for m in _RSID.finditer(text):
        num = m.group("num") or m.group("num2") or m.group("num3")
        end = m.end()
        found.append(_mention(text, m.start(), end, "VARIANT", f"rs{int(num)}" if num.isdigit() else f"rs{num}", "rsid"))
    for m in _HGVS_NT.finditer(text):
        t = m.group("t")
        kind = "hgvs_c" if t in "cn" else "hgvs_g"
        body = _canon_arrow(m.group("pos") + m.group("chg"))
        # upper-case bases in substitutions; keep del/ins keywords lower case
        body = re.sub(r"[acgt]{1,3}(?=>)|(?<=>)[acgt]{1,3}", lambda x: x.group(0).upper(), body)
        norm = f"{t}.{body}"
        if m.group("ref"):
            norm = f"{m.group('ref')}:{norm}"
        else:
            norm = _with_gene(text, m.start(), norm)
        found.append(_mention(text, m.start(), m.end(), "VARIANT", norm, kind))
    for m in _HGVS_P.finditer(text):
        if m.group("wt3"):
            wt, pos, mt = m.group("wt3"), m.group("pos3"), m.group("mt3")
        else:
            wt, pos, mt = m.group("wt1"), m.group("pos1"), m.group("mt1")
        if wt == mt:
            continue
        norm = _protein_norm(wt, pos, mt)
        norm = f"{m.group('ref')}:{norm}" if m.group("ref") else _with_gene(text, m.start(), norm)
        found.append(_mention(text, m.start(), m.end(), "VARIANT", norm, "hgvs_p"))
    for m in _IVS.finditer(text):
        sign = "-" if m.group("sign") in _DASH else "+"
        norm = f"IVS{m.group('intron')}{sign}{m.group('off')}{m.group('ref')}>{m.group('alt')}"
        found.append(_mention(text, m.start(), m.end(), "VARIANT", _with_gene(text, m.start(), norm), "ivs"))
    for m in _NT_CHANGE.finditer(text):
        pos = _canon_arrow(m.group("pos"))
        digits = pos.lstrip("-").split("+")[0].split("-")[0]
        if m.group("slash") and len(digits) < 2 and not pos.startswith("-"):
            continue
        start = m.start()
        if pos.startswith("-") and start > 0 and text[start - 1] not in " \t\n([,;/":
            # "-1639" glued to something: only a sign after whitespace or an opener
            continue
        norm = f"{pos}{m.group('ref')}>{m.group('alt')}"
        found.append(_mention(text, start, m.end(), "VARIANT", _with_gene(text, start, norm), "nucleotide_change"))
    for m in _NT_AFTER_GENE.finditer(text):
        gene = _canon_gene(m.group("gene"))
        if not _is_gene(gene):
            continue
        num = m.group("num")
        signed = m.group("dash") in "\u2013\u2212" or num in _PROMOTER_POSITIONS.get(gene.replace("-", ""), ())
        start = m.start("dash") if signed else m.start("num")
        pos = f"-{num}" if signed else num
        norm = f"{gene}:{pos}{m.group('ref')}>{m.group('alt')}"
        found.append(_mention(text, start, m.end(), "VARIANT", norm, "nucleotide_change"))
    for m in _NT_LOOSE.finditer(text):
        pos = _canon_arrow(m.group("pos1") or m.group("pos2"))
        ref = m.group("ref1") or m.group("ref2")
        change = f"{pos}{ref}>{m.group('alt')}"
        t = m.group("t")
        norm = _with_gene(text, m.start(), f"{t}.{change}" if t else change)
        kind = ("hgvs_c" if t == "c" else "hgvs_g") if t else "nucleotide_change"
        found.append(_mention(text, m.start(), m.end(), "VARIANT", norm, kind))
    for m in _NT_GENOTYPE.finditer(text):
        if _EXON_BEFORE.search(text, max(0, m.start() - 12), m.start()):
            continue  # "exon 26 CC", "intron 21 A allele": a region number, not a position
        gene = _gene_right_before(text, m.start())
        if gene is None and not _GENOTYPE_WORD.match(text, m.end()):
            continue
        pos = _canon_arrow(m.group("pos"))
        if pos.startswith("-") and m.start() > 0 and text[m.start() - 1] not in " \t\n([,;/":
            continue
        gt = m.group("gt")
        norm = f"{pos}{gt}"
        norm = f"{_canon_gene(gene.group(1))}:{norm}" if gene else norm
        found.append(_mention(text, m.start(), m.end(), "VARIANT", norm, "genotype" if len(gt) == 2 else "snp_allele"))
    for m in _LETTER_POS_LETTER.finditer(text):
        wt, pos, mt = m.group("wt"), m.group("pos"), m.group("mt")
        token = m.group(0)
        if token.upper() in _NOT_PROTEIN_CHANGE or wt == mt or token.startswith("P450"):
            continue
        if _FIGURE_REF.search(text, max(0, m.start() - 16), m.start()):
            continue
        npos = pos.lstrip(_SIGN)
        signed = npos != pos
        alts = mt.split("/")
        if wt in "ACGT" and all(a in ("A", "C", "G", "T") for a in alts) and (signed or int(npos) >= 100):
            norm = f"{'-' if signed else ''}{npos}{wt}>{mt}"
            kind = "nucleotide_change"
        else:
            if signed:
                continue
            mt0 = mt.split("/")[0]
            norm = _protein_norm(wt, npos, mt0)
            kind = "protein_change"
        found.append(_mention(text, m.start(), m.end(), "VARIANT", _with_gene(text, m.start(), norm), kind))
    for m in _THREE_LETTER.finditer(text):
        wt, mt = m.group("wt"), m.group("mt")
        seps = m.group("sep1") + m.group("sep2")
        cased = wt[0].isupper() and wt[1:].islower() and (mt[0].isupper() and mt[1:].islower() or mt in ("fs", "del"))
        lower = wt.islower() and mt.islower()
        upper = wt.isupper() and mt.isupper()
        if not (cased or ((lower or upper) and not seps.strip())):
            continue
        if wt.lower() == mt.lower():
            continue
        norm = _protein_norm(wt, m.group("pos"), mt)
        found.append(_mention(text, m.start(), m.end(), "VARIANT", _with_gene(text, m.start(), norm), "protein_change"))
    return resolve_overlaps(found)


# ---------------------------------------------------------------------------
# ALLELE grammar

_STAR_BODY = (
    r"\d{1,3}(?:\.\d{3})?(?:[A-Z]{1,2}\d{0,2}|[a-z](?![a-z]))?"
    r"(?:\s?[x\u00d7X]\s?(?:N|n|\d{1,2}|\u2265\s?\d))?"
)
# genes written other ways before a star: "CYP 3A5*3", "cytochrome P450 3A4*1B", "PXR*1B"
_STAR_GENE_EXTRA = (
    r"|CYP\s\d{1,2}[A-Z]{1,2}\d{1,3}|(?:[Cc]ytochrome\s{1,2})?P450\s{1,2}\d{1,2}[A-Z]{1,2}\d{1,3}|[A-Z]{3,6}"
)
_NOT_STAR_GENES = frozenset({
    "AUC", "BMI", "SNP", "SNPS", "DNA", "RNA", "PCR", "AND", "THE", "ALL", "AML", "CML", "ANOVA", "GWAS",
    "FDA", "WHO", "USA", "HLA", "LOD", "SEM", "RR", "NS", "HIV", "HCV", "HBV", "CYP", "UGT", "CI", "SD",
})
_STAR_GENE = re.compile(
    r"(?<![A-Za-z0-9*])(?P<gene>" + _GENE_SHAPE + _STAR_GENE_EXTRA + r")[ \t]{0,2}\*[ \t]{0,2}(?P<a1>" + _STAR_BODY + r")"
    r"(?:(?:[ \t]{0,2}/[ \t]{0,2}(?:(?P=gene)[ \t]{0,2})?\*?|\*)[ \t]{0,2}(?P<a2>" + _STAR_BODY + r"))?"
    r"(?![A-Za-z0-9_:]|\.\d)"
)
_STAR_ALONE = re.compile(
    r"(?<![A-Z0-9*_])\*[ \t]{0,2}(?P<a1>" + _STAR_BODY + r")"
    r"(?:[ \t]{0,2}/[ \t]{0,2}\*[ \t]{0,2}(?P<a2>" + _STAR_BODY + r"))?"
    r"(?![A-Za-z0-9_:]|\.\d)"
)
_CYP_SHORT_BEFORE = re.compile(r"(?<![A-Za-z0-9])(\d{1,2}[A-Z]\d{1,2})[ \t]{0,2}$")
_CYP_WORD = re.compile(r"CYP|P450|[Cc]ytochrome")
_HLA_LOCUS = r"(?:A|B|C|E|F|G|DRB[1-9]|DRA|DQA1|DQB1|DPA1|DPB1|MICA)"
_HLA_FIELDS = r"\d{2,3}(?::\s?\d{2,3}){1,3}[NLSQCA]?"
_HLA = re.compile(
    r"(?<![A-Za-z0-9])HLA\s?(?:[" + _DASH + r"]\s?)?(?P<locus>" + _HLA_LOCUS + r")"
    r"(?:\s?\*\s?(?P<f>" + _HLA_FIELDS + r"|\d{2,8}[NLSQCA]?)|\s?(?P<f2>\d{4,8}[NLSQCA]?))"
    r"(?:\s?/\s?(?:HLA[" + _DASH + r"]?" + _HLA_LOCUS + r")?\*?(?P<g>" + _HLA_FIELDS + r"|\d{4,8}))?"
    r"(?![A-Za-z0-9]|:\d)"
)
_HLA_SERO = re.compile(
    r"(?<![A-Za-z0-9])HLA[" + _DASH + r"]?(?P<locus>A|B|Cw|DR|DQ)(?P<n>\d{1,2})(?![A-Za-z0-9:*])"
)
_HLA_BARE = re.compile(
    r"(?<![A-Za-z0-9*" + _DASH + r"])(?P<locus>A|B|C|DRB1|DQB1|DQA1|DPB1)\s?\*\s?(?P<f>" + _HLA_FIELDS + r"|\d{4,8})"
    r"(?![A-Za-z0-9]|:\d)"
)
_HLA_STAR_ONLY = re.compile(r"(?<![A-Za-z0-9*])\*\s?(?P<f>" + _HLA_FIELDS + r"|\d{4})(?![A-Za-z0-9]|:\d)")
_HLA_WORD = re.compile(r"HLA|[Hh]uman [Ll]eukocyte [Aa]ntigen")


def _hla_fields(f: str) -> str:
    f = _nospace(f)
    suffix = ""
    if f and f[-1].isalpha():
        f, suffix = f[:-1], f[-1]
    if ":" in f:
        return f + suffix
    if len(f) <= 3:
        return f + suffix
    if len(f) == 5:  # 2 + 3 (e.g. 15120 -> 15:120 is rare; read as 2:3)
        return f"{f[:2]}:{f[2:]}{suffix}"
    parts = [f[:2]] + [f[i:i + 2] for i in range(2, len(f), 2)]
    return ":".join(parts) + suffix


def _star_norm(a: str) -> str:
    a = _nospace(a).replace("\u00d7", "x").replace("X", "x")
    return a


def _sentence_gap_ok(text: str, a: int, b: int) -> bool:
    return _SENT_BREAK.search(text, a, b) is None


def _context_gene(
    text: str, start: int, end: int, anchors: list[tuple[int, str]], last: tuple[int, str] | None = None
) -> str | None:
    """The gene a stand-alone star allele at [start, end) belongs to.

    The nearest gene before it within 160 characters of the same sentence (an
    attached star allele or a bare gene symbol), else a gene symbol within 30
    characters after it.
    """
    best = None
    i = bisect.bisect_right(anchors, (start, "~"))
    if i > 0 and start - anchors[i - 1][0] <= 160:
        best = anchors[i - 1]
    if last is not None and start - last[0] <= 160 and (best is None or last[0] > best[0]):
        best = last  # a list of stand-alone stars: "*5, *9, and *11" inherit the gene of the first
    lo = max(0, start - 160)
    for g in _GENE_TOKEN.finditer(text, lo, start):
        if _is_gene(g.group(0)) and (best is None or g.end() > best[0]):
            best = (g.end(), _canon_gene(g.group(0)))
    if best and _sentence_gap_ok(text, best[0], start):
        return best[1]
    g = _GENE_TOKEN.search(text, end, min(len(text), end + 30))
    if g and _is_gene(g.group(0)) and _sentence_gap_ok(text, end, g.start()):
        return _canon_gene(g.group(0))
    return None


def find_alleles(text: str) -> list[Mention]:
    """Star alleles, diplotypes and HLA alleles (label ALLELE)."""
    if not text:
        return []
    has_star = "*" in text
    has_hla = "HLA" in text
    if not has_star and not has_hla:
        return []
    found: list[Mention] = []
    anchors: list[tuple[int, str]] = []  # (end, gene) of star alleles attached to a gene, in text order
    taken = bytearray(len(text) + 1)  # 1 where an ALLELE mention already covers the character
    hla_anchor: list[tuple[int, str]] = []  # (end, locus) of HLA alleles, in text order

    def take(start: int, end: int) -> None:
        taken[start:end] = b"\x01" * (end - start)

    if has_hla:
        for m in _HLA.finditer(text):
            locus = m.group("locus")
            fields = _hla_fields(m.group("f") or m.group("f2"))
            norm = f"HLA-{locus}*{fields}"
            kind = "hla"
            if m.group("g"):
                norm += f"/*{_hla_fields(m.group('g'))}"
                kind = "diplotype"
            found.append(_mention(text, m.start(), m.end(), "ALLELE", norm, kind))
            take(m.start(), m.end())
            hla_anchor.append((m.end(), locus))
        for m in _HLA_SERO.finditer(text):
            locus, n = m.group("locus"), m.group("n")
            norm = f"HLA-C*{int(n):02d}" if locus == "Cw" else f"HLA-{locus}{n}"
            found.append(_mention(text, m.start(), m.end(), "ALLELE", norm, "hla"))
    if has_star:
        hla_ctx = [h.start() for h in _HLA_WORD.finditer(text)] if has_hla or "uman" in text else []
        for m in _HLA_BARE.finditer(text):
            if taken[m.start()]:
                continue
            colon = ":" in m.group("f")
            near = any(0 <= m.start() - h <= 250 for h in hla_ctx)
            if not (colon or near):
                continue
            norm = f"HLA-{m.group('locus')}*{_hla_fields(m.group('f'))}"
            found.append(_mention(text, m.start(), m.end(), "ALLELE", norm, "hla"))
            take(m.start(), m.end())
            hla_anchor.append((m.end(), m.group("locus")))
        for m in _STAR_GENE.finditer(text):
            gene = _canon_gene(m.group("gene"))
            if not _is_gene(gene) or gene in _NOT_STAR_GENES or taken[m.start()]:
                continue
            a1 = _star_norm(m.group("a1"))
            if m.group("a2"):
                norm, kind = f"{gene}*{a1}/*{_star_norm(m.group('a2'))}", "diplotype"
            else:
                norm, kind = f"{gene}*{a1}", "star_allele"
            found.append(_mention(text, m.start(), m.end(), "ALLELE", norm, kind))
            anchors.append((m.end(), gene))
            take(m.start(), m.end())
        # HLA continuation: "HLA-B*57:01 and *58:01"
        for m in _HLA_STAR_ONLY.finditer(text):
            if taken[m.start()]:
                continue
            i = bisect.bisect_right(hla_anchor, (m.start(), "~"))
            if i == 0 or m.start() - hla_anchor[i - 1][0] > 80:
                continue
            end_prev, locus = hla_anchor[i - 1]
            if not _sentence_gap_ok(text, end_prev, m.start()):
                continue
            found.append(_mention(text, m.start(), m.end(), "ALLELE", f"HLA-{locus}*{_hla_fields(m.group('f'))}", "hla"))
            take(m.start(), m.end())
        last: tuple[int, str] | None = None
        for m in _STAR_ALONE.finditer(text):
            if taken[m.start()]:
                continue
            a1 = _star_norm(m.group("a1"))
            start = m.start()
            short = _CYP_SHORT_BEFORE.search(text, max(0, start - 8), start)
            if short and _CYP_WORD.search(text, max(0, start - 80), min(len(text), m.end() + 30)):
                # "cytochrome P450 3A4*1B and 3A5*3": a CYP subfamily written without its prefix
                gene, start = "CYP" + short.group(1), short.start(1)
            else:
                gene = _context_gene(text, m.start(), m.end(), anchors, last)
            if gene:
                last = (m.end(), gene)
            if m.group("a2"):
                a2 = _star_norm(m.group("a2"))
                norm = f"{gene}*{a1}/*{a2}" if gene else f"*{a1}/*{a2}"
                found.append(_mention(text, start, m.end(), "ALLELE", norm, "diplotype"))
            elif gene:
                found.append(_mention(text, start, m.end(), "ALLELE", f"{gene}*{a1}", "star_allele"))
    return resolve_overlaps(found)


# ---------------------------------------------------------------------------
# PHENOTYPE grammar

_MET_ADJ = (
    r"(?:ultra[" + _DASH + r"\s]?rapid|ultra[" + _DASH + r"\s]?extensive|ultrarapid|poor|intermediate|"
    r"extensive|normal|rapid|slow|indeterminate)"
)
_MET_NORM = {
    "poor": "Poor Metabolizer", "slow": "Poor Metabolizer", "intermediate": "Intermediate Metabolizer",
    "extensive": "Normal Metabolizer", "normal": "Normal Metabolizer", "rapid": "Rapid Metabolizer",
    "ultrarapid": "Ultrarapid Metabolizer", "ultraextensive": "Ultrarapid Metabolizer",
    "indeterminate": "Indeterminate Metabolizer",
}
_JOIN = r"(?:\s{0,2},\s{0,2}(?:and\s+|or\s+|and/or\s+)?|\s+(?:and/or|and|or|to|vs\.?|versus)\s+|\s{0,2}/\s{0,2})"
_METABOLIZER = re.compile(
    r"(?<![A-Za-z])(?P<adjs>" + _MET_ADJ + r"(?:" + _JOIN + _MET_ADJ + r"){0,5})"
    r"(?P<tail>\s{1,2}(?:CYP\d{1,2}[A-Z]{1,2}\d{1,3}\s{1,2})?(?:metaboli[sz]ers?|acetylators?|hydroxylators?))(?![a-z])",
    re.IGNORECASE,
)
_ADJ_ONE = re.compile(_MET_ADJ, re.IGNORECASE)
# what may stand between two coordinated metabolizer phrases that share a gene
_COORD_GAP = re.compile(r"\s{0,2}(?:\(\s{0,2}[A-Za-z]{1,4}\s{0,2}\)\s{0,2})?[,;]?\s{0,2}(?:and/or|and|or|to|vs\.?|versus)?\s{0,2}")
_MET_ABBR = {"PM": "Poor Metabolizer", "IM": "Intermediate Metabolizer", "EM": "Normal Metabolizer",
             "NM": "Normal Metabolizer", "RM": "Rapid Metabolizer", "UM": "Ultrarapid Metabolizer",
             "URM": "Ultrarapid Metabolizer", "UEM": "Ultrarapid Metabolizer"}
_ABBR_DEF = re.compile(r"\s{0,2}\(\s{0,2}(?P<ab>PM|IM|EM|NM|RM|UM|URM|UEM)s?\s{0,2}[);,]")
_METABOLIZER_GENE = re.compile(r"CYP\d|NAT2|UGT\d|TPMT|DPYD|NUDT15")
_ABBR = re.compile(r"(?<![A-Za-z0-9\-])(?P<ab>PM|IM|EM|NM|RM|UM|URM|UEM)(?P<pl>s)?(?![A-Za-z0-9\-])")
_FUNCTION = re.compile(
    r"(?<![A-Za-z])(?P<q>no|null|non|decreased|reduced|diminished|impaired|increased|normal|loss|gain|poor|"
    r"partial|low|decrease)(?:[" + _DASH + r"\s]of)?[" + _DASH + r"\s](?P<gene>" + _GENE_SHAPE + r"\s{1,2})?function(?![a-z])"
    r"|(?<![A-Za-z])(?P<q2>non[" + _DASH + r"]?functional)(?![a-z])",
    re.IGNORECASE,
)
_FUNC_NORM = {
    "no": "No Function", "null": "No Function", "non": "No Function", "loss": "No Function",
    "decreased": "Decreased Function", "reduced": "Decreased Function", "diminished": "Decreased Function",
    "impaired": "Decreased Function", "partial": "Decreased Function", "low": "Decreased Function",
    "decrease": "Decreased Function", "increased": "Increased Function", "gain": "Increased Function",
    "normal": "Normal Function", "poor": "Poor Function",
}
_ACTIVITY = re.compile(
    r"(?<![A-Za-z])(?P<q>reduced|decreased|diminished|impaired|low|lower|absent|deficient|no|intermediate|"
    r"normal|high|increased|elevated)\s{1,2}(?:levels?\s{1,2}of\s{1,2})?"
    r"(?:(?P<gene>" + _GENE_SHAPE + r"|DPD|NAT)(?P<gene2>\s{1,2}(?:or|and)\s{1,2}(?:" + _GENE_SHAPE + r"|DPD))?\s{1,2})?"
    r"(?P<enz>enzyme\s{1,2}|enzymatic\s{1,2})?activity(?![a-z])",
    re.IGNORECASE,
)
_ACT_NORM = {
    "reduced": "Decreased Function", "decreased": "Decreased Function", "diminished": "Decreased Function",
    "impaired": "Decreased Function", "low": "Decreased Function", "lower": "Decreased Function",
    "intermediate": "Decreased Function", "absent": "No Function", "deficient": "No Function",
    "no": "No Function", "normal": "Normal Function", "high": "Increased Function",
    "increased": "Increased Function", "elevated": "Increased Function",
}
_ACTIVITY_SCORE = re.compile(
    r"(?<![A-Za-z])(?<!disease\s)activity\s{1,2}scores?(?:\s{0,2}\(AS\))?"
    r"(?:\s{0,2}(?:of|=|:|was|is|was\s+|is\s+)?\s{0,2}(?P<v>\d(?:\.\d{1,2})?)(?![0-9]|\.\d))?",
    re.IGNORECASE,
)
_DEFICIENCY_ENZ = {
    "dpd": "DPYD", "dpyd": "DPYD", "dihydropyrimidine dehydrogenase": "DPYD", "tpmt": "TPMT",
    "thiopurine methyltransferase": "TPMT", "thiopurine s-methyltransferase": "TPMT",
    "g6pd": "G6PD", "glucose-6-phosphate dehydrogenase": "G6PD", "nudt15": "NUDT15",
    "pseudocholinesterase": "BCHE", "butyrylcholinesterase": "BCHE", "plasma cholinesterase": "BCHE",
    "cholinesterase": "BCHE", "bche": "BCHE", "cytochrome b5 reductase": "CYB5R3",
    "nadh cytochrome b5 reductase": "CYB5R3", "cyb5r": "CYB5R3", "cyb5r3": "CYB5R3",
    "ornithine transcarbamylase": "OTC", "otc": "OTC", "ugt1a1": "UGT1A1", "dpd enzyme": "DPYD",
}
_ENZ = (
    r"(?:DPD|DPYD|TPMT|G6PD|NUDT15|UGT1A1|BCHE|CYB5R3?|OTC"
    r"|dihydropyrimidine\s+dehydrogenase|thiopurine\s+(?:S[" + _DASH + r"]?)?methyl\s?transferase"
    r"|glucose[" + _DASH + r"\s]6[" + _DASH + r"\s]phosphate\s+dehydrogenase"
    r"|(?:pseudo|butyryl|plasma\s+)?cholinesterase|(?:NADH[" + _DASH + r"\s])?cytochrome\s+b5\s+reductase"
    r"|ornithine\s+transcarbamylase|CYP\d{1,2}[A-Z]{1,2}\d{1,3})"
)
_DEFICIENCY = re.compile(
    r"(?<![A-Za-z0-9])(?P<enz>" + _ENZ + r")(?:\s{1,2}enzyme)?(?:\s{0,2}\(\s{0,2}[A-Z0-9]{2,6}\s{0,2}\))?"
    r"[" + _DASH + r"\s]{1,2}deficien(?:cy|cies|t)(?![a-z])"
    r"|(?<![A-Za-z])deficien(?:cy|t)\s{1,2}(?:in|of)\s{1,2}(?:the\s+)?(?:enzyme\s+)?(?P<enz2>" + _ENZ + r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_PGX_CONTEXT = re.compile(
    r"allele|variant|genotyp|haplotyp|polymorph|mutation|SNP|carrier|heterozyg|homozyg|metaboli[sz]er"
    r"|\*\s?\d|rs\d",
    re.IGNORECASE,
)


def _adj_key(adj: str) -> str:
    return re.sub(r"[\s" + _DASH + r"]", "", adj.lower())


def _gene_prefix(text: str, start: int) -> str | None:
    g = _gene_right_before(text, start)
    if g is None:
        return None
    gene = _canon_gene(g.group(1))
    return gene if gene not in _NOT_GENES else None


def _has_pgx_context(text: str, start: int, end: int) -> bool:
    lo, hi = max(0, start - 120), min(len(text), end + 80)
    if _PGX_CONTEXT.search(text, lo, hi):
        return True
    return any(_is_gene(g.group(0)) for g in _GENE_TOKEN.finditer(text, lo, hi))


def find_phenotypes(text: str) -> list[Mention]:
    """Metabolizer statuses, function/activity phrases, deficiencies (label PHENOTYPE)."""
    if not text:
        return []
    found: list[Mention] = []
    low = text.lower()
    abbr_defined: dict[str, tuple[str, str | None]] = {}  # "PM" -> (norm, gene of the defining phrase)
    if "metaboli" in low or "acetylat" in low or "hydroxylator" in low:
        prev_end, prev_gene = -1, None
        for m in _METABOLIZER.finditer(text):
            adjs = list(_ADJ_ONE.finditer(text, m.start("adjs"), m.end("adjs")))
            gene = _gene_prefix(text, m.start())
            tail = m.group("tail")
            inner = re.search(r"CYP\d{1,2}[A-Z]{1,2}\d{1,3}", tail, re.IGNORECASE)
            if inner:
                gene = inner.group(0).upper()
            elif gene is None:
                after = re.match(r"\s{1,2}of\s{1,2}(" + _GENE_SHAPE + r")(?![A-Za-z0-9])", text[m.end():m.end() + 30])
                if after and _is_gene(after.group(1)):
                    gene = _canon_gene(after.group(1))
            if gene is None and prev_gene and 0 <= m.start() - prev_end <= 40 and _COORD_GAP.fullmatch(text, prev_end, m.start()):
                gene = prev_gene  # "CYP2D6 extensive metabolizers (EMs), intermediate metabolizers (IMs), or ..."
            prev_end, prev_gene = m.end(), gene
            acetyl = "acetylat" in tail.lower()
            for i, a in enumerate(adjs):
                key = _adj_key(a.group(0))
                norm = _MET_NORM.get(key)
                if norm is None:
                    continue
                if acetyl and key in ("extensive", "normal"):
                    continue
                end = m.end() if i == len(adjs) - 1 else a.end()
                full = f"{gene} {norm}" if gene else norm
                found.append(_mention(text, a.start(), end, "PHENOTYPE", full, "metabolizer"))
            d = _ABBR_DEF.match(text, m.end())
            if d and len(adjs) == 1:
                ab = d.group("ab")
                norm = _MET_NORM.get(_adj_key(adjs[0].group(0)))
                if norm and _MET_ABBR.get(ab) == norm:
                    abbr_defined[ab] = (norm, gene)
    # abbreviations: defined in this text "(PMs)", or right after a CYP gene ("CYP2D6 PMs")
    if "M" in text:
        for m in _ABBR.finditer(text):
            ab = m.group("ab")
            gene = _gene_prefix(text, m.start())
            if gene is not None and not gene.startswith(("CYP", "NAT", "UGT", "TPMT", "DPYD", "NUDT")):
                gene = None
            if ab in abbr_defined:
                norm, def_gene = abbr_defined[ab]
                gene = gene or def_gene
            elif gene is not None and ("metaboli" in low or m.group("pl")):
                norm = _MET_ABBR[ab]
            elif m.group("pl") and ab != "RM" and _METABOLIZER_GENE.search(text):
                norm = _MET_ABBR[ab]  # "CYP2D6 genotype, even in IMs": a plural abbreviation in a CYP text
            else:
                continue
            found.append(_mention(text, m.start(), m.end(), "PHENOTYPE", f"{gene} {norm}" if gene else norm, "metabolizer"))
    if "unction" in low:
        for m in _FUNCTION.finditer(text):
            if m.group("q2"):
                norm = "No Function"
            else:
                norm = _FUNC_NORM[m.group("q").lower()]
            inner_gene = m.group("gene") if not m.group("q2") else None
            if inner_gene and not _is_gene(inner_gene.strip()):
                continue
            if not inner_gene and not _has_pgx_context(text, m.start(), m.end()):
                continue
            gene = _canon_gene(inner_gene.strip()) if inner_gene else _gene_prefix(text, m.start())
            found.append(_mention(text, m.start(), m.end(), "PHENOTYPE", f"{gene} {norm}" if gene else norm, "function"))
    if "activity" in low:
        for m in _ACTIVITY.finditer(text):
            g = m.group("gene")
            if g and not _is_gene(g):
                continue
            if not g and not _has_pgx_context(text, m.start(), m.end()):
                continue
            norm = _ACT_NORM[m.group("q").lower()]
            gene = _canon_gene(g) if g else _gene_prefix(text, m.start())
            if m.group("gene2"):
                gene = None  # "reduced TPMT or NUDT15 activity": no single gene
            if gene == "DPD":
                gene = "DPYD"
            found.append(_mention(text, m.start(), m.end(), "PHENOTYPE", f"{gene} {norm}" if gene else norm, "function"))
        for m in _ACTIVITY_SCORE.finditer(text):
            norm = f"Activity Score {m.group('v')}" if m.group("v") else "Activity Score"
            found.append(_mention(text, m.start(), m.end(), "PHENOTYPE", norm, "function"))
    if "eficien" in low:
        for m in _DEFICIENCY.finditer(text):
            enz = m.group("enz") or m.group("enz2")
            key = re.sub(r"\s+", " ", re.sub("[" + _DASH + "]", "-", enz.lower()))
            key = key.replace("s-methyl", "s-methyl").replace("methyl transferase", "methyltransferase")
            key = key.replace("glucose 6 phosphate", "glucose-6-phosphate").replace("glucose-6 phosphate", "glucose-6-phosphate")
            gene = _DEFICIENCY_ENZ.get(key) or _DEFICIENCY_ENZ.get(key.replace("nadh-", "nadh "))
            if gene is None and re.fullmatch(r"cyp\d{1,2}[a-z]{1,2}\d{1,3}", key):
                gene = key.upper()  # "deficient in the CYP2D6 enzyme": a poor metabolizer in other words
            norm = f"{gene} Deficiency" if gene else "Deficiency"
            found.append(_mention(text, m.start(), m.end(), "PHENOTYPE", norm, "deficiency"))
    return resolve_overlaps(found)


# ---------------------------------------------------------------------------
# combining

_LABEL_RANK = {"ALLELE": 0, "VARIANT": 1, "PHENOTYPE": 2}


def resolve_overlaps(mentions: Iterable[Mention]) -> list[Mention]:
    """Keep a non-overlapping subset: longest first, then ALLELE > VARIANT > PHENOTYPE, then leftmost."""
    ranked = sorted(mentions, key=lambda m: (-(m.end - m.start), _LABEL_RANK.get(m.label, 9), m.start))
    starts: list[int] = []  # kept spans, sorted; they never overlap, so ends are sorted too
    ends: list[int] = []
    kept: list[Mention] = []
    for m in ranked:
        i = bisect.bisect_right(starts, m.start)
        if i > 0 and ends[i - 1] > m.start:  # the kept span starting at or before m reaches into it
            continue
        if i < len(starts) and starts[i] < m.end:  # the next kept span starts inside m
            continue
        starts.insert(i, m.start)
        ends.insert(i, m.end)
        kept.append(m)
    kept.sort(key=lambda m: (m.start, m.end))
    return kept


# APOE's alleles are written ε2, ε3, ε4 (or є, or E after "apo E"/"genotype"): "27 with є2/є2 and 4
# with apo E mutation", "genotypes: 14 apo E2/E2", "46 patients with genotype E2/E2". The Greek (or
# Cyrillic) epsilon names APOE alone; a bare "E2/E2" (E2 is also estradiol) needs "apo" or a genotype
# word right before it.
_APOE_EPS = "\u03b5\u0454"  # ε, є
_APOE_APO = (r"(?:[Aa]po[" + _DASH + r"\s]?|[Aa]polipoprotein\s+)(?=E[234])"  # apo E2/E2
             r"|(?:[Aa]po[" + _DASH + r"\s]?E|APOE|[Aa]polipoprotein\s+E)[" + _DASH + r"\s]?(?=[" + _APOE_EPS + r"])")  # APOE ε4
_APOE = re.compile(
    r"(?<![A-Za-z0-9])(?:(?P<apo>" + _APOE_APO + r")|(?P<geno>genotypes?:?\s+(?:\d{1,4}\s+)?))?"
    r"(?P<e1>[" + _APOE_EPS + r"]|E)(?P<n1>[234])"
    r"(?:\s?/\s?(?P<e2>[" + _APOE_EPS + r"]|E)(?P<n2>[234]))?"
    r"(?P<word>\s+(?:alleles?|carriers?|homozygo\w*|heterozygo\w*|genotypes?))?(?![A-Za-z0-9])",
)
_APOE_CUE = re.compile(r"[" + _APOE_EPS + r"]|[Aa]po|APO|E[234]\s?/")


def find_apoe_alleles(text: str) -> list[Mention]:
    """APOE alleles and genotypes (label ALLELE, norm "APOE ε2/ε2"): a gene named by its variant."""
    if not _APOE_CUE.search(text):
        return []
    found = []
    for m in _APOE.finditer(text):
        greek = m.group("e1") in _APOE_EPS
        pair = m.group("n2") is not None
        if not (greek and (pair or m.group("word") or m.group("apo")) or m.group("apo") or (m.group("geno") and pair)):
            continue
        norm = f"APOE \u03b5{m.group('n1')}" + (f"/\u03b5{m.group('n2')}" if pair else "")
        start = m.start("e1") if m.group("geno") else m.start()
        found.append(_mention(text, start, m.end("n2") if pair else m.end("n1"), "ALLELE", norm,
                              "diplotype" if pair else "allele"))
    return found


def find_all(text: str, *, generic: bool = False) -> list[Mention]:
    """VARIANT, ALLELE and PHENOTYPE mentions of one text, sorted by start, overlaps resolved.

    generic=True also returns gene-level variation phrases ("CYP2D6 genotype").
    """
    if not text:
        return []
    return resolve_overlaps([*find_alleles(text), *find_apoe_alleles(text), *find_variants(text, generic=generic),
                             *find_phenotypes(text)])
