"""What story clusters and event times cost at index time, per article, beside embedding it.

    python -m bench --sections news

Over detik-2025 (1,000 articles): the MinHash signature each segment stores per article
(``indexer.stories.signature``), the event extraction (``indexer.event_time``), and placing the
whole corpus in stories at once (``indexer.stories.find_stories``, what the first commit of an
index does; later commits place only their own articles); against embedding the same
articles' chunks (``Embedder.embed_passages``) on a sample, measured alternately in the same
run. Also the stories found: articles in stories,
stories, and pairs.
"""

from __future__ import annotations

import json
import time

from bench.common import DETIK, best_of, embedder, log


def run(sample: int = 48) -> dict:
    from indexer.chunking import Chunker
    from indexer.dedup import dedupe
    from indexer.documents import SkippedRecord, searchable_text
    from indexer.event_time import extract_events, publication_day
    from indexer.sources import read_articles
    from indexer.stories import find_stories, signatures

    articles = [a for a in read_articles([DETIK]) if not isinstance(a, SkippedRecord)]
    kept = dedupe(articles).kept
    texts = {a.id: a.text for a in kept}
    picked = kept[:sample]
    chunker = Chunker()
    chunk_texts = [searchable_text(a.title, c.text) for a in picked for c in chunker.split(a)]
    emb = embedder()
    emb.embed_passages(chunk_texts[:4])  # warm up
    log(f"news: {len(kept)} articles; embedding {len(chunk_texts)} chunks of {sample} of them")
    times = best_of(
        {
            "embed": lambda: emb.embed_passages(chunk_texts),
            "signatures": lambda: signatures([a.text for a in picked]),
            "events": lambda: [
                extract_events(a.text, publication_day(a.published)) for a in picked
            ],
        },
        repeats=3,
    )
    best = {name: min(t) for name, t in times.items()}
    started = time.perf_counter()
    every = signatures([a.text for a in kept])
    signatures_s = time.perf_counter() - started
    started = time.perf_counter()
    stories = find_stories([a.id for a in kept], every, texts.__getitem__)
    cluster_s = time.perf_counter() - started
    members: dict[str, int] = {}
    for story in stories.values():
        members[story] = members.get(story, 0) + 1
    per_article_ms = {name: 1000 * s / len(picked) for name, s in best.items()}
    return {
        "articles": len(kept),
        "sample": len(picked),
        "per_article_ms": {k: round(v, 2) for k, v in per_article_ms.items()},
        "signatures_and_events_over_embedding": round(
            (best["signatures"] + best["events"]) / best["embed"], 4
        ),
        "all_signatures_s": round(signatures_s, 2),
        "find_stories_s": round(cluster_s, 2),
        "articles_in_stories": len(stories),
        "stories": len(members),
        "pairs": sum(n * (n - 1) // 2 for n in members.values()),
    }


def table(r: dict) -> str:
    ms = r["per_article_ms"]
    return "\n".join(
        [
            f"detik-2025: {r['articles']:,} articles; per-article times on {r['sample']} of them.",
            "",
            "| per article | ms |",
            "|---|---|",
            f"| embedding its chunks | {ms['embed']:.1f} |",
            f"| MinHash signature (stored) | {ms['signatures']:.2f} |",
            f"| event extraction (stored) | {ms['events']:.2f} |",
            "",
            f"Signature + events ÷ embedding: **{r['signatures_and_events_over_embedding']:.3f}**."
            f" Stories of all {r['articles']:,} articles: signatures {r['all_signatures_s']:.1f} s"
            f" (once, at indexing), placing them all in stories {r['find_stories_s']:.2f} s (a "
            f"first commit). Found: {r['articles_in_stories']} articles in {r['stories']} stories "
            f"({r['pairs']} pairs).",
        ]
    )


if __name__ == "__main__":  # `python -m bench.news`: this section alone, as the others
    print(json.dumps(run(), indent=2))
