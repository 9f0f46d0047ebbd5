"""The pipeline's tokenizer: scispaCy's rule tokenizer, keeping the input string on the doc.

`doc.text` rebuilds the string token by token; measured, a sixth of the rule pipeline's time went
to that and to `Span.text`. Components read the kept string with `doc_text` instead. A module of
its own so that components (extract/boundaries.py) and the pipeline that registers them both
import it, and neither imports the other at load time.
"""

from __future__ import annotations

import warnings
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["KeepText", "doc_text", "rule_tokenizer"]

_TEXT_KEY = "pgx_text"


class KeepText:
    """A tokenizer wrapper that stores its input string in `doc.user_data`."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        doc = self.tokenizer(text)
        doc.user_data[_TEXT_KEY] = text
        return doc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


def rule_tokenizer(nlp: Language) -> KeepText:
    """scispaCy's rule tokenizer for `nlp` (keeps HLA-B*57:01, rs9923231 whole), text kept."""
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # a regex warning inside spaCy's tokenizer build
        return KeepText(combined_rule_tokenizer(nlp))


def doc_text(doc: Doc) -> str:
    """The doc's text (the tokenizer's input when our pipeline made it; spaCy keeps it exact)."""
    text = doc.user_data.get(_TEXT_KEY)
    return text if text is not None else doc.text
