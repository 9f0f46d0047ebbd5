"""Pattern grammars for the pharmacogenomic entities a lexicon cannot list.

Pure functions over one raw text string (a sentence, an abstract, a label
section); no tokenizer, no spaCy, no I/O. Every finder returns
``list[Mention]`` with exact character offsets into the string it was given
(``text[m.start:m.end] == m.text``), ``source="grammar"``, sorted by start and
without overlaps among its own results.

- ``find_variants``   label VARIANT: rsIDs, HGVS c./g./m./n./p., IVS notation,
  bare nucleotide changes (``3435C>T``, ``C3435T``, ``-1639G>A``) and protein
  changes (``V600E``, ``Arg144Cys``, ``Val(158)Met``).
- ``find_alleles``    label ALLELE: star alleles (``CYP2D6*4``, ``TPMT*3A``,
  ``CYP2D6*1xN``), diplotypes (``CYP2C19*2/*17``, stand-alone ``*1/*3``), HLA
  alleles (``HLA-B*57:01``, ``HLA-B*5701`` -> norm ``HLA-B*57:01``).
- ``find_phenotypes`` label PHENOTYPE: metabolizer statuses, function/activity
  phrases, enzyme deficiencies.
- ``find_all``        the union, overlaps resolved (longest first, then
  ALLELE > VARIANT > PHENOTYPE).

Norms
-----
- rsID: ``rs9923231`` (lower case, no space).
- HGVS: the mention without spaces, ``c.1905+1G>A``; protein changes go to the
  three-letter HGVS form ``p.Val433Met`` (``V433M``, ``p.V433M``,
  ``p.(Val433Met)`` all normalise to it); bare nucleotide changes become
  ``3435C>T`` / ``-1639G>A`` (``C3435T``, ``G-1639A``, ``677C-->T``, ``250G/A``
  included); IVS ``IVS14+1G>A``. When a gene symbol immediately precedes the
  variant (``VKORC1 -1639G>A``, ``ABCB1 C3435T``, ``BRAF V600E``) the norm is
  prefixed ``GENE:`` (``VKORC1:-1639G>A``); the span stays the variant only so
  it does not swallow the GENE mention a lexicon finds.
- star allele ``CYP2C19*2``; diplotype ``CYP2C19*2/*17``; HLA ``HLA-B*57:01``;
  HLA diplotype ``HLA-E*01:01/*01:03``; serotype as written (``HLA-B27``,
  ``HLA-Cw6`` -> ``HLA-C*06``).
- phenotype: ``Poor Metabolizer``, ``Intermediate Metabolizer``, ``Normal
  Metabolizer`` (extensive -> normal), ``Rapid Metabolizer``, ``Ultrarapid
  Metabolizer``, ``Indeterminate Metabolizer``; ``No Function``, ``Decreased
  Function``, ``Normal Function``, ``Increased Function``, ``Poor Function``;
  ``Activity Score`` (``Activity Score 1.5`` when a value follows);
  ``<GENE> Deficiency`` (``DPYD Deficiency`` for "DPD deficiency", plain
  ``Deficiency`` when no enzyme is named). A metabolizer/function phrase right
  after a gene symbol gets it as prefix: ``CYP2D6 Poor Metabolizer``.

The phenotype vocabulary follows PharmCAT's phenotypes.tsv
(shared/vocab/pharmcat_allele_definitions/phenotypes.tsv, MPL-2.0).

All quantifiers are bounded and every pattern that opens on a character run has
a look-behind that stops it restarting inside the run, so a finder is linear in
the text length (100 KB of noise takes milliseconds).
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
    up = token.upper()
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
# C3435T, G-1639A, A118G; also one-letter protein changes V600E, R144C, F508del
_LETTER_POS_LETTER = re.compile(
    r"(?<![A-Za-z0-9.+_*])(?P<rt>rt)?(?P<wt>[" + _AA1 + r"])(?P<pos>[" + _SIGN + r"]?\d{2,5})"
    r"(?P<mt>[" + _AA1 + r"X*](?:/[" + _AA1 + r"]){0,3}|del|fs)(?![A-Za-z0-9])"
)
_THREE_LETTER = re.compile(
    r"(?<![A-Za-z0-9])(?P<wt>" + _AA3_ALT + r")(?P<sep1>\s?-?\s?\(?\s?)(?P<pos>\d{1,5})(?:\s?/\s?\d{1,5})?"
    r"(?P<sep2>\s?\)?\s?-?\s?)(?P<mt>" + _AA3_ALT + r"|Ter|Stop|fs|del)(?![a-z])",
    re.IGNORECASE,
)
# well-known promoter positions written glued to the gene with a hyphen
# ("VKORC1-1639G>A" means VKORC1 -1639G>A, while "CYP2B6-516G>T" means 516G>T).
_PROMOTER_POSITIONS = {
    "VKORC1": {"1639"}, "TNF": {"308", "238"}, "IL10": {"1082", "819", "592"},
    "IL6": {"174"}, "VEGF": {"2578", "1154", "460"}, "VEGFA": {"2578", "1154", "460"},
}
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
    g = _gene_right_before(text, start)
    return f"{_canon_gene(g.group(1))}:{change}" if g else change


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


def find_variants(text: str) -> list[Mention]:
    """rsIDs, HGVS, IVS, nucleotide and protein changes (label VARIANT)."""
    if not text or not any(ch.isdigit() for ch in text[:200000]):
        return []
    found: list[Mention] = []
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
    for m in _LETTER_POS_LETTER.finditer(text):
        wt, pos, mt = m.group("wt"), m.group("pos"), m.group("mt")
        token = m.group(0)
        if token.upper() in _NOT_PROTEIN_CHANGE or wt == mt:
            continue
        if _FIGURE_REF.search(text, max(0, m.start() - 16), m.start()):
            continue
        npos = pos.lstrip(_SIGN)
        signed = npos != pos
        if wt in "ACGT" and mt in ("A", "C", "G", "T") and (signed or int(npos) >= 100):
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
_STAR_GENE = re.compile(
    r"(?<![A-Za-z0-9*])(?P<gene>" + _GENE_SHAPE + r")[ \t]{0,2}\*[ \t]{0,2}(?P<a1>" + _STAR_BODY + r")"
    r"(?:(?:[ \t]{0,2}/[ \t]{0,2}(?:(?P=gene)[ \t]{0,2})?\*?|\*)[ \t]{0,2}(?P<a2>" + _STAR_BODY + r"))?"
    r"(?![A-Za-z0-9_:]|\.\d)"
)
_STAR_ALONE = re.compile(
    r"(?<![A-Za-z0-9*_])\*[ \t]{0,2}(?P<a1>" + _STAR_BODY + r")"
    r"(?:[ \t]{0,2}/[ \t]{0,2}\*[ \t]{0,2}(?P<a2>" + _STAR_BODY + r"))?"
    r"(?![A-Za-z0-9_:]|\.\d)"
)
_HLA_LOCUS = r"(?:A|B|C|E|F|G|DRB[1-9]|DRA|DQA1|DQB1|DPA1|DPB1|MICA)"
_HLA_FIELDS = r"\d{2,3}(?::\s?\d{2,3}){1,3}[NLSQCA]?"
_HLA = re.compile(
    r"(?<![A-Za-z0-9])HLA(?:[" + _DASH + r"]\s?|\s)?(?P<locus>" + _HLA_LOCUS + r")"
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


def _context_gene(text: str, start: int, end: int, anchors: list[tuple[int, str]]) -> str | None:
    """The gene a stand-alone star allele at [start, end) belongs to.

    The nearest gene before it within 160 characters of the same sentence (an
    attached star allele or a bare gene symbol), else a gene symbol within 30
    characters after it.
    """
    best = None
    i = bisect.bisect_right(anchors, (start, "~"))
    if i > 0 and start - anchors[i - 1][0] <= 160:
        best = anchors[i - 1]
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
            if not _is_gene(gene) or taken[m.start()]:
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
        for m in _STAR_ALONE.finditer(text):
            if taken[m.start()]:
                continue
            a1 = _star_norm(m.group("a1"))
            gene = _context_gene(text, m.start(), m.end(), anchors)
            if m.group("a2"):
                a2 = _star_norm(m.group("a2"))
                norm = f"{gene}*{a1}/*{a2}" if gene else f"*{a1}/*{a2}"
                found.append(_mention(text, m.start(), m.end(), "ALLELE", norm, "diplotype"))
            elif gene:
                found.append(_mention(text, m.start(), m.end(), "ALLELE", f"{gene}*{a1}", "star_allele"))
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
    r"(?P<tail>\s{1,2}(?:CYP\d{1,2}[A-Z]{1,2}\d{1,3}\s{1,2})?(?:metaboli[sz]ers?|acetylators?))(?![a-z])",
    re.IGNORECASE,
)
_ADJ_ONE = re.compile(_MET_ADJ, re.IGNORECASE)
_MET_ABBR = {"PM": "Poor Metabolizer", "IM": "Intermediate Metabolizer", "EM": "Normal Metabolizer",
             "NM": "Normal Metabolizer", "RM": "Rapid Metabolizer", "UM": "Ultrarapid Metabolizer",
             "URM": "Ultrarapid Metabolizer", "UEM": "Ultrarapid Metabolizer"}
_ABBR_DEF = re.compile(r"\s{0,2}\(\s{0,2}(?P<ab>PM|IM|EM|NM|RM|UM|URM|UEM)s?\s{0,2}[);,]")
_ABBR = re.compile(r"(?<![A-Za-z0-9\-])(?P<ab>PM|IM|EM|NM|RM|UM|URM|UEM)(?P<pl>s)?(?![A-Za-z0-9\-])")
_FUNCTION = re.compile(
    r"(?<![A-Za-z])(?P<q>no|null|non|decreased|reduced|diminished|impaired|increased|normal|loss|gain|poor|"
    r"partial|low|decrease)(?:[" + _DASH + r"\s]of)?[" + _DASH + r"\s]function(?![a-z])"
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
    r"normal|high|increased|elevated)\s{1,2}(?:(?P<gene>" + _GENE_SHAPE + r"|DPD|NAT)\s{1,2})?"
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
    r"(?<![A-Za-z])activity\s{1,2}scores?(?:\s{0,2}\(AS\))?"
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
    r"|ornithine\s+transcarbamylase)"
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
    abbr_defined: dict[str, str] = {}
    if "metaboli" in low or "acetylat" in low:
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
                    abbr_defined[ab] = norm
    # abbreviations: defined in this text "(PMs)", or right after a CYP gene ("CYP2D6 PMs")
    if "M" in text:
        for m in _ABBR.finditer(text):
            ab = m.group("ab")
            gene = _gene_prefix(text, m.start())
            if gene is not None and not gene.startswith(("CYP", "NAT", "UGT", "TPMT", "DPYD", "NUDT")):
                gene = None
            if ab in abbr_defined:
                norm = abbr_defined[ab]
            elif gene is not None and ("metaboli" in low or m.group("pl")):
                norm = _MET_ABBR[ab]
            else:
                continue
            found.append(_mention(text, m.start(), m.end(), "PHENOTYPE", f"{gene} {norm}" if gene else norm, "metabolizer"))
    if "unction" in low:
        for m in _FUNCTION.finditer(text):
            if m.group("q2"):
                norm = "No Function"
            else:
                norm = _FUNC_NORM[m.group("q").lower()]
            if not _has_pgx_context(text, m.start(), m.end()):
                continue
            gene = _gene_prefix(text, m.start())
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


def find_all(text: str) -> list[Mention]:
    """VARIANT, ALLELE and PHENOTYPE mentions of one text, sorted by start, overlaps resolved."""
    if not text:
        return []
    return resolve_overlaps([*find_alleles(text), *find_variants(text), *find_phenotypes(text)])
