"""PGx facts read from label table cells: a dose, a fraction of the dose, an exposure ratio or a
recommendation, for the genotype or phenotype its row and column headers name.

Why: a dose-by-genotype table ("VKORC1 AA" x "CYP2C9 *1/*3" -> "0.5-2 mg") is the label's most
exact PGx statement, and flattened into text it is no sentence any rule can read (issue 17,
"tables as tables"). Kept as a grid (`pgxlit.ingest.tables`), each body cell has headers, and the
headers say whose value it is.

The reading is general: headers are read by the same recognisers and lexicons as sentences (gene
symbols, star alleles and diplotypes, HLA alleles, rs ids, metabolizer statuses, activity
scores), plus a two-letter genotype ("GG", "A/G") under a gene's header. A cell becomes a triple
only when its headers name a genotype-level factor (a gene alone, as in "Enzyme: CYP2C9 |
Inhibitors: ...", is an interaction table, not PGx) and its text is a value of a kind that says
what to do or how exposure changes. Each triple cites its table and body row: the evidence
sentence renders the cell with its headers, "Table 1 (Warfarin doses ...), row VKORC1 AA, column
CYP2C9 *1/*3: 0.5-2 mg [Table 1, row 3]". Pure: records in, triples out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from pgxlit.extract.actions import AVOID, DOSE, NO_ACTION, read_action
from pgxlit.extract.lexicons import load_lexicons
from pgxlit.extract.pipeline import PgxEntityRecognizer, extractor_name
from pgxlit.ingest.tables import HEADER_JOIN, Cell, iter_table_cells, table_id
from pgxlit.records import Evidence, LabelVersion, Mention, Section, Table, Triple

if TYPE_CHECKING:
    from pgxlit.extract.triples import Subject

# Appended to the extractor name on every table triple ("rules+ner+rel-0.16+table"); the store's
# extraction state uses the plain name, whose version was raised when table reading was added.
TABLE_READER = "table"
MAX_LABEL = 60  # a row's label cell ("Dose 600 mg (24 h)", "First occurrence"); a longer one is an instruction
MAX_CELL = 400  # a longer cell is prose set in a table: the sentence rules' business, not a value
CONFIDENCE = {"dose": 0.9, "fraction": 0.9, "recommendation": 0.85, "exposure": 0.8}

# A two-allele genotype written under a gene or variant header: "GG", "A/G", "CT", "del/del".
_GENOTYPE = re.compile(r"(?<![\w*])([ACGT]{1,3}|del|ins)\s?/?\s?([ACGT]{1,3}|del|ins)(?![\w*])")
_DOSE_VALUE = re.compile(
    r"\d[\d.,]*\s*(?:(?:-|–|to)\s*\d[\d.,]*\s*)?(?:mg|mcg|µg|μg|g|mL|units?|IU)\b(?:\s*/\s*(?:kg|m2|m²|day|d|dose))?",
    re.I)
_FRACTION = re.compile(r"\b\d+(?:\.\d+)?\s?%|\bone[- ]half\b|\bhalf\b|\bone[- ]third\b|\btwo[- ]thirds\b"
                       r"|\bone[- ]quarter\b|\bquarter\b", re.I)
_DOSE_WORD = re.compile(r"\bdos(?:e|es|age|ing)\b", re.I)
_EXPOSURE_WORD = re.compile(r"\bAUC|\bC\s?max\b|\bC\s?min\b|\bexposure\b|\bclearance\b|\bCL/F\b|\bhalf-life\b"
                            r"|\bt1/2\b|\bt½|\bconcentrations?\b|\bratio\b|-?fold\b|\bpharmacokinetic", re.I)
_CHANGE = re.compile(r"fold\b|[↑↓]|\b(?:increase|decrease)d?\b|\bhigher\b|\blower\b", re.I)
_CHANGE_HEADER = re.compile(r"\bratio\b|fold\b|\bchange\b|\bincrease\b|\bdecrease\b|\brelative to\b|\bvs\.?\b", re.I)
# A table about metabolizer status: its headers may say "Poor (n=10)" or "PM" and mean the status.
_STATUS_TABLE = re.compile(r"metaboli[sz]er|phenotype", re.I)
_BARE_STATUS = re.compile(r"(?:^|(?<=/ ))(poor|intermediate|normal|extensive|rapid|ultra-?rapid)\b(?!\s*metaboli)", re.I)
_STATUS_CONTEXT = " (metabolizer)"  # lets the grammar read "PM", "EMs" as statuses in a status table
_STATUS_ABBR = re.compile(r"(?<![\w-])(?:PM|IM|EM|NM|RM|UM|URM|UEM)s?(?![\w-])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_LEADING_NUMBER = re.compile(r"^[\s↑↓~≈<>≤≥±+-]*\d")  # "↑ 4.2-fold", "1.6±1.5", "11 (4)"; not "AUC24 (ng•h/mL)"
# Headers that make a cell's value hold only with another drug: a drug-drug(-gene) interaction.
_INTERACTION = re.compile(r"\binhibit\w*|\binduc\w*|\bconcomitant\w*|\bco-?administ\w*|\binteract\w*", re.I)
_TABLE_NUMBER = re.compile(r"^\s*(Table\s+\d+[A-Za-z]?)\s*[:.\-–—]?\s*(.*)$", re.I | re.S)
_FOOTNOTE_MARKS = "†‡§¶*#"


@dataclass(frozen=True, slots=True)
class Factor:
    """A genotype or phenotype a header names, as a triple states it."""

    gene: str  # HGNC symbol
    gene_id: str
    variant: str  # "CYP2C9*1/*3", "Poor Metabolizer", "HLA-B*58:01", "rs9923231 AA", "VKORC1 AA"
    mention: Mention  # what the recogniser found (or a GENOTYPE mention made here)


@dataclass(frozen=True, slots=True)
class TableFact:
    """One body cell read as a PGx fact: its factors, what kind of value it is, and how it reads."""

    cell: Cell
    factors: tuple[Factor, ...]
    kind: str  # dose | fraction | exposure | recommendation
    rendering: str  # the evidence sentence
    interaction: bool = False  # the value holds with another drug (an inhibitor, a named co-medication)


@lru_cache(maxsize=1)
def _recognizer() -> PgxEntityRecognizer:
    return PgxEntityRecognizer()


@lru_cache(maxsize=4096)
def _mentions(text: str) -> tuple[Mention, ...]:
    return tuple(_recognizer().find(text))


def _genes_named(text: str) -> list[tuple[str, str]]:
    """(symbol, HGNC id) of each gene the text names itself, alone or inside an allele, in order."""
    from pgxlit.extract.factor_genes import gene_of
    from pgxlit.extract.triples import is_genetic_factor

    out: list[tuple[str, str]] = []
    mentions = _mentions(text)
    for m in mentions:
        if not is_genetic_factor(m) or (m.label == "PHENOTYPE" and not (m.norm or "").split(" ")[0].isupper()):
            continue
        symbol, hgnc = gene_of(m, (m,))
        if symbol and hgnc and (symbol, hgnc) not in out:
            out.append((symbol, hgnc))
    return out


def _pharmacogenes(text: str) -> list[tuple[str, str]]:
    from pgxlit.extract.factor_genes import is_pharmacogene

    return [(s, h) for s, h in _genes_named(text) if is_pharmacogene(s)]


def _variant_rsids(table: Table, gene: str) -> set[str]:
    """rs ids that the table's caption or notes name in a note about `gene` ("VKORC1-1639G>A
    (rs9923231) variant is used in this table"): what a bare genotype under that gene is of."""
    found: set[str] = set()
    for text in (table.caption or "", *table.notes):
        for piece in re.split(r"(?<=[.;])\s+", text):
            if any(g == gene for g, _ in _genes_named(piece)):
                found |= {m.norm or m.text for m in _mentions(piece) if m.kind == "rsid"}
    return found


