"""Export the shipped MiniLM to ONNX ahead of first use (pgxlit otherwise does it on the first embedding).

    python tools/export_onnx.py            # fp32 (embed.quantize = false)
    python tools/export_onnx.py --int8     # also the int8 copy (embed.quantize = true; index/onnx_export.py
                                           # says how it is made, docs/speed.md what it was measured to keep)

The export goes to $PGXLIT_MODELS_HOME, else ~/.cache/pgxlit/models (XDG_CACHE_HOME respected),
shared by every PGXLIT_HOME of the user; it needs torch, transformers and onnx, which pgxlit
installs. The int8 copy also reads its calibration abstracts from corpora/snapshot/pubmed (a
source checkout has it). Prints the folder of each export.
"""

from __future__ import annotations

import argparse
import time

from pgxlit.index.embed import models_home
from pgxlit.index.onnx_export import ensure_exported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--int8", action="store_true", help="also write the int8 model (embed.quantize)")
    args = parser.parse_args()
    for quantize in (False, True) if args.int8 else (False,):
        started = time.perf_counter()
        folder = ensure_exported(models_home(), quantize=quantize)
        print(f"{'int8' if quantize else 'fp32'}: {folder} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
