"""Gene and drug lexicons and a fast dictionary matcher.

The lexicons are compiled by ``tools/build_lexicons.py`` from HGNC and PharmGKB
(see ``corpora/lexicons/README.md`` for origin, licences and filtering rules)
and shipped as two small gzipped TSV files:

* ``genes.tsv.gz`` — ``term, symbol, hgnc_id, kind, case_sensitive, needs_context``
* ``drugs.tsv.gz`` — ``term, name, pharmgkb_id, rxnorm, kind``

``DictionaryMatcher.find(text)`` returns GENE and DRUG ``Mention``s with exact
character offsets: leftmost-longest, on token boundaries (a token is a run of
letters/digits or a single other character, so ``CYP2C19*2`` yields the GENE
span ``CYP2C19`` and ``CYP2D6-mediated`` yields ``CYP2D6``). Whitespace between
tokens is free (``HLA - B`` matches ``HLA-B``), tokens themselves are not.

Case rules: gene terms marked case-sensitive (symbols, aliases) match exactly;
gene names added by hand (``thiopurine methyltransferase``) and drug terms match
case-insensitively, except short drug abbreviations written with capitals in
the lexicon (``5-FU``, ``INH``, ``CsA``), which match exactly. Gene terms marked
``needs_context`` (symbols that are also English words or common abbreviations:
``MET``, ``SET``, ``CAT``, ``ACE``, ``HR``, ``CAD`` …) match only when a gene
word follows or precedes them (``MET gene``, ``ACE I/D polymorphism``,
``the CAT gene``, ``ACE*``) — never in all-caps prose or as ``10 PM``.

Symbols written with a digit also match in rodent-style capitalisation
(``Cyp2d6``, ``Nrf2`` -> the human HGNC gene), which PGx papers on animal models use.

Salts are folded: ``clopidogrel bisulfate`` is one DRUG span normalised to
``clopidogrel`` (any term of kind name/generic/trade followed by salt words
from ``SALT_WORDS``), and ``normalise_drug("Warfarin Sodium")`` gives warfarin.

Norms: GENE ``HGNC:2625|CYP2D6``; DRUG ``PA449053|clopidogrel``.

Not drugs: ``not_drugs.tsv.gz`` (``term, kind``) lists lab tests and enzymes (kind ``lab_test``)
and analytes, nutrients and endogenous compounds (kind ``analyte``). A lab test is matched like
any term, longest match first, and blocks what it covers without becoming a mention, so
"alanine aminotransferase" is neither the amino acid alanine nor a drug. Analytes stay DRUG
mentions (an abstract may study glucose), and `Lexicons.is_not_a_drug` lets label extraction
refuse them as the subject of a PGx statement ("bilirubin" in a laboratory table).
"""

from __future__ import annotations

import gzip
import hashlib
import marshal
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pgxlit.records import Mention
from pgxlit.shipped import shipped

GENES_FILE = "genes.tsv.gz"
DRUGS_FILE = "drugs.tsv.gz"
NOT_DRUGS_FILE = "not_drugs.tsv.gz"
NOT_DRUG_COLUMNS = ("term", "kind")
BLOCK = "BLOCK"  # the label of a lab-test term: it covers its words and yields no mention
GENE_COLUMNS = ("term", "symbol", "hgnc_id", "kind", "case_sensitive", "needs_context")
DRUG_COLUMNS = ("term", "name", "pharmgkb_id", "rxnorm", "kind")
SOURCE = "lexicon"

