"""The page layout of a PDF list, decided from the cells' text before WeasyPrint sees them.

A list printed with fixed, equal-ish column widths breaks phone numbers and headers mid-word
(``Branc`` / ``h``). Here every column is measured (its widest cell and its longest word, in
em, from a conservative per-character width table), then the first layout that fits wins:

1. the largest font size (9 pt down to 7 pt) at which every cell fits on one line, on portrait
   A4 first and landscape A4 second (so narrow lists print portrait);
2. failing that, landscape at the largest size (7 pt down to 5.5 pt) at which every column's
   longest *word* fits; text then wraps at spaces only (``word-break: keep-all``, no
   hyphenation), numbers, dates, phones and codes never wrap;
3. as a last resort (a single word wider than the page) text may break anywhere.

Text is measured with the advance widths of the font fontconfig picks for the PDF's font list
(the one WeasyPrint lays the page out with), read once per process with fontTools (a
WeasyPrint dependency); a character that font lacks, or a machine without fontconfig, falls
back to a per-character table that is an upper bound of the usual fonts."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from carebiz.export.table import BOOL, DATE, DATETIME, MONEY, NUMBER, Column

#: column types whose cells never wrap
UNBROKEN_TYPES = (NUMBER, MONEY, DATE, DATETIME, BOOL)
#: keys of text columns holding codes that must not wrap (phones, e-mails, plates …)
UNBROKEN_KEYS = re.compile(r"phone|mobile|tel|fax|e-?mail|vin|plate|code|number|^id$|_id$",
                           re.IGNORECASE)
#: a phone number as people write it: +86 138 0013 8000, (021) 5555-0100, 138-0013-8000
PHONE = re.compile(r"\+?\(?\d[\d ()./-]{5,}\d")
#: a token in which a line could break though it has no space: a hyphen or slash
#: (138-0013, 2024/05/01) or Chinese/Japanese text (WeasyPrint has no ``word-break:
#: keep-all``, so a CJK word is kept whole by ``white-space: nowrap``)
ATOM = re.compile(r"\S*[-/‐–—\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]\S*")

MM = 72 / 25.4  # points per millimetre
A4 = (210 * MM, 297 * MM)
MARGIN_X = 10 * MM  # left and right page margins (see pdf.pdf_css)
PAD = 2 * 3.0 + 0.5  # cell padding left + right and one border, in points
SLACK = 1.03  # keep a few per cent in hand (kerning, rounding)

NOWRAP_SIZES = (9.0, 8.5, 8.0, 7.5, 7.0)
WRAP_SIZES = (7.0, 6.5, 6.0, 5.5)


log = logging.getLogger(__name__)

#: the PDF's fonts, as fontconfig is asked for them (see ``pdf.FONTS``)
FONT_PATTERN = "WenQuanYi Micro Hei,Noto Sans CJK SC,sans-serif"
#: bold headers and rounding: synthetic bold is a little wider than the regular face
BOLD = 1.08


@lru_cache(maxsize=1)
def font_metrics() -> tuple[Any, Any, int] | None:
    """(cmap, hmtx, units per em) of the font the PDF is laid out with, or None when it
    cannot be told (no fontconfig, no readable font)."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        found = subprocess.run([fc_match, "-f", "%{file}|%{index}", FONT_PATTERN],
                               capture_output=True, text=True, timeout=10, check=True).stdout
        path, _, index = found.partition("|")
        from fontTools.ttLib import TTFont

        font = TTFont(path, fontNumber=int(index or 0), lazy=True)
        return font.getBestCmap(), font["hmtx"].metrics, int(font["head"].unitsPerEm)
    except Exception:  # any failure: the table below measures instead
        log.warning("could not read the PDF font's metrics; estimating widths", exc_info=True)
        return None


@lru_cache(maxsize=8192)
def char_em(ch: str) -> float:
    """One character's advance in em in the PDF's font (estimated when not known)."""
    metrics = font_metrics()
    if metrics is not None:
        cmap, hmtx, upem = metrics
        name = cmap.get(ord(ch))
        if name is not None and name in hmtx:
            return float(hmtx[name][0]) / upem
    return estimate_em(ch)


