"""Code 128 (code set B) as SVG, for the barcode on printed waybills.

Why our own: no barcode library is a dependency of the project, and Code 128 B of a short
printable text is a table of 107 patterns and a checksum — smaller than the glue a library
would need. SVG because browsers, WeasyPrint (PDF) and printers draw it sharply at any
size. The patterns are the bar/space widths of ISO/IEC 15417 (each symbol three bars and
three spaces over 11 modules; the stop symbol 13 modules with its final bar).
"""

from __future__ import annotations

from markupsafe import Markup, escape

#: bar/space widths of the symbol values 0 … 106 (103–105: start A/B/C, 106: stop)
PATTERNS = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
)
START_B = 104
STOP = 106
QUIET = 10  #: modules of white on each side, so a scanner finds the start


def symbols(text: str) -> list[int]:
    """The symbol values of ``text`` in code set B: start, one per character, checksum,
    stop. Only printable ASCII (space … ``~``) can be encoded (ValueError otherwise)."""
    if not text or any(not 32 <= ord(c) <= 126 for c in text):
        raise ValueError("Code 128 B encodes printable ASCII only")
    values = [ord(c) - 32 for c in text]
    check = (START_B + sum(i * v for i, v in enumerate(values, start=1))) % 103
    return [START_B, *values, check, STOP]


def modules(text: str) -> list[tuple[int, int]]:
    """The bars of ``text`` as ``(start, width)`` in modules from the left quiet zone's
    end (spaces are the gaps between them)."""
    bars: list[tuple[int, int]] = []
    x = 0
    for value in symbols(text):
        for i, width in enumerate(int(w) for w in PATTERNS[value]):
            if i % 2 == 0:
                bars.append((x, width))
            x += width
    return bars


def width_of(text: str) -> int:
    """Modules the symbol takes, quiet zones included."""
    return sum(int(w) for v in symbols(text) for w in PATTERNS[v]) + 2 * QUIET


def svg(text: str, *, module: float = 1.5, height: float = 50.0, label: bool = True) -> Markup:
    """An inline ``<svg>`` of ``text``'s barcode, ``module`` px per module, with the text
    printed under it (``label``)."""
    total = width_of(text)
    text_h = 14.0 if label else 0.0
    w, h = total * module, height + text_h
    rects = "".join(f'<rect x="{(QUIET + x) * module:g}" y="0" width="{width * module:g}" '
                    f'height="{height:g}"/>' for x, width in modules(text))
    caption = (f'<text x="{w / 2:g}" y="{h - 2:g}" text-anchor="middle" '
               f'font-family="monospace" font-size="12">{escape(text)}</text>' if label else "")
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img" '
        f'aria-label="{escape(text)}" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}">'
        f'<rect width="100%" height="100%" fill="#fff"/><g fill="#000">{rects}</g>'
        f'{caption}</svg>')
