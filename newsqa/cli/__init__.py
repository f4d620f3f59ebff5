"""The `newsqa` command: build the model, index a corpus, serve it, ask it, search it, write
to it, export it, evaluate it. Each module registers its commands on ``common.app``."""

from newsqa.cli import articles, evaluation, indexing, querying  # noqa: F401  (commands)
from newsqa.cli.common import app

__all__ = ["app"]
