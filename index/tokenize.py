"""Lexical tokens that keep pharmacogenomic names whole.

Generic tokenisers cut `CYP2C19*2` into `cyp2c19` and `2`, and `HLA-B*57:01` into four
pieces, so an exact allele query matches every passage that names the gene. Here an allele,
HLA allele, rs number or HGVS name stays one token, and its gene is added beside it so a
question about the gene still finds passages about its alleles.
"""

from __future__ import annotations

import re

# An allele or variant: a word followed by *, :, / or . joined parts (CYP2C19*2, HLA-B*57:01,
# c.1905+1G>A, *1/*2), else a plain word or number.
TOKEN = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9-]*)?\*[0-9]+[A-Za-z0-9]*(?::[0-9]+)*(?:/\*[0-9]+[A-Za-z0-9]*)?"
    r"|[cgp]\.[A-Za-z0-9_+\->]+"
    r"|rs[0-9]+"
    r"|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
)

STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have how i if in into is it "
    "its may me might must my no not of on or our should so such than that the their them then there these they "
    "this those to was we were what when where which while who whom why will with would you your before after "
    "about any all also other patients patient use used using".split()
)


def lexical_tokens(text: str) -> list[str]:
    """Lower-cased tokens for BM25; allele-like tokens keep their gene as an extra token."""
    out: list[str] = []
    for match in TOKEN.finditer(text):
        token = match.group(0).lower()
        if token in STOPWORDS or (len(token) == 1 and not token.isdigit()):
            continue
        out.append(token)
        if "*" in token and not token.startswith("*"):
            gene, alleles = token.split("*", 1)
            out.append(gene)  # cyp2c19*2 -> also cyp2c19
            if "/" in alleles:  # cyp2c19*2/*3 -> also cyp2c19*2 and cyp2c19*3
                out += [f"{gene}*{a.lstrip('*')}" for a in alleles.split("/")]
    return out
