"""A trained statistical NER behind the registered factory ``pgx_ner_model``.

The model (built by ``python tools/train_ner.py --shared ../shared --out
corpora/models/pgx_ner``; see corpora/models/README.md) is a small spaCy
pipeline folder with two ``ner`` components, each with its own CNN tok2vec:

    ner_inner   DRUG, GENE, DISEASE
    ner_outer   ALLELE, VARIANT, PHENOTYPE

Two heads because PGxCorpus nests entities ("pharmacokinetics of warfarin"
PHENOTYPE around "warfarin" DRUG, "CYP2D6 genotype" VARIANT around "CYP2D6"
GENE): one flat tagger cannot output both, and on the PGxCorpus test fold a
*perfect* flat tagger would reach only 0.74 entity macro-F1. Which head owns
which labels is read from the model's meta.json, so the two heads' outputs
may nest. The shipped model also reads the rule mentions (``doc._.pgx_mentions``
as set by ``pgx_entities``) as a token feature, so it must run after
``pgx_entities`` in every mode. The model's weights are derived from PGxCorpus (CC BY-NC 4.0):
non-commercial use only.

The component runs after ``pgx_entities`` and merges the model's mentions
(``source="model"``) into ``doc._.pgx_mentions``:

* mode="fill": rule mentions are all kept (with their norms); a model mention
  is added unless it clashes with a rule mention. With ``nested=True`` (the
  default) a clash is an overlap between two names (DRUG/GENE) or two phrases
  (every other label), a crossing overlap, or the same extent; a model phrase
  that strictly contains a rule name ("pharmacokinetics of [warfarin]"), or a
  model name strictly inside a rule phrase ("[CYP2C19]*2"), is added, so the
  output can nest. With ``nested=False`` any overlap with a rule mention
  drops the model mention and the model's own nested pairs are reduced to the
  longest, so the output stays flat like the rules' own.
* mode="replace": the model's mentions are all kept; a rule mention is kept
  only when it does not clash with one (same test as above), and a model
  mention with the same extent and label as a rule mention is replaced by the
  rule mention, so the norm survives.

``labels`` limits which model labels are used (rule mentions of other labels
are untouched). The model is loaded once per folder and process.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pgxlit.records import ENTITY_LABELS, Mention
from pgxlit.shipped import shipped

__all__ = [
    "BUILD_COMMAND",
    "INNER_LABELS",
    "PgxNerModel",
    "default_model_dir",
    "load_model",
    "merge_mentions",
    "predict_mentions",
]

BUILD_COMMAND = "python tools/train_ner.py --shared ../shared --out corpora/models/pgx_ner"
INNER_LABELS = frozenset({"DRUG", "GENE"})  # names; every other label is a phrase that may contain them
MODES = ("fill", "replace")

if not Doc.has_extension("pgx_mentions"):
    Doc.set_extension("pgx_mentions", default=None)


def default_model_dir() -> Path:
    """``corpora/models/pgx_ner`` of the checkout or of the installed package."""
    return shipped("models/pgx_ner", "meta.json")


def _resolve(path: str | Path | None) -> Path:
    if path is None or str(path) == "" or str(path) == "corpora/models/pgx_ner":
        return default_model_dir().resolve()
    p = Path(path)
    if not p.is_absolute():
        repo_relative = Path(__file__).resolve().parents[1] / p
        p = repo_relative if repo_relative.exists() or not p.exists() else p
    return p.resolve()


class _Model:
    """The loaded pipeline folder: the heads and the labels each predicts."""

    def __init__(self, path: Path) -> None:
        meta_file = path / "meta.json"
        if not meta_file.is_file() or not (path / "config.cfg").is_file():
            raise FileNotFoundError(
                f"no trained PGx NER model in {path} (meta.json/config.cfg missing); "
                f"build it with `{BUILD_COMMAND}` (see corpora/models/README.md)"
            )
        self.path = path
        self.meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
        self.nlp = spacy.load(path, exclude=["tokenizer"])
        heads = self.meta.get("pgxlit", {}).get("heads") or {
            name: list(self.nlp.get_pipe(name).labels) for name in self.nlp.pipe_names
        }
        self.heads: list[tuple[str, Any, frozenset[str]]] = [
            (name, self.nlp.get_pipe(name), frozenset(labels)) for name, labels in heads.items()
        ]

    @property
    def rule_features(self) -> bool:
        return bool(self.meta.get("pgxlit", {}).get("rule_features"))

    @property
    def labels(self) -> frozenset[str]:
        return frozenset().union(*(labels for _, _, labels in self.heads))


_CACHE: dict[Path, _Model] = {}
_LOCK = threading.Lock()


def load_model(path: str | Path | None = None) -> _Model:
    """The model folder at `path` (default: the shipped one), loaded once per folder."""
    resolved = _resolve(path)
    with _LOCK:
        model = _CACHE.get(resolved)
        if model is None:
            model = _CACHE[resolved] = _Model(resolved)
        return model


RULE_FEATURE_PREFIX = "R_"  # token.tag_ of the model's doc copies: the rule label over that token, or "O"


def rule_tags(doc: Doc, mentions: Sequence[Mention]) -> list[str]:
    """One tag per token: "R_<label>" of the rule mention covering it (the innermost), else "O"."""
    tags = ["O"] * len(doc)
    for m in sorted(mentions, key=lambda m: -(m.end - m.start)):  # shorter ones overwrite longer ones
        span = doc.char_span(m.start, m.end, alignment_mode="expand")
        if span is not None:
            for i in range(span.start, span.end):
                tags[i] = RULE_FEATURE_PREFIX + m.label
    return tags


def _copy(doc: Doc, vocab: Any, rule_mentions: Sequence[Mention] | None = None) -> Doc:
    copy = Doc(vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
    if rule_mentions is not None:
        for token, tag in zip(copy, rule_tags(copy, rule_mentions), strict=True):
            token.tag_ = tag
    return copy


# A drug or gene name has a letter: the model also tagged "4.13±1.54", "®" and "× 10(-8" as
# drugs, and no gold name of PGxCorpus or BioRED is without one.
_HAS_LETTER = re.compile(r"[^\W\d_]")


def predict_mentions(
    model: _Model, docs: Sequence[Doc], labels: Iterable[str] | None = None, batch_size: int = 128
) -> list[list[Mention]]:
    """The model's mentions (document character offsets, sorted) for each doc; heads may nest.

    A model trained with rule features reads the rule mentions from ``doc._.pgx_mentions``.
    """
    keep = frozenset(labels) if labels is not None else model.labels
    out: list[list[Mention]] = [[] for _ in docs]
    for _, head, head_labels in model.heads:
        if not head_labels & keep:
            continue
        copies = [_copy(d, model.nlp.vocab, (d._.pgx_mentions or []) if model.rule_features else None) for d in docs]
        for i, done in enumerate(head.pipe(copies, batch_size=batch_size)):
            for ent in done.ents:
                if ent.label_ in keep and (ent.label_ not in INNER_LABELS or _HAS_LETTER.search(ent.text)):
                    out[i].append(Mention(ent.start_char, ent.end_char, ent.label_, ent.text, source="model"))
    for ms in out:
        ms.sort(key=lambda m: (m.start, -m.end))
    return out


def _inner(label: str) -> bool:
    return label in INNER_LABELS


def _clash(a: Mention, b: Mention, nested: bool) -> bool:
    """Whether two mentions cannot both be kept."""
    if a.end <= b.start or b.end <= a.start:
        return False
    if not nested or (a.start, a.end) == (b.start, b.end) or _inner(a.label) == _inner(b.label):
        return True
    a_in_b = b.start <= a.start and a.end <= b.end
    b_in_a = a.start <= b.start and b.end <= a.end
    return not (a_in_b or b_in_a)  # a crossing overlap clashes; strict nesting of a name in a phrase does not


def _flatten(mentions: list[Mention]) -> list[Mention]:
    kept: list[Mention] = []
    for m in sorted(mentions, key=lambda m: (-(m.end - m.start), m.start)):
        if all(m.end <= k.start or k.end <= m.start for k in kept):
            kept.append(m)
    return kept


def merge_mentions(
    rule: Sequence[Mention], model: Sequence[Mention], mode: str = "fill", nested: bool = True
) -> list[Mention]:
    """Rule and model mentions of one doc merged (see the module docstring), sorted by (start, -end)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    model = list(model) if nested else _flatten(list(model))
    if mode == "fill":
        added = [m for m in model if not any(_clash(m, r, nested) for r in rule)]
        merged = [*rule, *added]
    else:
        same = {(r.start, r.end, r.label): r for r in rule}
        kept_model = [same.get((m.start, m.end, m.label), m) for m in model]
        kept_rule = [r for r in rule if not any(_clash(r, m, nested) for m in model)]
        merged = [*kept_rule, *kept_model]
    return sorted(merged, key=lambda m: (m.start, -m.end, m.label))


