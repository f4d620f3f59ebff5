"""Turn scraped article text into the canonical text that chunks and citations point into.

The boilerplate rules are data (the tuples below), not code, so that a new site's junk line is one
more pattern and a reviewer can see every rule at a glance. Each pattern must match a *whole* line
(after whitespace normalisation): a body sentence that merely mentions "video" or "iklan" survives.
"""

from __future__ import annotations

import re

import ftfy

# Lines dropped wherever they appear.
BOILERPLATE_LINES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"advertisements?",  # ad slot label (WordPress "Advertisements", detik "ADVERTISEMENT")
        r"scroll to (?:continue|resume) (?:with )?content",  # detik in-article ad break
        # detik video teasers: "Simak juga Video '...':", 'Tonton juga "..." di sini:'
        r"(?:simak|tonton|lihat)(?: juga)? video\b.*",
        r"tonton juga\s*[\"'“‘].*",
        r"video\s*:.*",  # video embed caption: "Video: Melihat Dampak ..."
        r"saksikan live\s*detik\s*pagi\s*:?",  # detikPagi live-stream embed label
        r"saksikan pembahasan lengkapnya .*detik\s*pagi.*",  # detikPagi programme promo
        r"[\"“]?detik pagi, jangan tidur lagi!?[\"”]?",  # detikPagi slogan closing that promo
        r"baca juga\s*:.*",  # related-article link: "Baca juga: ..."
        r"(?:baca|simak) selengkapnya di halaman (?:berikutnya|selanjutnya)\W*",  # pagination link
        r"baca beritanya dalam\s*bahasa inggris",  # ABC Australia syndication link
        r"\[gambas:[^\]]*\]",  # detik embed placeholder: "[Gambas:Video 20detik]"
        r"\(foto:[^)]*\)",  # photo credit: "(Foto: dok. Cetaphil)"
        r"editor\s*:\s*[^.:]{1,60}",  # byline credit: "Editor: Hani Anggraini"
        r"pos terkait",  # WordPress related-posts heading
        r"[-–—_=*]{3,}",  # horizontal-rule separators
    )
)

# A line that opens a site's comment form: it and everything after it are dropped, because what
# follows (field labels, spam notices, reader comments) is never article text.
COMMENT_FORM_START: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"tinggalkan (?:balasan|komentar)",  # WordPress (id) comment heading
        r"leave a (?:reply|comment)",  # WordPress (en) comment heading
        r"alamat email anda tidak akan dipublikasikan\b.*",  # WordPress (id) form notice
        r"your email address will not be published\b.*",  # WordPress (en) form notice
        r"ruas yang wajib ditandai \*",  # WordPress (id) required-field notice
        r"situs ini menggunakan akismet\b.*",  # Akismet anti-spam notice
    )
)

# ftfy undoes mojibake however the bytes were misread: UTF-8 decoded as Latin-1 ("JÃ³hann") or as
# Windows-1252 ("Itâ€™s", whose "€™" a Latin-1-only rule cannot read back), twice over, or mixed
# with correct text; it also maps stray C1 controls (a lone \x93) to the Windows-1252 characters
# they stood for. Some scraped rows (Arabic quotations, Icelandic names, bullets, quotes) arrive
# like this; left alone they are unsearchable noise. ftfy's other fixes are off because they would
# rewrite text that is right as published: curly quotes, ligatures, full-width letters and HTML
# entities stay as the source wrote them (the analyzer folds ligatures and widths for search), and
# control characters stay for splitlines(), which reads a form feed as a paragraph break instead
# of gluing two words.
_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    remove_control_chars=False,
    restore_byte_a0=False,
    normalization="NFC",
    explain=False,
)

# Invisible characters that split words for a tokenizer without showing on the page.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))


def _repair(text: str) -> str:
    """Mojibake repair and NFC, before lines are split: a mojibake run can hold U+0085, which
    splitlines() would otherwise take for a line break."""
    return ftfy.fix_text(text, _FTFY)


def _normalize_line(line: str) -> str:
    return " ".join(line.translate(_INVISIBLE).split())


def normalize_inline(text: str) -> str:
    """Normalise a one-line field (a title) the same way as body lines, so both compare alike."""
    return _normalize_line(_repair(text))


def _is_boilerplate(line: str) -> bool:
    return any(pattern.fullmatch(line) for pattern in BOILERPLATE_LINES)


def _starts_comment_form(line: str) -> bool:
    return any(pattern.fullmatch(line) for pattern in COMMENT_FORM_START)


def clean_text(text: str) -> str:
    """Return the article body with boilerplate removed and one paragraph per non-empty line.

    Paragraphs are joined by exactly ``"\\n\\n"`` whatever the source used (detik separates them
    with one newline, plain-text pages with blank lines), so chunking sees one convention.
    Returns ``""`` when nothing but boilerplate was there.
    """
    paragraphs: list[str] = []
    for raw_line in _repair(text).splitlines():
        line = _normalize_line(raw_line)
        if not line:
            continue
        if _starts_comment_form(line):
            break
        if not _is_boilerplate(line):
            paragraphs.append(line)
    return "\n\n".join(paragraphs)
