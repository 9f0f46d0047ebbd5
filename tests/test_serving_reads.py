"""What an ask worker keeps between questions (issue 15: cheaper uncached asks) gives the same results
as reading afresh: passages by id until the store changes, sentence facts by text, and the fused
ranking computed over whole hit lists at once."""

from __future__ import annotations

from pathlib import Path

from pgxlit.qa.evidence import _action, _entities, _not_evidence
from pgxlit.qa.reads import ReadMemo, StoreVersion
from pgxlit.store import Store


def test_many_reads_only_the_ids_it_does_not_keep(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    memo = ReadMemo(StoreVersion(store))
    asked: list[list[int]] = []

    def read(ids: list[int]) -> dict[int, str]:
        asked.append(list(ids))
        return {i: f"p{i}" for i in ids if i != 99}  # 99: not in the store

    assert memo.many("passage", [1, 2, 99], read) == {1: "p1", 2: "p2"}
    assert memo.many("passage", [2, 3, 99], read) == {2: "p2", 3: "p3"}
    assert asked == [[1, 2, 99], [3, 99]]  # 2 was kept; an id the store lacks is asked again
    with store.transaction() as s:
        store.set_crawl_state(s, "pubmed:q", {"retstart": 1})
    assert memo.many("passage", [1], read) == {1: "p1"} and asked[-1] == [1]  # a write drops what was kept


def test_sentence_facts_are_the_same_kept_or_not() -> None:
    sentence = "Patients who are CYP2C19 poor metabolizers should not receive clopidogrel; consider another P2Y12 inhibitor."
    first = (_entities(sentence), _not_evidence(sentence), _action(sentence))
    assert first == (_entities.__wrapped__(sentence), _not_evidence.__wrapped__(sentence), _action.__wrapped__(sentence))
    assert first == (_entities(sentence), _not_evidence(sentence), _action(sentence))
    drugs, genes, genetic = first[0]
    assert "clopidogrel" in drugs and "CYP2C19" in genes and genetic and not first[1] and first[2][0] is not None
    assert _not_evidence("Table 3.")