# Salt / ester / hydrate words that may follow a drug name and are folded into it
# ("warfarin sodium" -> warfarin). Shared with tools/build_lexicons.py. Lower case.
SALT_WORDS = frozenset("""
    hydrochloride hcl dihydrochloride monohydrochloride hydrobromide hbr hydroiodide
    sodium disodium potassium dipotassium calcium magnesium zinc aluminum
    sulfate sulphate bisulfate bisulphate hydrogen sulfate besylate besilate mesylate mesilate
    dimesylate tosylate ditosylate esylate edisylate napsylate camsylate isethionate
    maleate dimaleate citrate tartrate bitartrate hemitartrate succinate hemisuccinate fumarate
    hemifumarate phosphate diphosphate acetate diacetate lactate gluconate malate oxalate
    benzoate salicylate stearate palmitate pamoate embonate xinafoate nitrate chloride bromide
    iodide carbonate bicarbonate hydroxide oxide trometamol tromethamine meglumine arginine
    lysine olamine erbumine teoclate propionate dipropionate valerate butyrate decanoate
    enanthate cypionate undecanoate acetonide furoate medoxomil cilexetil axetil proxetil
    mofetil pivoxil etabonate
    monohydrate dihydrate trihydrate sesquihydrate hemihydrate hemipentahydrate hydrate
    anhydrous salt
""".split())

_TOKEN_RE = re.compile(r"[^\W_]+|[^\w\s]|_")
_WORD_RE = re.compile(r"[^\W_]+")
_SALT_AFTER = re.compile(
    r"(?:[ \t]+(?:%s)\b){1,3}" % "|".join(sorted(SALT_WORDS, key=len, reverse=True)),
    re.IGNORECASE,
)
# Evidence that an ambiguous symbol (MET, SET, ACE, HR, ...) is meant as a gene.
_GENE_WORDS = (
    r"genes?|genetic|genotypes?|genotyped|genotyping|polymorphisms?|polymorphic|variants?|"
    r"variations?|alleles?|allelic|mutations?|mutants?|mutated|SNPs?|haplotypes?|diplotypes?|"
    r"expression|expressed|mRNAs?|transcripts?|proteins?|promoter|locus|loci|exons?|introns?|"
    r"knockout|deficiency|deficient|carriers?|I/D|insertion/deletion|amplification|"
    r"rs\d+|c\.\s*-?\d|p\.\s*[A-Z]"
)
_CONTEXT_AFTER = re.compile(r"(?:\s*[-/]?\s*(?:%s)\b|\s*\*\s*\d|\s*\(?\s*rs\d)" % _GENE_WORDS)
_CONTEXT_BEFORE = re.compile(
    r"\b(?:genes?|genetic|encoding|encodes|polymorphisms?|variants?|alleles?|"
    r"mutations?|SNPs?|haplotypes?|genotypes?)\s+(?:(?:of|in|for|the|human)\s+){0,3}$"
)


@dataclass(frozen=True, slots=True)
class GeneEntry:
    hgnc_id: str
    symbol: str
    kind: str  # symbol | alias | previous
    needs_context: bool = False

    @property
    def norm(self) -> str:
        return f"{self.hgnc_id}|{self.symbol}"


@dataclass(frozen=True, slots=True)
class DrugEntry:
    pharmgkb_id: str
    name: str  # canonical lower-case generic name
    rxnorm: str
    kind: str  # name | generic | trade | class | metabolite

    @property
    def norm(self) -> str:
        return f"{self.pharmgkb_id}|{self.name}"

    @property
    def takes_salt(self) -> bool:
        return self.kind in ("name", "generic", "trade")


def tokens(term: str) -> tuple[str, ...]:
    """The matcher's tokens of a term: runs of letters/digits, or single other characters."""
    return tuple(_TOKEN_RE.findall(term))


def _is_short_abbreviation(term: str) -> bool:
    """Short drug abbreviations written with capitals match case-sensitively (5-FU, INH, CsA)."""
    letters = sum(c.isalnum() for c in term)
    return letters <= 5 and any(c.isupper() for c in term) and " " not in term


def _read_tsv(path: Path, columns: tuple[str, ...]) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if tuple(header[: len(columns)]) != columns[: len(header)] or len(header) < len(columns) - 1:
            raise ValueError(f"{path}: unexpected header {header!r}, expected {columns!r}")
        rows = []
        for line in fh:
            line = line.rstrip("\n")
            if line:
                cells = line.split("\t")
                cells += [""] * (len(columns) - len(cells))
                rows.append(cells)
        return rows


