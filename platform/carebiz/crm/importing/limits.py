"""What one import may hold, and the errors that refuse a file before any row is read."""

from __future__ import annotations

from flask_babel import gettext as _

from carebiz.errors import ServiceError, ValidationFailed

#: an upload larger than this is refused before it is parsed
MAX_BYTES = 20 * 1024 * 1024
#: data rows (the header not counted) one file may hold
MAX_ROWS = 50_000
#: the file formats the importer reads
EXTENSIONS = ("csv", "xlsx")


class UnreadableFile(ValidationFailed):
    """The upload is not a CSV or .xlsx file this importer can read (422)."""

    code = "unreadable_file"


class TooLarge(ServiceError):
    """The upload has more bytes or rows than one import may hold (413)."""

    status = 413
    code = "payload_too_large"


def too_large_error() -> TooLarge:
    return TooLarge(_("The file is larger than %(mb)d MB. Split it into smaller files and "
                      "import them one after the other.", mb=MAX_BYTES // (1024 * 1024)),
                    {"file": _("At most %(mb)d MB.", mb=MAX_BYTES // (1024 * 1024))})


def too_many_rows_error() -> TooLarge:
    return TooLarge(_("The file has more than %(max)d rows. Split it into smaller files and "
                      "import them one after the other.", max=MAX_ROWS),
                    {"file": _("At most %(max)d rows.", max=MAX_ROWS)})

