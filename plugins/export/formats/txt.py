"""Plain text readable in a terminal: aligned columns where CJK characters count as two
columns, numbers right-aligned, a rule under the header. Rows are spooled to a temporary file
while the widths are measured, so any number of rows takes constant memory."""

from __future__ import annotations

import io
import tempfile
from typing import IO, Any

from carebiz.export.table import Table

from ._common import NUMERIC, display_width, document_rows

SEP = "  "
SPOOL_SEP = "\x1f"
_CLEAN = str.maketrans({"\r": " ", "\n": " ", "\t": " ", SPOOL_SEP: " ", "\x0b": " ",
                        "\x0c": " "})


def pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap


def write_txt(table: Table, out: IO[bytes], *, progress: Any = None) -> int:
    """Write ``table`` as aligned UTF-8 text to ``out``; return the rows written."""
    columns = list(table.columns)
    labels = [str(c.label).translate(_CLEAN) for c in columns]
    widths = [display_width(label) for label in labels]
    right = [c.type in NUMERIC for c in columns]
    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n") as spool:
        for cells in document_rows(table):
            texts = [text.translate(_CLEAN) for text, _num in cells]
            for i, text in enumerate(texts):
                w = display_width(text)
                if w > widths[i]:
                    widths[i] = w
            spool.write(SPOOL_SEP.join(texts) + "\n")
            count += 1
            if progress is not None and count % 1000 == 0:
                progress(count)
        spool.seek(0)
        text = io.TextIOWrapper(out, encoding="utf-8", newline="\n")
        text.write(f"{table.title}\n")
        for line in table.filters:
            text.write(f"{line}\n")
        text.write("\n")
        text.write(SEP.join(pad(lab, widths[i], right[i]) for i, lab in enumerate(labels))
                   + "\n")
        text.write(SEP.join("-" * w for w in widths) + "\n")
        for line in spool:
            texts = line[:-1].split(SPOOL_SEP)[:len(widths)]
            text.write(SEP.join(pad(t, widths[i], right[i]) for i, t in enumerate(texts))
                       + "\n")
        text.flush()
        text.detach()
    return count
