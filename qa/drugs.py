"""Which drugs pgxlit knows: the shipped lexicon, every stored label's own names, drug classes.

A pharmacist may ask about a drug the shipped lexicon predates; if its label is stored, pgxlit
knows it. A class ("SSRIs", "statins") means its members that are in the store, read from
PharmGKB's ATC groups (qa/drug_classes.tsv.gz, built by tools/build_drug_classes.py). A word
that is no known drug gets "did you mean ...?" from the closest known names by edit distance,
never a silent guess.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pgxlit.extract.lexicons import SALT_WORDS, default_dir, lexicon_fingerprint, load_lexicons

from pgxlit.records import LabelVersion
from pgxlit.store import Store

CLASSES_FILE = Path(__file__).parent / "drug_classes.tsv.gz"
WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


@dataclass(frozen=True, slots=True)
class DrugClass:
    pharmgkb_id: str
    name: str
    terms: tuple[str, ...]
    atc: tuple[str, ...]  # ATC code prefixes; a member's ATC code starts with one of them


@dataclass(frozen=True, slots=True)
class ClassVocabulary:
    """PharmGKB's ATC drug classes and the ATC codes of its drugs."""

    classes: dict[str, DrugClass]  # by PharmGKB id
    by_term: dict[str, str]  # lower-cased name or synonym -> class id
    drug_atc: dict[str, tuple[str, ...]]  # canonical drug name -> ATC codes

    def find(self, pharmgkb_id: str | None, name: str) -> DrugClass | None:
        """The class a drug mention names, by its lexicon id or by any of its names."""
        if pharmgkb_id and pharmgkb_id in self.classes:
            return self.classes[pharmgkb_id]
        found = self.by_term.get(name.lower())
        return self.classes[found] if found else None

    def in_class(self, drug: str, cls: DrugClass) -> bool:
        return any(code.startswith(prefix) for code in self.drug_atc.get(drug, ()) for prefix in cls.atc)