def header_factors(header: str, table: Table, table_gene: tuple[str, str] | None,
                   status_table: bool = False) -> list[Factor]:
    """Genotype-level factors a header names: star alleles and diplotypes, HLA alleles, rs ids and
    other variants, metabolizer statuses and activity scores, and a bare genotype ("GG") under a
    gene. A gene alone is no factor. A factor that names no gene of its own takes the gene its
    header names, else `table_gene` (the one pharmacogene the table is about, if only one). In a
    `status_table` (one about metabolizer status or phenotype) "Poor (n=10)" and "PM" are statuses."""
    from pgxlit.extract.factor_genes import gene_of
    from pgxlit.extract.triples import is_genetic_factor, variant_of

    text = header
    if status_table:
        text = _BARE_STATUS.sub(lambda m: f"{m.group(1)} metabolizers", text)
        if table_gene is not None:  # "EM" in a CYP2D6 status table is a CYP2D6 status
            text = _STATUS_ABBR.sub(lambda m: m.group(0) if _gene_before(text, m.start()) else f"{table_gene[0]} {m.group(0)}",
                                    text)
    text = text.replace(HEADER_JOIN, " ")
    if status_table:
        mentions = tuple(m for m in _mentions(text + _STATUS_CONTEXT) if m.end <= len(text))
    else:
        mentions = _mentions(text)
    genes = [m for m in mentions if m.label == "GENE" and m.norm and "|" in m.norm]
    out: list[Factor] = []
    lex = load_lexicons()
    for m in mentions:
        if not is_genetic_factor(m) or m.label == "GENE":
            continue
        symbol, hgnc = gene_of(m, mentions)
        if symbol is None and table_gene is not None:
            symbol, hgnc = table_gene
        variant = variant_of(m)
        if symbol is None or hgnc is None or not variant:
            continue
        if m.kind == "rsid" or m.label == "VARIANT":
            genotype = _GENOTYPE.search(text, m.end)
            variant = f"{variant} {_genotype(genotype)}" if genotype and not text[m.end:genotype.start()].strip() else variant
        out.append(Factor(symbol, hgnc, variant, m))
    if not out and genes:
        taken = [(m.start, m.end) for m in mentions]
        for g in _GENOTYPE.finditer(text):
            if any(s <= g.start() < e for s, e in taken):
                continue
            gene = max((m for m in genes if m.end <= g.start()), key=lambda m: m.end, default=None)
            if gene is None:
                continue
            hgnc, symbol = gene.norm.split("|", 1)
            rsids = _variant_rsids(table, symbol)
            name = next(iter(rsids)) if len(rsids) == 1 else symbol
            found = lex.normalise_gene(symbol)
            if found:
                out.append(Factor(symbol, hgnc, f"{name} {_genotype(g)}",
                                  Mention(g.start(), g.end(), "VARIANT", g.group(0), None, "genotype", "table")))
    return out