_LABELS = ("GENE", "DRUG", BLOCK)  # a table value is entry number * 4 + the label's position here
_LABEL_CODE = {label: code for code, label in enumerate(_LABELS)}


class _Entries:
    """Lexicon entries by number, as plain tuples (what the compiled cache stores), made into
    `GeneEntry`/`DrugEntry` objects on first use: a one-shot ask touches a handful of the ~50,000."""

    __slots__ = ("rows", "objects")

    def __init__(self, rows: list[tuple]) -> None:
        self.rows = rows  # ("G", hgnc_id, symbol, kind, needs_context) | ("D", pharmgkb_id, name, rxnorm, kind)
        self.objects: list[GeneEntry | DrugEntry | None] = [None] * len(rows)

    def add(self, row: tuple) -> int:
        self.rows.append(row)
        self.objects.append(None)
        return len(self.rows) - 1

    def get(self, number: int) -> GeneEntry | DrugEntry:
        entry = self.objects[number]
        if entry is None:  # two threads may both build it: equal frozen objects, either is fine
            row = self.rows[number]
            entry = self.objects[number] = GeneEntry(*row[1:]) if row[0] == "G" else DrugEntry(*row[1:])
        return entry


class _Table:
    """Terms keyed on their token tuples, with a first-token index (max n-gram length).

    Values are numbers (entry * 4 + label), so the compiled cache is plain dicts that `marshal` loads fast."""

    __slots__ = ("single", "multi", "first", "entries")

    def __init__(self, entries: _Entries, single: dict | None = None, multi: dict | None = None,
                 first: dict | None = None) -> None:
        self.single: dict[str, int] = single if single is not None else {}
        self.multi: dict[tuple[str, ...], int] = multi if multi is not None else {}
        self.first: dict[str, int] = first if first is not None else {}
        self.entries = entries

    def add(self, toks: tuple[str, ...], label: str, entry: int) -> None:
        if not toks:
            return
        code = entry * 4 + _LABEL_CODE[label]
        if len(toks) == 1:
            self.single.setdefault(toks[0], code)
        else:
            self.multi.setdefault(toks, code)
        if len(toks) > self.first.get(toks[0], 0):
            self.first[toks[0]] = len(toks)

    def hit(self, code: int | None) -> tuple[str, object] | None:
        """(label, entry) of a table value; a lab-test block has no entry."""
        if code is None:
            return None
        label = _LABELS[code & 3]
        return (label, None if label == BLOCK else self.entries.get(code >> 2))

    def get(self, toks: tuple[str, ...]) -> tuple[str, object] | None:
        return self.hit(self.single.get(toks[0]) if len(toks) == 1 else self.multi.get(toks))


class _ById(Mapping):
    """id -> entry, over entry numbers (built into objects only when looked up)."""

    __slots__ = ("numbers", "entries")

    def __init__(self, numbers: dict[str, int], entries: _Entries) -> None:
        self.numbers = numbers
        self.entries = entries

    def __getitem__(self, key: str) -> GeneEntry | DrugEntry:
        return self.entries.get(self.numbers[key])

    def __contains__(self, key: object) -> bool:
        return key in self.numbers

    def __iter__(self) -> Iterator[str]:
        return iter(self.numbers)

    def __len__(self) -> int:
        return len(self.numbers)


COMPILED_FORMAT = 1  # bump when the compiled layout changes: older cache files are then ignored


