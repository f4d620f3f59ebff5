"""newsqa: semantic search and cited question answering over news articles.

Shared pieces used by both sides of the pipeline live here (settings, domain errors, the CLI)
and the Python API, ``newsqa.Index`` (``newsqa/api.py``). ``Index`` is loaded on first use:
``indexer`` imports ``newsqa.errors``, which runs this file, and must not pull the service in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsqa.api import Filters, Index

__version__ = "0.1.0"
__all__ = ["Filters", "Index", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Index", "Filters"):
        from newsqa import api

        return getattr(api, name)
    raise AttributeError(f"module 'newsqa' has no attribute {name!r}")
