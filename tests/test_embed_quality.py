"""Quality gates of the shipped embedder (issue 15) on passages cut from the bundled snapshot.

The shipped path (MiniLM exported to ONNX, run by ONNX Runtime) must give the vectors stock
sentence-transformers gives: cosine >= 0.99 for every sampled passage, the same token ids
(truncated where sentence-transformers truncates), the same vectors whatever the batch and
order, and the same vectors when several threads encode at once (web asks run concurrently).
Retrieval quality (nDCG@10 within 0.01 of the sentence-transformers index) is measured by
`pgxlit eval qa`; docs/speed.md has the figures.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from pgxlit.config import Settings
from pgxlit.records import Abstract, LabelVersion
from pgxlit.store import Store

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "corpora" / "snapshot"


@pytest.fixture(scope="module")
def passages(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """About 400 passages spread over the snapshot's labels and abstracts, cut as `pgxlit index` cuts them."""
    from pgxlit.extract.pipeline import rules_nlp
    from pgxlit.index.passages import abstract_passages, label_passages
    from pgxlit.ingest.load import Loader

    if not (SNAPSHOT / "manifest.tsv").is_file():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    folder = tmp_path_factory.mktemp("embed_quality")
    store = Store(f"sqlite:///{folder / 'pgxlit.sqlite'}")
    Loader(store, Settings(home=folder)).load([SNAPSHOT])
    docs = [record for _, _, record in store.documents_for_extraction()]
    store.close()
    labels = [d for d in docs if isinstance(d, LabelVersion)]
    abstracts = [d for d in docs if isinstance(d, Abstract)]
    nlp = rules_nlp()
    texts: list[str] = []
    for label in labels[:: max(1, len(labels) // 8)]:
        texts += [p.text for p in label_passages(label, nlp=nlp)][::3]
    for abstract in abstracts[:: max(1, len(abstracts) // 120)]:
        texts += [p.text for p in abstract_passages(abstract, nlp=nlp)]
    assert len(texts) >= 200
    return texts


@pytest.fixture(scope="module")
def stock():
    from pgxlit.index.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder("minilm", "cpu", 64)


@pytest.fixture(scope="module")
def shipped():
    from pgxlit.index.embed import embedder_for

    return embedder_for(Settings())


def test_shipped_default_is_onnx(shipped) -> None:
    """Otherwise the gates below would compare sentence-transformers with itself."""
    assert shipped.runtime == "onnx"
    assert shipped.name == "minilm" and shipped.dim == 384


def test_cosine_to_stock_vectors(passages: list[str], shipped, stock) -> None:
    ours = shipped.encode(passages)
    theirs = stock.encode(passages)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosine = np.sum(ours * theirs, axis=1)
    worst = int(np.argmin(cosine))
    assert cosine.min() >= 0.99, f"cosine {cosine.min():.4f} on passage {passages[worst][:80]!r}"
    assert cosine.mean() >= 0.999  # fp32 export: only rounding differs


def test_tokens_match_sentence_transformers(passages: list[str], shipped, stock) -> None:
    long = " ".join(passages[:6])  # well over 256 tokens: both truncate at the same place
    texts = [long, "  CYP2C19 poor metabolizers  ", *passages[:50]]
    st = stock._model.tokenize(texts)
    ours = shipped._tokenizer.encode_batch([t.strip() for t in texts])
    for row, enc in enumerate(ours):
        n = int(st["attention_mask"][row].sum())
        assert enc.ids == st["input_ids"][row][:n].tolist()
    assert len(ours[0].ids) == 256


def test_batching_and_order_do_not_change_vectors(passages: list[str], shipped) -> None:
    texts = passages[:40]
    together = shipped.encode(texts)
    alone = np.stack([shipped.encode([t])[0] for t in texts[:8]])
    assert np.allclose(together[:8], alone, atol=1e-5)
    reversed_ = shipped.encode(texts[::-1])[::-1]
    assert np.allclose(together, reversed_, atol=1e-5)
    assert shipped.encode([]).shape == (0, 384)


def test_concurrent_encodes_agree(passages: list[str], shipped) -> None:
    """Web asks encode queries from several threads at once, with no lock."""
    queries = [p[:120] for p in passages[:24]]
    expected = shipped.encode(queries)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                results[i] = shipped.encode([queries[i]])[0]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert np.allclose(np.stack([results[i] for i in range(len(queries))]), expected, atol=1e-5)


def test_a_failed_export_leaves_nothing(tmp_path: Path) -> None:
    from pgxlit.index.onnx_export import _publish

    def broken(out: Path) -> None:
        (out / "model.onnx").write_bytes(b"half")
        raise RuntimeError("killed mid-export")

    with pytest.raises(RuntimeError):
        _publish(tmp_path / "minilm-x", broken)
    assert list(tmp_path.iterdir()) == []


def test_runtime_setting_is_checked() -> None:
    from pgxlit.index.embed import choose_runtime

    assert choose_runtime("auto", "minilm", "cpu") == "onnx"
    assert choose_runtime("auto", "minilm", "cuda") == "sentence-transformers"
    assert choose_runtime("auto", "some/hub-model", "cpu") == "sentence-transformers"
    assert choose_runtime("sentence-transformers", "minilm", "cpu") == "sentence-transformers"
    with pytest.raises(ValueError, match="embed_runtime"):
        choose_runtime("tensorrt", "minilm", "cpu")
    with pytest.raises(ValueError, match="sentence-transformers"):
        choose_runtime("onnx", "some/hub-model", "cpu")