def estimate_em(ch: str) -> float:
    """An upper bound of one character's advance in em across the usual fonts."""
    if unicodedata.combining(ch):
        return 0.0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if ch == " " or ch == "\u00a0":
        return 0.32
    if ch in "il.,;:!'|Ijf()[]{}`":
        return 0.4
    if ch.isdigit():
        return 0.64
    if ch in "mwMW@%&":
        return 1.0
    if ch.isupper():
        return 0.78
    if ch.islower():
        return 0.62
    return 0.72


def text_em(text: str) -> float:
    return sum(char_em(ch) for ch in text)


@dataclass
class Measure:
    """One column's needs in em: its widest line unwrapped and its longest unbreakable word."""

    natural: float = 0.0
    word: float = 0.0

    def add(self, text: str, unbroken: bool) -> None:
        width = text_em(text)
        self.natural = max(self.natural, width)
        if unbroken:
            self.word = max(self.word, width)
        elif width > self.word:
            self.word = max(self.word, *(text_em(w) for w in words(text)))


def words(text: str) -> list[str]:
    """The pieces a line may break between: spaces, except inside a phone number."""
    return PHONE.sub(lambda m: m.group(0).replace(" ", "\u00a0"), text).split() or [""]


def unbroken_column(column: Column) -> bool:
    return column.type in UNBROKEN_TYPES or bool(UNBROKEN_KEYS.search(column.key or ""))


@dataclass(frozen=True)
class Layout:
    """What the page needs: orientation, font size, column widths (points) and whether text
    may wrap at spaces, or (last resort) anywhere."""

    landscape: bool
    font_pt: float
    widths: tuple[float, ...]
    wrap: bool
    break_anywhere: bool = False

    @property
    def page_size(self) -> str:
        return "A4 landscape" if self.landscape else "A4 portrait"


def usable_width(landscape: bool) -> float:
    return (A4[1] if landscape else A4[0]) - 2 * MARGIN_X


def choose_layout(measures: Sequence[Measure], headers: Sequence[Measure]) -> Layout:
    """The first layout of the module's list that fits (see the module's docstring). A
    header may wrap at its spaces (``Lifetime / value``) but never inside a word."""
    natural = [max(m.natural, h.word * BOLD) for m, h in zip(measures, headers, strict=True)]
    word = [max(m.word, h.word * BOLD) for m, h in zip(measures, headers, strict=True)]
    for size in NOWRAP_SIZES:
        for landscape in (False, True):
            widths = [w * size * SLACK + PAD for w in natural]
            if sum(widths) <= usable_width(landscape):
                return Layout(landscape, size, _spread(widths, widths, landscape), False)
    room = usable_width(True)
    for size in WRAP_SIZES:
        least = [w * size * SLACK + PAD for w in word]
        if sum(least) <= room:
            most = [w * size * SLACK + PAD for w in natural]
            return Layout(True, size, _spread(least, most, True), True)
    size = WRAP_SIZES[-1]
    least = [min(w * size * SLACK + PAD, room / len(word)) for w in word]
    most = [w * size * SLACK + PAD for w in natural]
    return Layout(True, size, _spread(least, most, True), True, break_anywhere=True)


def _spread(least: list[float], most: list[float], landscape: bool) -> tuple[float, ...]:
    """Column widths between ``least`` and ``most`` filling the page: the room left after
    every column's least goes to the columns that want more, in proportion to their want;
    what is left after every column has its most is shared evenly."""
    room = usable_width(landscape)
    extra = room - sum(least)
    want = [max(0.0, m - lo) for lo, m in zip(least, most, strict=True)]
    total_want = sum(want)
    if total_want >= extra:
        share = extra / total_want if total_want else 0.0
        return tuple(lo + w * share for lo, w in zip(least, want, strict=True))
    left = (extra - total_want) / len(least)
    return tuple(m + left for m in most)