@lru_cache(maxsize=1)
def class_vocabulary(path: Path = CLASSES_FILE) -> ClassVocabulary:
    """The shipped class table, read once."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: rebuild it with `python tools/build_drug_classes.py --shared ../shared`")
    classes: dict[str, DrugClass] = {}
    by_term: dict[str, str] = {}
    drug_atc: dict[str, tuple[str, ...]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            atc = tuple(x for x in row["atc"].split("|") if x)
            if row["kind"] == "class":
                terms = tuple(x for x in row["terms"].split("|") if x)
                classes[row["pharmgkb_id"]] = DrugClass(row["pharmgkb_id"], row["name"], terms, atc)
                for term in (row["name"], *terms):
                    by_term.setdefault(term, row["pharmgkb_id"])
            else:
                drug_atc[row["name"]] = atc
    return ClassVocabulary(classes, by_term, drug_atc)


@dataclass(frozen=True, slots=True)
class StoredLabel:
    """The newest stored version of one label set: what "the label for X, version V" cites."""

    set_id: str
    version: int
    effective_time: str | None
    title: str | None


def name_variants(name: str) -> tuple[str, ...]:
    """A label name as a reader may write it: lower case, and without its salt ("x hydrochloride" -> "x")."""
    words = name.lower().split()
    variants = [" ".join(words)]
    while len(words) > 1 and words[-1] in SALT_WORDS:
        words = words[:-1]
        variants.append(" ".join(words))
    return tuple(variants)


def edit_distance(a: str, b: str, most: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours costs 1), stopping past `most`."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > most:
            return most + 1
        previous2, previous = previous, current
    return previous[-1]


def allowed_typos(word: str) -> int:
    """Short names tolerate one typo, longer ones two: 'cdeine' is codeine, 'tram' is not tramadol."""
    return 1 if len(word) <= 6 else 2


@dataclass
class DrugCatalogue:
    """Drugs the store holds a label for (by every name the label gives), and what pgxlit can suggest."""

    labels: dict[str, list[StoredLabel]] = field(default_factory=dict)  # canonical drug -> newest version per set
    names: dict[str, str] = field(default_factory=dict)  # lower-cased label name -> canonical drug
    named: frozenset[str] = frozenset()  # drugs any indexed passage names (abstracts included)
    drug_of_set: dict[str, str] = field(default_factory=dict)  # label set id -> its own drug
    _by_length: dict[int, list[tuple[str, frozenset[str]]]] | None = field(default=None, init=False, repr=False,
                                                                           compare=False)

    @classmethod
    def from_store(cls, store: Store, named: Iterable[str] = (), cache: Path | None = None) -> DrugCatalogue:
        """Every stored label's generic and brand names, folded to the lexicon's name when it has one;
        `named`: drugs the index finds in any passage, so a class also reaches drugs known from abstracts.

        Read from the catalogue cache file (`cache`, default: beside a SQLite store's file, i.e. in
        $PGXLIT_HOME) when it was compiled from the same lexicon files and the same stored labels;
        else compiled (naming each label's drug as extraction does) and the cache written atomically."""
        path = cache if cache is not None else default_cache_path(store)
        key = catalogue_key(store) if path is not None else ""
        if path is not None:
            cached = _read_cache(path, key)
            if cached is not None:
                return cls(labels={d: [StoredLabel(*row) for row in rows] for d, rows in cached["labels"].items()},
                           names=cached["names"], named=frozenset(named), drug_of_set=cached["drug_of_set"])
        catalogue = cls.compile(store, named)
        if path is not None:
            _write_cache(path, key, catalogue)
        return catalogue

    @classmethod
    def compile(cls, store: Store, named: Iterable[str] = ()) -> DrugCatalogue:
        """The catalogue from the stored labels (what `from_store` caches)."""
        from pgxlit.extract.triples import label_subject  # the extraction stack: only when compiling

        newest: dict[str, StoredLabel] = {}
        names_of: dict[str, tuple[str, ...]] = {}
        for lv in store.label_version_summaries():
            known = newest.get(lv.set_id)
            if known is None or lv.version > known.version:
                newest[lv.set_id] = StoredLabel(lv.set_id, lv.version, lv.effective_time, lv.title)
                names_of[lv.set_id] = tuple(n for n in (*lv.generic_names, *lv.brand_names) if n and n.strip())
        catalogue = cls(named=frozenset(named))
        for set_id, label in sorted(newest.items()):
            names = names_of[set_id]
            # The label's own drug as extraction names it, so passages and triples use the same name.
            subject = label_subject(LabelVersion(set_id, label.version, label.effective_time, None, label.title,
                                                 generic_names=names, brand_names=()))
            if subject is not None and subject.drug_id is None:
                # Neither name is a known drug (a brand such as PURIXAN): read the label itself, as
                # extraction does, so its product data names the active ingredient.
                full = store.label_version(set_id, label.version)
                subject = label_subject(full) if full is not None else subject
            if subject is None:
                continue
            canonical = subject.name
            catalogue.labels.setdefault(canonical, []).append(label)
            catalogue.drug_of_set[set_id] = canonical
            for name in (*names, canonical):
                for variant in name_variants(name):
                    catalogue.names.setdefault(variant, canonical)
        return catalogue

    def names_of(self, drug: str) -> tuple[str, ...]:
        """Every name the stored labels give the drug (brand names included), and the drug itself."""
        return tuple(dict.fromkeys([drug, *(n for n, d in self.names.items() if d == drug)]))

    def has_label(self, drug: str) -> bool:
        return drug in self.labels

    def stored(self, drug: str) -> bool:
        """Anything stored names the drug: its own label or an indexed abstract."""
        return drug in self.labels or drug in self.named

    def find_in(self, text: str) -> list[str]:
        """Drugs whose stored label names (brand or generic) the text uses, longest name first."""
        low = " " + " ".join(WORD.findall(text.lower())) + " "
        found: list[str] = []
        for name in sorted(self.names, key=len, reverse=True):
            if len(name) >= 4 and f" {name} " in low and self.names[name] not in found:
                found.append(self.names[name])
                low = low.replace(f" {name} ", " ")
        return found

    def suggest(self, word: str, most: int = 3) -> tuple[str, ...]:
        """Known drug names within a typo or two of `word`: stored drugs first, then the lexicon's.

        Names are looked at by length, and only those whose letters could be reached in `budget` edits
        (each edit adds or removes at most one distinct letter) get the edit distance computed."""
        word = word.lower().strip()
        budget = allowed_typos(word)
        letters = frozenset(word)
        scored: list[tuple[int, int, str]] = []
        if self._by_length is None:
            self._by_length = names_by_length(self.names)
        for rank, by_length in enumerate((self._by_length, lexicon_names_by_length())):
            for length in range(len(word) - budget, len(word) + budget + 1):
                for name, its_letters in by_length.get(length, ()):
                    if name == word or len(letters - its_letters) > budget or len(its_letters - letters) > budget:
                        continue
                    d = edit_distance(word, name, budget)
                    if d <= budget:
                        canonical = self.names.get(name) if rank == 0 else lexicon_names()[name]
                        scored.append((d, rank, canonical or name))
        out: list[str] = []
        for _d, _rank, name in sorted(scored):
            if name not in out:
                out.append(name)
        return tuple(out[:most])

    def class_members(self, cls: DrugClass, vocabulary: ClassVocabulary | None = None) -> tuple[str, ...]:
        """Stored drugs (own label, else abstracts) in the class, sorted."""
        vocabulary = vocabulary or class_vocabulary()
        candidates = set(self.labels) | set(self.named)
        return tuple(sorted(d for d in candidates if vocabulary.in_class(d, cls)))


def names_by_length(names: Iterable[str]) -> dict[int, list[tuple[str, frozenset[str]]]]:
    """Names grouped by length, each with its set of letters: what `suggest` filters on."""
    out: dict[int, list[tuple[str, frozenset[str]]]] = {}
    for name in names:
        out.setdefault(len(name), []).append((name, frozenset(name)))
    return out


@lru_cache(maxsize=1)
def lexicon_names_by_length() -> dict[int, list[tuple[str, frozenset[str]]]]:
    return names_by_length(lexicon_names())


CATALOGUE_FORMAT = 2  # bump when the cached layout or the way labels are named changes


def default_cache_path(store: Store) -> Path | None:
    """Beside a SQLite store's file (the data folder, $PGXLIT_HOME, by default); None for other databases."""
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    db = Path(url.database).expanduser()
    return db.with_name(f"{db.stem}.drug_catalogue.json")


def catalogue_key(store: Store) -> str:
    """What a cached catalogue was compiled from: the lexicon files' hash and the stored labels' stamp
    (count and newest row of label versions, extraction runs), so a new label or lexicon rebuilds it."""
    stamp = json.dumps([CATALOGUE_FORMAT, lexicon_fingerprint(default_dir()), store.labels_stamp()], default=str)
    return hashlib.sha256(stamp.encode()).hexdigest()


def _read_cache(path: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def _write_cache(path: Path, key: str, catalogue: DrugCatalogue) -> None:
    """Written to a temporary name (pid and thread in it) and renamed: a reader never sees half a file.
    A folder that cannot be written only costs the next process the compile."""
    data = {"key": key, "names": catalogue.names, "drug_of_set": catalogue.drug_of_set,
            "labels": {d: [[x.set_id, x.version, x.effective_time, x.title] for x in rows]
                       for d, rows in catalogue.labels.items()}}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def lexicon_names() -> dict[str, str]:
    """Lower-cased drug names the lexicon knows (canonical and generic, no trade names) -> canonical name.

    Trade names are left out of suggestions: thousands of short brand names would make every typo
    look like some brand."""
    lex = load_lexicons()
    out: dict[str, str] = {}
    for term, name, _pid, _rx, kind in lex.drug_rows:
        if kind in ("name", "generic") and len(term) >= 4 and term.replace("-", "").isalpha():
            out.setdefault(term.lower(), name)
    return out

