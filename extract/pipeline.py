"""The spaCy pipeline that finds PGx entities, built from registered factories.

    tokenizer   scispaCy's rule tokenizer (keeps HLA-B*57:01, rs9923231 whole)
    sentencizer spaCy's rule sentence splitter (fast; pysbd is 15x slower here)
    pgx_abbreviations       scispaCy's abbreviation detector, brackets found faster
                            (extract/abbreviations.py); short forms inherit the long form's entity
    pgx_entities            lexicon matcher + grammars (this module)

Components are factories registered by name, so a trained NER component can
be added or swapped by naming it in `Settings.extract_components` without
changing code. Entities are kept as `Mention`s with document offsets in
`doc._.pgx_mentions` (and as spans in `doc.spans["pgx"]`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pgxlit.extract import grammars
from pgxlit.extract.lexicons import DictionaryMatcher, load_lexicons
from pgxlit.records import Mention, RelationMention

DEFAULT_COMPONENTS = ("sentencizer", "pgx_abbreviations", "pgx_entities")

if not Doc.has_extension("pgx_mentions"):
    Doc.set_extension("pgx_mentions", default=None)


class PgxEntityRecognizer:
    """Lexicon and grammar mentions for a whole doc, overlaps resolved, abbreviations applied."""

    def __init__(self, use_lexicons: bool = True, use_grammars: bool = True, generic_variants: bool = False) -> None:
        self.matcher = DictionaryMatcher(load_lexicons()) if use_lexicons else None
        self.use_grammars = use_grammars
        self.generic_variants = generic_variants

    def find(self, text: str) -> list[Mention]:
        found: list[Mention] = []
        if self.matcher is not None:
            found += self.matcher.find(text)
        if self.use_grammars:
            found += grammars.find_all(text, generic=self.generic_variants)
        return grammars.resolve_overlaps(found)

    def __call__(self, doc: Doc) -> Doc:
        mentions = self.find(doc_text(doc))
        if doc.has_extension("abbreviations") and getattr(doc._, "abbreviations", None):
            mentions = apply_abbreviations(doc, mentions)
        return set_mentions(doc, mentions)


class _KeepText:
    """The tokenizer, keeping the input string on the doc: `doc.text` rebuilds it token by token
    (measured: a sixth of the rule pipeline's time went to that and to `Span.text`)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        doc = self.tokenizer(text)
        doc.user_data[_TEXT_KEY] = text
        return doc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


_TEXT_KEY = "pgx_text"


def doc_text(doc: Doc) -> str:
    """The doc's text (the tokenizer's input when our pipeline made it; spaCy keeps it exact)."""
    text = doc.user_data.get(_TEXT_KEY)
    return text if text is not None else doc.text


def set_mentions(doc: Doc, mentions: list[Mention]) -> Doc:
    """Store mentions on the doc: as `Mention`s (offsets, norms) and as spans for spaCy users."""
    doc._.pgx_mentions = mentions
    spans = []
    for m in mentions:
        span = doc.char_span(m.start, m.end, label=m.label, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.spans["pgx"] = spans
    return doc


def apply_abbreviations(doc: Doc, mentions: list[Mention]) -> list[Mention]:
    """A short form defined in the text takes the label and identity of its long form.

    "poor metabolizers (PMs)": every later "PMs" becomes a PHENOTYPE; a short
    form whose long form is no entity of ours keeps what the lexicon said.
    """
    by_span = {(m.start, m.end): m for m in mentions}
    added: list[Mention] = []
    for short in doc._.abbreviations:
        long_form = short._.long_form
        if long_form is None:
            continue
        source = [m for m in mentions if m.start >= long_form.start_char and m.end <= long_form.end_char]
        if len(source) != 1:
            continue
        src = source[0]
        covered = (long_form.end_char - long_form.start_char) * 0.6 <= (src.end - src.start)
        key = (short.start_char, short.end_char)
        if not covered or key in by_span and by_span[key].label == src.label:
            continue
        if any(m.start < key[1] and key[0] < m.end for m in mentions):
            continue
        added.append(Mention(key[0], key[1], src.label, short.text, src.norm, "abbreviation", "abbreviation"))
    if not added:
        return mentions
    return sorted([*mentions, *added], key=lambda m: (m.start, m.end))


@Language.factory(
    "pgx_entities",
    default_config={"use_lexicons": True, "use_grammars": True, "generic_variants": False},
)
def make_pgx_entities(
    nlp: Language, name: str, use_lexicons: bool, use_grammars: bool, generic_variants: bool
) -> PgxEntityRecognizer:
    return PgxEntityRecognizer(use_lexicons, use_grammars, generic_variants)


def model_path(setting: str) -> str | None:
    """Which NER model folder the `extract_model` setting selects, if any."""
    if setting == "none":
        return None
    from pgxlit.extract.ner_model import default_model_dir

    if setting == "auto":
        folder = default_model_dir()
        return str(folder) if (folder / "meta.json").is_file() else None
    return setting


def build_nlp(
    components: Sequence[str] = DEFAULT_COMPONENTS, generic_variants: bool = False, model: str | None = None
) -> Language:
    """A blank English pipeline with scispaCy's tokenizer, the named components and, given a
    model folder, the trained NER after the rules (it fills what they miss)."""
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    import pgxlit.extract.abbreviations  # noqa: F401  (registers "pgx_abbreviations")

    nlp = spacy.blank("en")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # a regex warning inside spaCy's tokenizer build
        nlp.tokenizer = _KeepText(combined_rule_tokenizer(nlp))
    for component in components:
        config = {"generic_variants": generic_variants} if component == "pgx_entities" else {}
        nlp.add_pipe(component, config=config)
    if model is not None:
        import pgxlit.extract.ner_model  # noqa: F401  (registers "pgx_ner_model")

        nlp.add_pipe("pgx_ner_model", config={"path": model, "mode": "fill"})
    return nlp


@lru_cache(maxsize=4)
def default_nlp(generic_variants: bool = False) -> Language:
    """Built once per process, with the NER model the settings select: models load once."""
    from pgxlit.config import get_settings

    return build_nlp(generic_variants=generic_variants, model=model_path(get_settings().extract.model))


@lru_cache(maxsize=1)
def relation_model() -> Any:
    """The trained relation classifier the settings select, or None for the rules.
    "transformer" (or a folder whose meta.json says kind "relation_transformer") is the fine-tuned
    MiniLM classifier (extract/relation_transformer.py): slower, same `predict` contract."""
    from pgxlit.config import get_settings
    from pgxlit.extract.relation_model import RelationModel, default_model_dir

    setting = get_settings().extract.relations
    if setting == "rules":
        return None
    if setting == "auto":
        folder = default_model_dir()
        return RelationModel.load(folder) if (folder / "model.json").is_file() else None
    from pgxlit.extract import relation_transformer as rtf

    if setting == "transformer":
        return rtf.TransformerRelationModel.load(rtf.default_model_dir())
    if rtf.is_transformer_folder(setting):
        return rtf.TransformerRelationModel.load(setting)
    return RelationModel.load(setting)


def relate(sentence: str, mentions: Sequence[Mention]) -> list[RelationMention]:
    """Relations of one sentence: the trained classifier when shipped, else the rules."""
    from pgxlit.extract import relations as rules

    model = relation_model()
    return model.predict(sentence, mentions) if model is not None else rules.relate(sentence, mentions)


@lru_cache(maxsize=1)
def rules_nlp() -> Language:
    """The pipeline without the trained NER (labels: regular text the rules cover, 10x faster)."""
    return build_nlp(model=None)


@lru_cache(maxsize=1)
def extractor_name() -> str:
    """Recorded with every triple, so a rerun with another model re-extracts. 0.3: label tables
    are read cell by cell (extract/table_facts.py)."""
    name = "rules+ner" if "pgx_ner_model" in default_nlp().pipe_names else "rules"
    return name + ("+rel" if relation_model() is not None else "") + "-0.3"


@dataclass(frozen=True, slots=True)
class SentenceAnnotation:
    """One sentence with its mentions and relations; offsets are within the sentence."""

    start: int  # offset of the sentence in the text it came from
    end: int
    text: str
    mentions: tuple[Mention, ...]
    relations: tuple[RelationMention, ...] = ()


def _shift(m: Mention, by: int) -> Mention:
    return replace(m, start=m.start - by, end=m.end - by)


def sentences_of(doc: Doc) -> list[SentenceAnnotation]:
    """Split a processed doc into sentences with sentence-relative mentions."""
    mentions = doc._.pgx_mentions or []
    full = doc_text(doc)
    out: list[SentenceAnnotation] = []
    i = 0
    for sent in doc.sents:
        s, e = sent.start_char, sent.end_char
        inside: list[Mention] = []
        while i < len(mentions) and mentions[i].start < e:
            if mentions[i].start >= s:
                inside.append(_shift(mentions[i], s))
            i += 1
        text = full[s:e]  # == sent.text, without rebuilding it from tokens
        # A mention across a sentence boundary (a splitting error) stays with the sentence it starts in.
        inside = [m for m in inside if m.end <= len(text)] + [
            replace(m, end=len(text), text=text[m.start :]) for m in inside if m.end > len(text)
        ]
        out.append(SentenceAnnotation(s, e, text, tuple(sorted(inside, key=lambda m: m.start))))
    return out


def annotate_texts(texts: Iterable[str], nlp: Language | None = None, batch_size: int = 64) -> Iterator[list[SentenceAnnotation]]:
    """Sentences with mentions for each text, streamed in order."""
    nlp = nlp or default_nlp()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scispaCy's W036 on texts without abbreviations
        for doc in nlp.pipe(texts, batch_size=batch_size):
            yield sentences_of(doc)