class Lexicons:
    """The compiled gene and drug lexicons of one directory, indexed for matching.

    `Lexicons(dir)` compiles them from the TSV files (about a second); `load_lexicons` loads the
    compiled tables from a cache file instead when the files are unchanged (`compiled_cache`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._rows: dict[str, list[list[str]]] = {}
        gene_rows = self.gene_rows
        drug_rows = self.drug_rows
        self.entries = _Entries([])
        self.exact = _Table(self.entries)  # case-sensitive terms, keyed on tokens as written
        self.folded = _Table(self.entries)  # case-insensitive terms, keyed on lower-cased tokens
        gene_entries: dict[tuple[str, str, str, bool], int] = {}
        mouse: list = []
        for term, symbol, hgnc_id, kind, cs, ctx in gene_rows:
            key = (hgnc_id, symbol, kind, ctx == "1")
            entry = gene_entries.get(key)
            if entry is None:
                entry = gene_entries[key] = self.entries.add(("G", *key))
            if cs == "1":
                toks = tokens(term)
                self.exact.add(toks, "GENE", entry)
                if len(term) >= 4 and term.isupper() and any(c.isdigit() for c in term):
                    mouse.append((tokens(term[0] + term[1:].lower()), entry))
            else:
                self.folded.add(tokens(term.lower()), "GENE", entry)
        for toks, entry in mouse:
            if self.exact.get(toks) is None:
                self.exact.add(toks, "GENE", entry)
        # Lab tests first: on the same words, "alanine aminotransferase" is a test, not a drug or gene.
        for term, kind in self.not_drug_rows:
            if kind == "lab_test":
                self.folded.add(tokens(term.lower()), BLOCK, 0)
        self.analytes = frozenset(" ".join(term.lower().split()) for term, kind in self.not_drug_rows
                                  if kind == "analyte")
        drug_entries: dict[tuple[str, str, str, str], int] = {}
        for term, name, pid, rxnorm, kind in drug_rows:
            key = (pid, name, rxnorm, kind)
            entry = drug_entries.get(key)
            if entry is None:
                entry = drug_entries[key] = self.entries.add(("D", *key))
            if _is_short_abbreviation(term):
                self.exact.add(tokens(term), "DRUG", entry)
            else:
                self.folded.add(tokens(term.lower()), "DRUG", entry)
        self.genes_by_id = _ById({key[0]: n for key, n in gene_entries.items() if key[2] == "symbol"}, self.entries)
        self.drugs_by_id = _ById({key[0]: n for key, n in drug_entries.items()}, self.entries)
        self._counts = (len(gene_rows), len(drug_rows))

    # -- the TSV rows, read only when asked for (a compiled load does not need them) ---------------
    def _read_rows(self, name: str, columns: tuple[str, ...], optional: bool = False) -> list[list[str]]:
        rows = self._rows.get(name)
        if rows is None:
            path = self.directory / name
            rows = self._rows[name] = [] if optional and not path.is_file() else _read_tsv(path, columns)
        return rows

    @property
    def gene_rows(self) -> list[list[str]]:
        return self._read_rows(GENES_FILE, GENE_COLUMNS)

    @property
    def drug_rows(self) -> list[list[str]]:
        return self._read_rows(DRUGS_FILE, DRUG_COLUMNS)

    @property
    def not_drug_rows(self) -> list[list[str]]:
        return self._read_rows(NOT_DRUGS_FILE, NOT_DRUG_COLUMNS, optional=True)

    # -- the compiled form ---------------------------------------------------------------------
    def compiled(self) -> bytes:
        """The matching tables as plain data (marshal): what `from_compiled` loads without the TSVs."""
        return marshal.dumps((
            COMPILED_FORMAT, self.entries.rows,
            self.exact.single, self.exact.multi, self.exact.first,
            self.folded.single, self.folded.multi, self.folded.first,
            self.genes_by_id.numbers, self.drugs_by_id.numbers, sorted(self.analytes), self._counts,
        ))

    @classmethod
    def from_compiled(cls, directory: Path, data: bytes) -> Lexicons:
        """The lexicons of `directory` from `compiled()` bytes (the caller checked they are of these files)."""
        (fmt, rows, ex_single, ex_multi, ex_first, fo_single, fo_multi, fo_first, genes, drugs, analytes,
         counts) = marshal.loads(data)
        if fmt != COMPILED_FORMAT:
            raise ValueError(f"compiled lexicons of format {fmt}, expected {COMPILED_FORMAT}")
        self = cls.__new__(cls)
        self.directory = Path(directory)
        self._rows = {}
        self.entries = _Entries(rows)
        self.exact = _Table(self.entries, ex_single, ex_multi, ex_first)
        self.folded = _Table(self.entries, fo_single, fo_multi, fo_first)
        self.genes_by_id = _ById(genes, self.entries)
        self.drugs_by_id = _ById(drugs, self.entries)
        self.analytes = frozenset(analytes)
        self._counts = tuple(counts)
        return self

    def __repr__(self) -> str:
        return f"Lexicons({str(self.directory)!r}, genes={self._counts[0]}, drugs={self._counts[1]})"

    # -- normalisation ------------------------------------------------------
    def _lookup(self, term: str, label: str) -> object | None:
        toks = tokens(term.strip())
        if not toks:
            return None
        hit = self.exact.get(toks)
        if hit is None or hit[0] != label:
            hit = self.folded.get(tuple(t.lower() for t in toks))
        return hit[1] if hit is not None and hit[0] == label else None

    def normalise_gene(self, term: str) -> tuple[str, str] | None:
        """(hgnc_id, symbol) of a gene term, case rules applied; None when unknown or ambiguous."""
        entry = self._lookup(term, "GENE")
        if entry is None:
            # "cyp2d6", "Hla-b": symbols with a digit or hyphen are unambiguous in any case.
            up = term.strip().upper()
            if any(c.isdigit() or c == "-" for c in up):
                hit = self.exact.get(tokens(up))
                if hit is not None and hit[0] == "GENE" and hit[1].kind == "symbol":
                    entry = hit[1]
        return (entry.hgnc_id, entry.symbol) if entry is not None else None

    def is_not_a_drug(self, name: str) -> bool:
        """Is this (canonical, lower-case) drug name a lab analyte, nutrient or endogenous compound?"""
        return " ".join(name.lower().split()) in self.analytes

    def normalise_drug(self, term: str) -> tuple[str, str] | None:
        """(pharmgkb_id, canonical name) of a drug term; salts folded, case-insensitive."""
        term = " ".join(term.split())
        entry = self._lookup(term, "DRUG")
        words = term.split()
        while entry is None and len(words) > 1 and words[-1].lower() in SALT_WORDS:
            words.pop()
            entry = self._lookup(" ".join(words), "DRUG")
            if entry is not None and not entry.takes_salt:
                entry = None
                break
        return (entry.pharmgkb_id, entry.name) if entry is not None else None


_CACHE: dict[Path, Lexicons] = {}
_LOCK = threading.Lock()


def default_dir() -> Path:
    """``corpora/lexicons`` of the checkout or of the installed package."""
    return shipped("lexicons", GENES_FILE)


_DEFAULT: list[Lexicons] = []  # the shipped lexicons once loaded: the hot path skips path lookups


def load_lexicons(dir: Path | None = None) -> Lexicons:  # noqa: A002 - the documented name
    """The lexicons of `dir` (default: the shipped ones), loaded once per directory, from the
    compiled cache when the lexicon files are unchanged (a new process: ~0.1 s instead of ~1 s)."""
    if dir is None and _DEFAULT:
        return _DEFAULT[0]
    path = Path(dir).resolve() if dir is not None else default_dir().resolve()
    with _LOCK:
        lex = _CACHE.get(path)
        if lex is None:
            if not (path / GENES_FILE).is_file() or not (path / DRUGS_FILE).is_file():
                raise FileNotFoundError(
                    f"no compiled lexicons in {path}; build them with "
                    "`python tools/build_lexicons.py --shared ../shared --out corpora/lexicons`"
                )
            lex = _CACHE[path] = load_compiled(path)
        if dir is None and not _DEFAULT:
            _DEFAULT.append(lex)
        return lex


def cache_folder() -> Path:
    """Where compiled lexicons are kept: $PGXLIT_CACHE_HOME/lexicons, else the user's cache folder.

    Keyed by the lexicon files' content, so every PGXLIT_HOME (a fresh demo home, test homes) shares
    one compiled copy, as the exported embedding model is shared."""
    explicit = os.environ.get("PGXLIT_CACHE_HOME")
    base = Path(explicit).expanduser() if explicit else (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "pgxlit")
    return base / "lexicons"


def lexicon_fingerprint(directory: Path) -> str:
    """Hash of the lexicon files' bytes (and the compiled layout and Python's marshal format):
    any edit of a TSV gives another key, so a stale compiled copy is never read."""
    digest = hashlib.sha256(f"{COMPILED_FORMAT}|{sys.version_info[:2]}|{marshal.version}".encode())
    for name in (GENES_FILE, DRUGS_FILE, NOT_DRUGS_FILE):
        path = Path(directory) / name
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"absent")
    return digest.hexdigest()[:24]


def compiled_cache(directory: Path) -> Path:
    """The compiled-lexicon cache file for the lexicon files of `directory` as they are now."""
    return cache_folder() / f"lexicons-{lexicon_fingerprint(directory)}.marshal"


CACHE_KEEP = 6  # compiled copies kept (test lexicons add their own); the oldest beyond are removed


def load_compiled(directory: Path) -> Lexicons:
    """The lexicons of `directory` from their compiled cache file, compiled and written (atomically)
    when there is none for the files' current content; a cache that cannot be read or written only
    costs the compile."""
    try:
        cache = compiled_cache(directory)
    except OSError:
        return Lexicons(directory)
    try:
        return Lexicons.from_compiled(directory, cache.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    lex = Lexicons(directory)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(lex.compiled())
        os.replace(tmp, cache)
        _prune(cache.parent, keep=cache)
    except OSError:
        pass
    return lex


def _prune(folder: Path, keep: Path) -> None:
    """Drop compiled copies beyond the newest CACHE_KEEP (never `keep`)."""
    files = sorted(folder.glob("lexicons-*.marshal"), key=lambda f: f.stat().st_mtime, reverse=True)
    for old in files[CACHE_KEEP:]:
        if old != keep:
            old.unlink(missing_ok=True)


def entity_names(mentions: Iterable[Mention]) -> tuple[set[str], set[str]]:
    """Canonical drug names and gene symbols named by mentions (a gene inside an allele or status counts).

    Lexicon work only (no spaCy), so a question can be read without loading the extraction pipeline;
    passages (index) and answers (qa) name their entities with this one function."""
    lex = load_lexicons()
    drugs: set[str] = set()
    genes: set[str] = set()
    for m in mentions:
        norm = m.norm or ""
        if m.label == "DRUG":
            drugs.add(norm.split("|", 1)[1] if "|" in norm else m.text.lower())
        elif m.label == "GENE" and "|" in norm:
            genes.add(norm.split("|", 1)[1])
        elif m.label in ("ALLELE", "VARIANT", "PHENOTYPE") and norm:
            head = norm.split("*")[0].split(" ")[0].split(":")[0]
            if head and head[0].isalpha() and not head.startswith(("rs", "c.", "p.", "g.")):
                found = lex.normalise_gene(head)
                if found:
                    genes.add(found[1])
    return drugs, genes


def normalise_gene(term: str) -> tuple[str, str] | None:
    """(hgnc_id, symbol) for a gene term in the shipped lexicon, e.g. "P-gp" -> ("HGNC:40", "ABCB1")."""
    return load_lexicons().normalise_gene(term)


def normalise_drug(term: str) -> tuple[str, str] | None:
    """(pharmgkb_id, name) for a drug term, e.g. "Plavix" -> ("PA449053", "clopidogrel")."""
    return load_lexicons().normalise_drug(term)


def is_not_a_drug(name: str) -> bool:
    """Is this drug name an analyte, nutrient or endogenous compound (bilirubin, glucose)?"""
    return load_lexicons().is_not_a_drug(name)


class DictionaryMatcher:
    """Leftmost-longest dictionary matching of gene and drug terms on token boundaries."""

    def __init__(self, lexicons: Lexicons | None = None, *, genes: bool = True, drugs: bool = True) -> None:
        self.lexicons = lexicons if lexicons is not None else load_lexicons()
        self.genes = genes
        self.drugs = drugs
        ex, fo = self.lexicons.exact, self.lexicons.folded
        self._ex_single, self._ex_multi, self._ex_first = ex.single, ex.multi, ex.first
        self._fo_single, self._fo_multi, self._fo_first = fo.single, fo.multi, fo.first
        self._hit = ex.hit  # table value -> (label, entry); both tables share one entry list

    def find(self, text: str) -> list[Mention]:
        """GENE and DRUG mentions of `text`, in order, non-overlapping."""
        if not text:
            return []
        lower = text.lower()
        if len(lower) != len(text):  # a few characters change length when lower-cased
            lower = None
        ex_first, fo_first = self._ex_first, self._fo_first
        ex_single, fo_single = self._ex_single, self._fo_single
        out: list[Mention] = []
        blocked = 0
        for m in _WORD_RE.finditer(text):
            start = m.start()
            if start < blocked:
                continue
            word = m.group()
            end = m.end()
            low = lower[start:end] if lower is not None else word.lower()
            n_ex = ex_first.get(word, 0)
            n_fo = fo_first.get(low, 0)
            if not n_ex and not n_fo:
                continue
            best = None  # (n_tokens, end, label, entry, exact)
            if n_ex > 1 or n_fo > 1:
                best = self._longest_multi(text, start, max(n_ex, n_fo), n_ex, n_fo)
            if best is None:
                hit = self._hit(ex_single.get(word)) if n_ex else None
                if hit is not None and self._accept(hit, text, start, end):
                    best = (1, end, hit[0], hit[1])
                else:
                    hit = self._hit(fo_single.get(low)) if n_fo else None
                    if hit is not None and self._accept(hit, text, start, end):
                        best = (1, end, hit[0], hit[1])
            if best is None:
                continue
            _, stop, label, entry = best
            if label == BLOCK:
                blocked = stop
                continue
            if label == "DRUG" and entry.takes_salt:
                salt = _SALT_AFTER.match(text, stop)
                if salt is not None:
                    stop = salt.end()
            out.append(Mention(start, stop, label, text[start:stop], entry.norm, entry.kind, SOURCE))
            blocked = stop
        return out

    def _accept(self, hit: tuple[str, object], text: str, start: int, end: int) -> bool:
        label, entry = hit
        if label == BLOCK:
            return True
        if label == "GENE":
            if not self.genes:
                return False
            if entry.needs_context:
                return bool(
                    _CONTEXT_AFTER.match(text, end)
                    or _CONTEXT_BEFORE.search(text, max(0, start - 40), start)
                )
            return True
        return self.drugs

    def _longest_multi(self, text: str, start: int, n_max: int, n_ex: int, n_fo: int):
        toks: list[str] = []
        ends: list[int] = []
        for t in _TOKEN_RE.finditer(text, start):
            toks.append(t.group())
            ends.append(t.end())
            if len(toks) == n_max:
                break
        low = [t.lower() for t in toks]
        for n in range(len(toks), 1, -1):
            end = ends[n - 1]
            if n <= n_ex:
                hit = self._hit(self._ex_multi.get(tuple(toks[:n])))
                if hit is not None and self._accept(hit, text, start, end):
                    return (n, end, hit[0], hit[1])
            if n <= n_fo:
                hit = self._hit(self._fo_multi.get(tuple(low[:n])))
                if hit is not None and self._accept(hit, text, start, end):
                    return (n, end, hit[0], hit[1])
        return None