class PgxNerModel:
    """Pipeline component: model mentions merged into ``doc._.pgx_mentions``."""

    def __init__(
        self,
        path: str | Path | None = None,
        labels: Sequence[str] | None = None,
        mode: str = "fill",
        nested: bool = True,
        batch_size: int = 128,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"pgx_ner_model: mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.model = load_model(path)
        wanted = tuple(labels) if labels else tuple(sorted(self.model.labels))
        unknown = [lab for lab in wanted if lab not in ENTITY_LABELS]
        if unknown:
            raise ValueError(f"pgx_ner_model: unknown labels {unknown}; choose from {', '.join(ENTITY_LABELS)}")
        self.labels = frozenset(wanted)
        self.mode = mode
        self.nested = nested
        self.batch_size = batch_size

    def _apply(self, doc: Doc, found: list[Mention]) -> Doc:
        from pgxlit.extract.pipeline import set_mentions

        return set_mentions(doc, merge_mentions(doc._.pgx_mentions or [], found, self.mode, self.nested))

    def __call__(self, doc: Doc) -> Doc:
        return self._apply(doc, predict_mentions(self.model, [doc], self.labels, self.batch_size)[0])

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                yield from self._run(batch)
                batch = []
        if batch:
            yield from self._run(batch)

    def _run(self, batch: list[Doc]) -> Iterator[Doc]:
        for doc, found in zip(batch, predict_mentions(self.model, batch, self.labels, self.batch_size), strict=True):
            yield self._apply(doc, found)


@Language.factory(
    "pgx_ner_model",
    default_config={"path": "corpora/models/pgx_ner", "labels": None, "mode": "fill", "nested": True},
)
def make_pgx_ner_model(
    nlp: Language, name: str, path: str, labels: list[str] | None, mode: str, nested: bool
) -> PgxNerModel:
    def misplaced(why: str) -> ValueError:
        return ValueError(f"{name} (pgx_ner_model) must come after pgx_entities ({why}); "
                          f"the pipeline so far is {nlp.pipe_names}")

    if "pgx_entities" not in nlp.pipe_names and mode == "fill":
        raise misplaced("mode='fill' adds to the rule mentions")
    component = PgxNerModel(path, labels, mode, nested)
    if "pgx_entities" not in nlp.pipe_names and component.model.rule_features:
        raise misplaced("this model reads the rule mentions as features")
    return component
