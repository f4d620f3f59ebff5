"""newsqa: semantic search and cited question answering over news articles.

Shared pieces used by both sides of the pipeline live here (settings, domain errors, the CLI);
the indexer writes an index directory, the service reads it.
"""

__version__ = "0.1.0"
