"""Turn scraped article text into the canonical text that chunks and citations point into.

The boilerplate rules are data (the tuples below), not code, so that a new site's junk line is one
more pattern and a reviewer can see every rule at a glance. Each pattern must match a *whole* line
(after whitespace normalisation): a body sentence that merely mentions "video" or "iklan" survives.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

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

# Invisible characters that split words for a tokenizer without showing on the page, dropped;
# and control characters that are no line break, made spaces: a NUL from a broken export cut
# the stored passage short where it stood (its text no longer the article's slice).
_WORD_SPLITTERS = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
_INVISIBLE = {
    **_WORD_SPLITTERS,
    **dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F], " "),
}


class _FormatOrControl(dict[int, str | None]):
    """``str.translate``'s table for ``as_searched``, filled as characters are met: format
    characters (category Cf) dropped, controls (Cc) made spaces, the rest kept. Scanning the
    whole code space for them up front cost ~0.2 s at the first such question; only the
    (few hundred) characters it changes are kept, so the table stays small."""

    def __missing__(self, code: int) -> str | int | None:
        category = unicodedata.category(chr(code))
        if category == "Cf":
            self[code] = None
        elif category == "Cc":
            self[code] = " "
        else:
            return code
        return self[code]


_FORMAT_OR_CONTROL = _FormatOrControl()


def as_searched(text: str) -> str:
    """``text`` as a search reads it: without Unicode format characters (zero-width
    non-joiner and joiner, bidi marks and embeddings, soft hyphen, BOM), which change no
    letter, and with control characters as spaces. Cleaning keeps ZWNJ/ZWJ and bidi marks in
    stored text (citations point into it) and drops only ``_WORD_SPLITTERS``, so a
    question with "Pale\u200cmbang" was the terms "pale" and "mbang" and its /ask abstained
    where "Palembang" answered; a NUL between two words glued them for the encoder."""
    if text.isascii() and text.isprintable():
        return text
    return _LETTERS.sub(_latin_if_mixed, text.translate(_FORMAT_OR_CONTROL))


# Cyrillic and Greek letters drawn like Latin ones (Unicode's confusables, those a keyboard
# layout or a spam filter dodge puts inside a Latin word).
_LOOKALIKES = str.maketrans(
    "АВЕКМНОРСТУХаеорсухЅѕІіЈјԁһԛԝӏҮΑΒΕΖΗΙΚΜΝΟΡΤΥΧο",
    "ABEKMHOPCTYXaeopcyxSsIiJjdhqwlYABEZHIKMNOPTYXo",
)
_LETTERS = re.compile(r"[^\W\d_]+")


def _latin_if_mixed(word: re.Match[str]) -> str:
    """A word of Latin letters with Cyrillic or Greek look-alikes inside, in Latin letters:
    "Раlеmbаng" (Р, а, е, а Cyrillic) was no term of any article, and its question abstained
    where "Palembang" answered. A word of another script only ("Москва") stays as typed."""
    text = word[0]
    if text.isascii() or not any("a" <= c.lower() <= "z" for c in text):
        return text
    latin = text.translate(_LOOKALIKES)
    return latin if all(map(_is_latin, latin)) else text


def _is_latin(char: str) -> bool:
    return char.isascii() or unicodedata.name(char, "").startswith("LATIN ")


# No-break spaces and soft hyphens after an ASCII character (or first): never a byte of a
# mojibake run (0xA0 and 0xAD only continue a UTF-8 sequence, whose lead byte is no ASCII), and
# made a space / dropped by the line normalisation anyway.
_SPACING_AFTER_ASCII = re.compile(r"(?:^|(?<=[\x00-\x7f]))[\u00a0\u00ad]+")
_SPACING = {0xA0: " ", 0xAD: None}


def _repair(text: str) -> str:
    """Mojibake repair and NFC, before lines are split: a mojibake run can hold U+0085, which
    splitlines() would otherwise take for a line break. A no-break space glued to a run
    (``"Kata\u00a0â€™s"``) made ftfy read the run with it as Mac Roman and "repair" it into
    ``"Kataʉ۪s"``, worse than before; it is made a plain space first where it cannot be part
    of the run."""
    text = _SPACING_AFTER_ASCII.sub(lambda m: m[0].translate(_SPACING), text)
    return ftfy.fix_text(text, _FTFY)


# Cleaning passes at most (``_settled``): two settled each of 20,000 random mixes of mojibake,
# invisible characters, controls and spaces.
_MAX_PASSES = 4

# The first item of a numbered list, at the start of a line.
_FIRST_ITEM = re.compile(r"1\.\s+\S")


def _numbered_items(line: str) -> list[str]:
    """A numbered list that was scraped without its line breaks, one item per line again.

    detik's lists often arrive as one line with each number glued to the end of the item before
    it: "1. Pecahan Rp 10.000 tanda tahun 19792. Pecahan Rp 5.000 tanda tahun 19803. ...".
    Left so, the list's facts are wrong ("19792" for 1979, "skor 3,352" for 3,35) and its items
    one sentence. The markers are found by the numbers they must carry, in order (2, then 3,
    ...), each before a space and an item's first letter or digit, so a glued number is cut
    where the next item's number begins. At least items 2 and 3 must be found: one "2." is as
    likely a year's last digit before a new sentence ("tahun 2022. Kemudian").
    """
    if not _FIRST_ITEM.match(line):
        return [line]
    cuts: list[int] = []
    number, at = 2, 0
    while found := re.compile(rf"{number}\.\s+(?=[A-Z0-9\"“(])").search(line, at):
        cuts.append(found.start())
        number, at = number + 1, found.end()
    if len(cuts) < 2:
        return [line]
    bounds = [0, *cuts, len(line)]
    return [line[a:b].strip() for a, b in zip(bounds, bounds[1:])]


def _normalize_line(line: str) -> str:
    return " ".join(line.translate(_INVISIBLE).split())


def _settled(clean: Callable[[str], str], text: str) -> str:
    """``clean(text)``, cleaned again until it no longer changes (a few passes at most).

    One pass is not always enough: ftfy reads a mojibake run together with what stands beside
    it, and a no-break space or soft hyphen there (``"kafe\u00a0Ã©"``, ``"berkata\u00a0â€œ"``:
    scraped pages are full of ``&nbsp;``) leaves the run unrepaired until the space is
    normalised. Stored so, the article showed ``Ã©`` and ``â€œ``, and ``newsqa export`` read back
    by ``newsqa index`` came out repaired: a different text (every citation offset after it
    moved), reported as updated and embedded again. The canonical text is a fixed point, so
    cleaning it once more changes nothing.
    """
    cleaned = clean(text)
    for _ in range(_MAX_PASSES - 1):
        again = clean(cleaned)
        if again == cleaned:
            break
        cleaned = again
    return cleaned


def normalize_inline(text: str) -> str:
    """Normalise a one-line field (a title) the same way as body lines, so both compare alike."""
    return _settled(_normalize_inline_once, text)


def _normalize_inline_once(text: str) -> str:
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
    return _settled(_clean_once, text)


def _clean_once(text: str) -> str:
    paragraphs: list[str] = []
    for raw_line in _repair(text).splitlines():
        line = _normalize_line(raw_line)
        if not line:
            continue
        if _starts_comment_form(line):
            break
        if not _is_boilerplate(line):
            paragraphs.extend(_numbered_items(line))
    return "\n\n".join(paragraphs)
