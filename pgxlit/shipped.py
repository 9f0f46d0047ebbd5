"""Where the data the product ships (corpora/: lexicons, trained weights) is found.

In a source checkout it is the repository's corpora/ folder; in an installed wheel the same
files are package data of `pgxlit.corpora`. Both sit at the same place relative to the
installed package, so one lookup serves both.
"""

from __future__ import annotations

from pathlib import Path


def shipped(relative: str, marker: str) -> Path:
    """The folder corpora/<relative>, found by a file it must hold (`marker`)."""
    here = Path(__file__).resolve().parents[1] / "corpora" / relative
    if (here / marker).is_file():
        return here
    try:
        from importlib.resources import files

        packaged = Path(str(files("pgxlit.corpora") / relative))
        if (packaged / marker).is_file():
            return packaged
    except Exception:  # noqa: BLE001 - package absent or not a real folder
        pass
    return here
