"""Reading the PDFs the app writes, in Python (pypdf, a test dependency), so the suite needs
no poppler-utils; and the one system fact PDF tests depend on, a font for Chinese text,
checked so that tests skip with the reason instead of failing where it is missing."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader

CJK_FONT_HINT = "Debian: apt-get install fonts-wqy-microhei"


def _reader(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def page_count(pdf: bytes) -> int:
    return len(_reader(pdf).pages)


def pdf_text(pdf: bytes, page: int | None = None) -> str:
    """The text of every page (or of ``page``, counted from 1), one page after another."""
    pages = _reader(pdf).pages
    chosen = pages if page is None else [pages[page - 1]]
    return "\n".join(p.extract_text() for p in chosen)


def font_names(pdf: bytes) -> set[str]:
    """Names of the fonts embedded in the pages (``/ABCDEF+WenQuanYi-Micro-Hei``)."""
    names = set()
    for page in _reader(pdf).pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            names.add(str(ref.get_object().get("/BaseFont", "")))
    return names


def _key(name: str) -> str:
    """``/ABCDEF+WenQuanYi-Micro-Hei-Bold`` and ``WenQuanYi Micro Hei`` compare equal."""
    return "".join(c for c in name.rpartition("+")[2].casefold() if c.isalnum())


@functools.cache
def cjk_families() -> tuple[str, ...] | None:
    """Font families fontconfig (which WeasyPrint uses) has for Chinese; None without
    fc-list, where that cannot be told."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    out = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                         check=False).stdout
    return tuple(sorted({f.strip() for line in out.splitlines() for f in line.split(",")
                         if f.strip()}))


def cjk_font_missing() -> str | None:
    """Why Chinese text cannot be checked on this machine, or None."""
    families = cjk_families()
    if families is None:
        return ("fc-list (fontconfig) is not installed, so it is unknown whether a font "
                f"for Chinese text is ({CJK_FONT_HINT} fontconfig)")
    return None if families else f"no font for Chinese text is installed ({CJK_FONT_HINT})"


def embeds_cjk_font(pdf: bytes) -> bool:
    """True when one of the embedded fonts is a font for Chinese (else it prints boxes)."""
    known = {_key(f) for f in cjk_families() or ()}
    return any(_key(name).startswith(tuple(known)) for name in font_names(pdf))


def require_cjk_font(what: str = "text not checked") -> None:
    """Skip the rest of a test that reads the text of a PDF with Chinese in it. Without a
    font for Chinese, WeasyPrint draws empty boxes and writes its own encoding for them,
    whose text pypdf cannot read (poppler can), so such a test cannot check any text."""
    reason = cjk_font_missing()
    if reason:
        pytest.skip(f"{reason}: {what}")
