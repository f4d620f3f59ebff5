"""Story clusters (indexer/stories.py): copies of real detik articles, made the ways outlets
republish a story, are found; different stories on one topic are not merged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexer.stories import NUM_PERM, find_stories, signatures, story_map, update_stories

# detik-2025 articles (read from ../shared, not copied here): two rupiah reports of other
# days, and two unrelated stories.
RUPIAH_21_AUG, RUPIAH_21_JUL = "detik-0145", "detik-0151"
OTHERS = ["detik-0056", "detik-0397"]


@pytest.fixture(scope="module")
def detik(shared_dir):
    wanted = {RUPIAH_21_AUG, RUPIAH_21_JUL, *OTHERS}
    with open(shared_dir / "data" / "news" / "detik-2025.jsonl", encoding="utf-8") as f:
        rows = (json.loads(line) for line in f)
        return {r["id"]: r["text"] for r in rows if r["id"] in wanted}


def republished(text: str) -> dict[str, str]:
    """The ways another outlet republishes a story."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    return {
        "dateline": "JAKARTA, KABARKITA.ID - " + text,
        "footer": text + "\n\nBaca berita lainnya di KabarKita.id. Ikuti kami di media sosial.",
        "last paragraph dropped": "\n".join(paragraphs[:-1]),
        "all of it": "PALEMBANG - " + "\n".join(paragraphs[:-1]) + "\n\n(red/kk)",
    }


def stories_of(texts: dict[str, str]) -> dict[str, str]:
    ids = sorted(texts)
    return find_stories(ids, signatures([texts[i] for i in ids]), texts.__getitem__)


def test_copies_join_their_story_and_other_stories_stay_apart(detik):
    texts = dict(detik)
    copies = {f"copy-{kind}": t for kind, t in republished(detik[RUPIAH_21_AUG]).items()}
    texts.update(copies)
    stories = stories_of(texts)
    story = stories[RUPIAH_21_AUG]
    assert all(stories.get(c) == story for c in copies), stories
    # the same topic on another day, and unrelated stories, share little text: never merged
    for other in [RUPIAH_21_JUL, *OTHERS]:
        assert other not in stories, other
    assert story == min([RUPIAH_21_AUG, *copies])  # a story's id is its smallest article id


def test_two_halves_of_a_roundup_are_not_one_story(detik):
    """Complete linkage: each half is a copy of part of the roundup, but not of each other."""
    first, second = detik[OTHERS[0]], detik[OTHERS[1]]
    texts = {"a-roundup": first + "\n\n" + second, "b-first": first, "c-second": second}
    stories = stories_of(texts)
    assert stories.get("b-first") != stories.get("c-second")
    assert stories["a-roundup"] == stories.get("b-first") or (
        stories["a-roundup"] == stories.get("c-second")
    )


def test_no_stories_among_fewer_than_two_articles():
    assert find_stories([], np.zeros((0, NUM_PERM), dtype=np.uint64), str) == {}
    assert stories_of({"x": "satu dua tiga"}) == {}


def commit(before: dict[str, list[str]], texts: dict[str, str], added: list[str]):
    """The stories after a commit whose live articles are ``texts``."""
    ids = list(texts)
    return update_stories(before, ids, signatures([texts[i] for i in ids]), added, texts.get)


def test_a_commit_places_only_its_own_articles(detik):
    """Copies arriving one commit at a time end where one batch puts them; a deleted or
    rewritten member leaves its story and the others stay together."""
    copies = {f"copy-{kind}": t for kind, t in republished(detik[RUPIAH_21_AUG]).items()}
    texts = dict(detik)
    stories = commit({}, texts, list(texts))
    assert stories == {}
    for copy_id, text in copies.items():
        texts[copy_id] = text
        stories = commit(stories, texts, [copy_id])
    assert story_map(stories) == stories_of(texts)
    story = min(copies)
    assert stories == {story: sorted([RUPIAH_21_AUG, *copies])}

    del texts[story]  # the story's id leaves: the smallest remaining member names it
    stories = commit(stories, texts, [])
    rest = sorted([RUPIAH_21_AUG, *copies])[1:]
    assert stories == {rest[0]: rest}
    texts[rest[0]] = detik[OTHERS[0]] + " (diperbarui)"  # rewritten into another story
    stories = commit(stories, texts, [rest[0]])
    joined = sorted([rest[0], OTHERS[0]])
    assert stories == {rest[1]: rest[1:], joined[0]: joined}