def _gene_before(text: str, at: int) -> bool:
    words = text[:at].split()
    return bool(words) and load_lexicons().normalise_gene(words[-1].strip("(),;")) is not None


def _genotype(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}" if len(m.group(1)) == 1 == len(m.group(2)) else f"{m.group(1)}/{m.group(2)}"


def value_kind(cell: Cell, caption: str, section: str | None) -> str | None:
    """What a cell's value says, or None when it is no PGx value: a dose with its unit, a fraction
    of the dose, an exposure figure under an exposure header, or a recommendation."""
    text = " ".join(cell.text.split())
    if not text or len(text) > MAX_CELL:
        return None
    where = " ".join((cell.col_header, cell.row_header, cell.corner, caption))
    if AVOID.search(text) or NO_ACTION.search(text):
        return "recommendation"
    if _LEADING_NUMBER.match(text) and not _DOSE_VALUE.search(text) and _EXPOSURE_WORD.search(where + " " + text):
        # a change in exposure ("↑ 4.2-fold", a ratio column) is a fact about the genotype; a group's
        # own mean ("Cmax 11 (4)") is a measurement that says nothing until compared, and read as
        # a sentence its table's doses ("Dose 300 mg") look like a dose change
        return "exposure" if _CHANGE.search(text) or _CHANGE_HEADER.search(cell.col_header + " " + cell.row_header) else None
    if _DOSE_VALUE.search(text):
        return "dose"
    if _FRACTION.search(text) and (_DOSE_WORD.search(text) or _DOSE_WORD.search(cell.col_header)
                                   or _DOSE_WORD.search(cell.row_header)):
        return "fraction"
    if not _NUMBER.fullmatch(text.strip(" ()%")) and (
            DOSE.search(text) or read_action(text, section, "dosage", "fda_label").strength >= 2):
        return "recommendation"
    return None


