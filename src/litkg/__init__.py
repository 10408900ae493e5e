"""litkg: an incremental, temporal knowledge graph of the scientific literature.

    import litkg
    kg = litkg.open("data/store")          # read-only; every call returns a polars DataFrame
    litkg.backfill("2024-03-01", "2024-03-31", sources=["data/sample"], home="data/store")

See docs/python.md.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("litkg")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

# Imported on first use, so that `import litkg` (and `litkg --version`) stays fast.
_LAZY = {"open": "litkg.graph", "Graph": "litkg.graph", "run": "litkg.batches",
         "backfill": "litkg.batches", "RunSummary": "litkg.pipeline"}
__all__ = ["__version__", *(n for n in _LAZY if n != "open")]  # no builtin shadowed by *


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'litkg' has no attribute {name!r}")
