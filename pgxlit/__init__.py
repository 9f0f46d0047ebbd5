"""pgxlit: pharmacogenomics literature mining with cited answers."""

__version__ = "0.1.0"