def table_name(table: Table, tid: str, section: Section) -> tuple[str, str]:
    """(the table as a reader names it, the short name a citation uses): "Table 1 (Three Ranges of
    ...)" and "Table 1"; a table without a number is named by its caption or its section."""
    caption = " ".join((table.caption or "").split()).rstrip(_FOOTNOTE_MARKS + " ")
    m = _TABLE_NUMBER.match(caption)
    if m:
        number, rest = m.group(1).title(), m.group(2).strip().rstrip(_FOOTNOTE_MARKS + " ")
        return (f"{number} ({rest})" if rest else number), number
    from pgxlit.sections import section_title

    where = section_title((section.field or "").removesuffix("_table") or section.loinc)
    short = f"Table {tid}" if table.id else f"Table {tid.rsplit('#', 1)[-1]} of {where}"
    return (f"{short} ({caption})" if caption else short), short


def _side(*parts: str) -> str:
    return " ".join(p.replace(HEADER_JOIN, " ") for p in parts if p).strip()


def render(cell: Cell, name: str, short: str, row_names_gene: bool, row_labels: Sequence[str] = ()) -> str:
    """The evidence sentence: the table, the cell's row and column headers, its value, and where.
    `row_labels` are the row's other label cells ("Dose 600 mg (24 h)") when the factor is a column's."""
    row = _side(cell.corner, cell.row_header) if row_names_gene else _side(cell.row_header)
    row = ", ".join(x for x in (row, *row_labels) if x)
    col = _side(cell.col_header)
    where = ", ".join(x for x in (f"row {row}" if row else "", f"column {col}" if col else "") if x)
    value = " ".join(cell.text.split())
    return f"{name}, {where}: {value} [{short}, row {cell.row_index + 1}]" if where else \
        f"{name}: {value} [{short}, row {cell.row_index + 1}]"


def table_facts(table: Table, tid: str, section: Section, own_names: frozenset[str] = frozenset()) -> Iterator[TableFact]:
    """The PGx facts of one table, cell by cell; `own_names` are the label's drug's names (lower
    case), so another drug named in a header marks the cell as an interaction."""
    caption = table.caption or ""
    headers = " ".join([caption, *(c for row in table.header for c in row)])
    genes = _pharmacogenes(headers)
    table_gene = genes[0] if len(genes) == 1 else None
    status_table = bool(_STATUS_TABLE.search(" ".join([headers, *table.notes])))
    name, short = table_name(table, tid, section)
    section_code = section.field or section.loinc or section.title
    cells = list(_continued(iter_table_cells(table, tid)))
    col_headers = {c.col_index: c.col_header for c in cells}
    factor_cols = {k for k, h in col_headers.items() if header_factors(h, table, table_gene, status_table)}
    for cell in cells:
        if _cell_is_factor(cell.text):
            continue  # a genotype list ("*1/*3, *2/*2") is the row's factor, not its value
        corner_gene = bool(cell.corner and any(m.label == "GENE" for m in _mentions(cell.corner)))
        row_text = _side(cell.corner, cell.row_header) if corner_gene else cell.row_header
        row_factors = header_factors(row_text, table, table_gene, status_table)
        factors = _one_side_per_gene(row_factors, row_text,
                                     header_factors(cell.col_header, table, table_gene, status_table), cell.col_header)
        if not factors:
            continue
        row_labels: list[str] = []
        if not row_factors:  # the factor is the column's
            row = table.rows[cell.row_index]
            if len(row) > 2 and all(c == row[1] for c in row[1:]):
                continue  # one cell across the row ("Initiate loperamide ..."): no column's own value
            # label columns left of the factor columns, under short headers ("Dose", "Occurrence")
            first_factor = min(factor_cols, default=cell.col_index)
            row_labels = [_side(col_headers.get(k, ""), row[k]) for k in range(1, min(first_factor, cell.col_index))
                          if row[k] and row[k] != row[k - 1] and len(row[k]) <= MAX_LABEL
                          and len(col_headers.get(k, "").split()) <= 3 and not AVOID.search(row[k])]
        kind = value_kind(cell, caption, section_code)
        if kind is None:
            continue
        seen: dict[tuple[str, str], Factor] = {}
        for f in factors:
            seen.setdefault((f.gene, f.variant), f)
        yield TableFact(cell, tuple(seen.values()), kind, render(cell, name, short, corner_gene, row_labels),
                        _is_interaction(cell, own_names))


