"""Index building with embedding spread over an execution engine: the embedding shard function and the driver.

`embed_shard` is module-level so Ray and spawned processes can pickle it by name;
`pgxlit.engine` runs it without knowing what it does.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from pgxlit.config import Settings
from pgxlit.engine import ExecutionEngine, limit_threads
from pgxlit.store import Store


def embed_shard(job: tuple) -> np.ndarray:
    """Embed one chunk of passage texts with the model the settings name.

    `job` is (model, device, batch size, threads, texts, runtime, quantize): a worker owns only
    `threads` cores, set for torch here and for ONNX Runtime when its session starts."""
    from pgxlit.index.embed import get_embedder

    model, device, batch_size, threads, texts, runtime, quantize = job
    limit_threads(threads)
    embedder = get_embedder(model, device, batch_size, runtime, threads, quantize)
    limit_threads(threads)  # sentence-transformers' loader sets torch to all cores again
    return embedder.encode(texts)


class ShardedEmbedder:
    """An `Embedder` whose encode() spreads the texts over the engine's workers (the index's costly part)."""

    def __init__(self, engine: ExecutionEngine, settings: Settings, chunk: int = 512) -> None:
        from pgxlit.index.embed import embedder_for

        self.engine = engine
        self.model, self.device, self.batch_size = settings.embed.model, settings.embed.device, settings.embed.batch_size
        self.runtime, self.quantize = settings.embed.runtime, settings.embed.quantize
        local = embedder_for(settings)  # name and dim, and query-time use
        self.name, self.dim = local.name, local.dim
        self.chunk = chunk
        self.threads = max(1, (os.cpu_count() or 1) // engine.workers)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        jobs = ((self.model, self.device, self.batch_size, self.threads, texts[i : i + self.chunk], self.runtime,
                 self.quantize)
                for i in range(0, len(texts), self.chunk))
        return np.concatenate(list(self.engine.map(embed_shard, jobs)), axis=0)


def run_index_on(engine: ExecutionEngine, store: Store, settings: Settings, *, rebuild: bool = False,
                 progress: Callable[[int, int | None], None] | None = None) -> dict[str, object]:
    """`update_index` with embedding spread over the engine's workers; passages and BM25 stay in the driver.

    An IVF-PQ index is trained in the driver on a sample (embedded on the workers), then each worker
    embeds and encodes whole shards of passages and sends back only their codes, which the driver merges.
    """
    from pgxlit.index.build import update_index

    sharded = engine.workers > 1 or engine.name != "local"
    embedder = ShardedEmbedder(engine, settings) if sharded else None
    report = update_index(store, settings, rebuild=rebuild, embedder=embedder, progress=progress,
                          shard_map=engine.map if sharded else None,
                          shard_threads=embedder.threads if embedder is not None else 1)
    return {**report, "engine": engine.name, "workers": engine.workers}
