"""pgxlit's hybrid index as a langchain retriever (question-aware: it boosts the drugs and genes a question names)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from pgxlit.index.search import Searcher, SearchFilters
from pgxlit.qa.question import read_question


class PgxRetriever(BaseRetriever):
    """Documents carry the passage text and its provenance (set_id, version, section or PMID, url)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    k: int = 10
    filters: SearchFilters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        q = read_question(query)
        hits = self.searcher.search(query, self.k, self.filters, boost_drugs=q.drugs, boost_genes=q.genes)
        return [Document(page_content=h.passage.text, metadata=_metadata(h)) for h in hits]


def _metadata(hit: Any) -> dict[str, Any]:
    p = hit.passage
    return {
        "passage_id": p.id, "source": p.source, "set_id": p.set_id, "version": p.version, "section": p.section,
        "effective_time": p.effective_time, "pmid": p.pmid, "year": p.year, "title": p.title, "url": p.url,
        "drugs": list(p.drugs), "genes": list(p.genes), "score": hit.score,
    }