def reading_table(table: Table) -> Table:
    """The table as its headers read: a first body row of column names over an empty corner (""
    | "AUC24 (ng•h/mL)" | "Cmax (ng/mL)" ...: a header level the markup left in the body) joins
    the header. Call once per table: citations count body rows of this reading."""
    if len(table.rows) < 2:
        return table
    first = table.rows[0]
    words = [c for c in first[1:] if c]
    if first[0] or len(words) < 2 or any(sum(ch.isdigit() for ch in c) > len(c) / 3 for c in words):
        return table
    if _DOSE_VALUE.search(" ".join(words)) or any(_LEADING_NUMBER.match(c) for c in words):
        return table
    return replace(table, header=(*table.header, first), rows=table.rows[1:])


def _continued(cells: Iterator[Cell]) -> Iterator[Cell]:
    """Cells whose row leaves its first column empty belong to the row header above ("Cmax (ng/mL)"
    over "300 mg", then "", "600 mg", ...): the label prints the header once for the block."""
    last: tuple[int, str] = (-1, "")
    for cell in cells:
        if cell.row_header and cell.row_index != last[0]:
            last = (cell.row_index, cell.row_header)
        elif not cell.row_header and last[1] and cell.row_index >= last[0]:
            cell = replace(cell, row_header=last[1])
        yield cell


def _one_side_per_gene(row: list[Factor], row_text: str, col: list[Factor], col_text: str) -> list[Factor]:
    """The factors of both headers, each gene from one side only: a column header that also names
    statuses ("7.5 mg (N = 68 EM, 5 PM)") over rows of statuses ("EM", "PM") counts patients, it
    does not say whose the value is. The side whose header is most nearly the factor itself wins."""
    def cover(factors: list[Factor], text: str, gene: str) -> float:
        return sum(len(f.mention.text) for f in factors if f.gene == gene) / max(len(text.strip()), 1)

    out = list(row)
    row_genes = {f.gene for f in row}
    for f in col:
        if f.gene not in row_genes:
            out.append(f)
    for gene in row_genes & {f.gene for f in col}:
        if cover(col, col_text, gene) > cover(row, row_text, gene):
            out = [f for f in out if f.gene != gene] + [f for f in col if f.gene == gene]
    return out


def _is_interaction(cell: Cell, own_names: frozenset[str]) -> bool:
    """Does the cell's value hold only with another drug? Its headers speak of inhibitors, inducers
    or co-administration, or name a drug that is not the label's. (The caption does not count:
    "Dose Adjustments for CYP2D6 Poor Metabolizers and Patients Taking Inhibitors" has rows of both.)"""
    headers = " ".join((cell.corner, cell.row_header, cell.col_header))
    if _INTERACTION.search(headers):
        return True
    lex = load_lexicons()
    for m in _mentions(headers):
        if m.label == "DRUG" and m.norm and "|" in m.norm and "metabolite" not in headers.lower():
            name = m.norm.split("|", 1)[1].lower()
            if name not in own_names and m.text.lower() not in own_names and not lex.is_not_a_drug(name):
                return True
    return False


def _cell_is_factor(text: str) -> bool:
    """Is the cell itself a genotype or phenotype (what the row is about), with little else in it?"""
    from pgxlit.extract.triples import is_genetic_factor

    covered = sum(m.end - m.start for m in _mentions(text) if is_genetic_factor(m))
    return covered > 0 and covered >= 0.5 * len(text.strip())


def _row_cells(table: Table, cell: Cell) -> list[list[str]]:
    """The cell's row as the text may write it: every slot, or spans collapsed (as `table_text` does)."""
    row = list(table.rows[cell.row_index])
    collapsed: list[str] = []
    for c in row:
        if not collapsed or c != collapsed[-1] or not c:
            collapsed.append(c)
    return [row, collapsed]


