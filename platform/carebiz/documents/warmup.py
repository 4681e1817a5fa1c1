"""Printing's first use, paid by the server instead of the first person who clicks PDF.

Measured (benchmarks/README.md, "Documents: the first PDF of a fresh server"): a process's
first PDF pays for importing WeasyPrint (its cffi bindings of Pango/HarfBuzz and fontTools:
0.7-2 s on a busy two-core machine), Pango's first font lookup and the templates' first
compilation; every later PDF takes 0.05-0.15 s. Without HarfBuzz's subsetting library
(Debian ``libharfbuzz-subset0``, not pulled in by Pango) WeasyPrint subsets the CJK font with
fontTools instead: about 2 s on *every* PDF, which is what a fresh machine showed.

So a server renders one small Chinese-and-Latin document in a background thread when it
starts serving (a gunicorn worker at boot, any server at its first request), a PDF asked for
meanwhile waits for that rendering rather than racing it, and a missing subsetting library
or CJK font is logged once with the command that fixes it (``carebiz pdf-check`` says the
same on the command line)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

#: one line of Chinese and of Latin text in the documents' fonts: loads the faces a statement
#: uses and exercises layout, font subsetting and PDF writing once
SAMPLE = ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><style>'
          '@page { size: A6; margin: 5mm } html { font-family: "WenQuanYi Micro Hei", '
          '"Noto Sans CJK SC", sans-serif; font-size: 9pt }</style></head><body>'
          "<h1>对账单 Statement</h1><p>王伟 +86 138 0013 8000 ¥1,234.56 2026-01-01</p>"
          "<table><tr><th>日期</th><td>金额 Amount</td></tr></table></body></html>")

HARFBUZZ_SUBSET_HINT = ("WeasyPrint found no HarfBuzz subsetting library and subsets fonts "
                        "with fontTools: every PDF with Chinese text takes about 2 s longer. "
                        "Install it (Debian/Ubuntu: apt-get install libharfbuzz-subset0).")
CJK_FONT_HINT = ("No font for Chinese text: PDFs print Chinese as boxes (Debian/Ubuntu: "
                 "apt-get install fonts-wqy-microhei).")

_lock = threading.Lock()
_finished = threading.Event()
_thread: threading.Thread | None = None
#: seconds the warm-up took, once it has run (for logs and the benchmark)
last_seconds: float | None = None


def problems() -> list[str]:
    """What would make PDFs slow or wrong on this machine, each with its fix."""
    found = []
    from weasyprint.text import ffi

    if ffi.harfbuzz_subset is None or not ffi.harfbuzz.hb_version_atleast(4, 1, 0):
        found.append(HARFBUZZ_SUBSET_HINT)
    fc_list = shutil.which("fc-list")
    if fc_list is not None:
        out = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
        if not out.strip():
            found.append(CJK_FONT_HINT)
    return found


def warm_up(app: Flask) -> float:
    """Render :data:`SAMPLE` to PDF once in this process; return the seconds it took."""
    global last_seconds
    started = time.perf_counter()
    try:
        with app.app_context():
            from carebiz.documents import service

            found = problems()
            document = service.render_documents([SAMPLE], wait=False)
            if HARFBUZZ_SUBSET_HINT not in found:  # else writing costs ~2 s and warms nothing
                document.write_pdf()
            for problem in found:
                log.warning(problem)
    except Exception:  # never stop a server: the first real PDF reports its own error
        log.exception("warming up PDF printing failed")
    finally:
        last_seconds = time.perf_counter() - started
        _finished.set()
    log.info("PDF printing warmed up in %.2f s", last_seconds)
    return last_seconds


def start(app: Flask) -> threading.Thread | None:
    """Warm up in a daemon thread, once per process (a forked worker starts its own)."""
    global _thread
    with _lock:
        if _thread is not None and _thread.is_alive() or _finished.is_set():
            return None
        _thread = threading.Thread(target=warm_up, args=(app,), name="carebiz-pdf-warm-up",
                                   daemon=True)
        _thread.start()
        return _thread


def wait(timeout: float = 30.0) -> None:
    """Let a running warm-up finish before a real PDF is laid out (one font set-up, not two
    racing); returns at once when none runs."""
    thread = _thread
    if thread is not None and thread.is_alive() and thread is not threading.current_thread():
        _finished.wait(timeout)


def enabled(app: Flask) -> bool:
    """``CAREBIZ_PDF_WARM_UP``: ``auto`` (the default: on, except in tests), or a boolean."""
    value = str(app.config.get("CAREBIZ_PDF_WARM_UP", "auto")).strip().lower()
    if value == "auto":
        return not app.testing
    return value in ("1", "true", "yes", "on")


def install(app: Flask) -> None:
    """Start the warm-up at the app's first request (any server; a gunicorn worker also
    starts it at boot, see ``carebiz serve``)."""
    if not enabled(app):
        return

    def _warm_pdf_printing() -> Any:
        if _thread is None and not _finished.is_set():
            start(app)
        return None

    # first: a hook before it may answer the request itself (the first-run redirect …)
    app.before_request_funcs.setdefault(None, []).insert(0, _warm_pdf_printing)