def _row_span(text: str, table: Table, cell: Cell, within: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """Offsets of the cell's row in `text` (a table section renders rows as "a | b"; prose runs the
    cells together with any spacing), searched within `within` when given; None when not found."""
    lo, hi = within or (0, len(text))
    for cells in _row_cells(table, cell):
        words = [c for c in cells if c.strip()]
        if not words:
            continue
        pattern = r"(?:\s*\|?\s*)".join(r"\s*".join(map(re.escape, w.split())) for w in words)
        m = re.compile(pattern).search(text, lo, hi)
        if m:
            return m.start(), m.end()
    return None


def _where(section: Section, prose: Section | None, table: Table, tid: str) -> tuple[Section, tuple[int, int] | None]:
    """The section a table's triples cite and the table's span in its text. openFDA writes a
    field's tables into the field's prose too ("dosage_and_administration" holds the tables of
    "dosage_and_administration_table"): citing the prose section puts the row where readers, the
    index and the answerer find it. Else the table's own section."""
    from pgxlit.ingest.tables import locate_table

    for owner in ([prose] if prose is not None else []) + [section]:
        span = locate_table(owner.text, table, tid) if owner.text else None
        if span is not None:
            return owner, (span.start, span.end)
    return section, None


def section_table_triples(label: LabelVersion, section: Section, drug: str, drug_id: str | None,
                          own_names: frozenset[str] = frozenset(), prose: Section | None = None) -> list[Triple]:
    """Triples of every table of one label section, for the label's own drug; `prose` is the
    section whose text also writes these tables out (openFDA's field for a ``X_table`` field). A
    cell that holds only with another drug (eliglustat's "CYP2D6 PMs | strong CYP3A inhibitor:
    Contraindicated") is kept as a triple but not flagged PGx: it is an interaction, and read as
    PGx it would tell every poor metabolizer to avoid the drug."""
    from pgxlit.extract.triples import origin_of

    out: list[Triple] = []
    extractor = f"{extractor_name()}+{TABLE_READER}"
    for k, parsed in enumerate(section.tables):
        table = reading_table(parsed)
        tid = table_id(section, k)
        facts = list(table_facts(table, tid, section, own_names | {drug.lower()}))
        if not facts:
            continue
        cited, span = _where(section, prose, parsed, tid)
        name = cited.field or cited.loinc or cited.title
        for fact in facts:
            start, end = _row_span(cited.text, table, fact.cell, span) or span or (0, 0)
            evidence = Evidence(source="fda_label", sentence=fact.rendering, start=start, end=end,
                                set_id=label.set_id, version=label.version, section=name,
                                effective_time=label.effective_time)
            effect = {"dose": "dosage", "fraction": "dosage", "exposure": "metabolism"}.get(fact.kind) or (
                "dosage" if _DOSE_WORD.search(fact.cell.text) else "toxicity" if AVOID.search(fact.cell.text) else "other")
            for f in fact.factors:
                origin = origin_of(fact.rendering, f.mention, [f.mention], f.gene)
                if f.mention.label == "VARIANT" and origin == "unknown":
                    origin = "germline"  # a genotype a patient has, read from a row or column header
                out.append(Triple(
                    drug=drug, drug_id=drug_id, gene=f.gene, gene_id=f.gene_id, variant=f.variant,
                    relation="influences", effect=effect, negated=False, hedged=False,
                    confidence=CONFIDENCE[fact.kind], pgx=origin != "somatic" and not fact.interaction,
                    evidence=evidence, extractor=extractor, origin=origin,
                ))
    return out


def label_table_triples(label: LabelVersion, subject: Subject | None, skip_sections: Sequence[str] = ()) -> list[Triple]:
    """Triples of every table of a label, for its own drug (`label_subject`); none without one.
    Tables of `skip_sections` (package labels, storage: no PGx) are not read."""
    if subject is None:
        return []
    out: list[Triple] = []
    by_field = {s.field: s for s in label.sections if s.field and not s.is_table}
    for section in label.sections:
        field = (section.field or "").removesuffix("_table")
        if section.tables and field not in skip_sections:
            prose = by_field.get(field) if section.is_table else None
            out += section_table_triples(label, section, subject.name, subject.drug_id, subject.aliases, prose)
    # openFDA repeats a subsection's tables in its parent's field (pharmacokinetics_table inside
    # clinical_pharmacology_table): one triple per fact, from the first field that has it
    seen: set[tuple[str | None, str | None, str]] = set()
    unique = []
    for t in out:
        key = (t.gene, t.variant, t.evidence.sentence)
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return unique
