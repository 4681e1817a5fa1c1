"""Stored uploads: an upload waiting for its background import lives in the instance
folder under a random name made here, never under a name or path that came from the user."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from pathlib import Path

from flask_babel import gettext as _

from carebiz.crm.importing import limits
from carebiz.crm.importing.decoding import extension_of
from carebiz.crm.importing.limits import too_large_error
from carebiz.errors import NotFound, ValidationFailed

#: stored uploads not imported within this time are deleted when the next one arrives
STALE_AFTER = dt.timedelta(days=1)

_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(csv|xlsx)$")


def uploads_folder(instance_path: str | Path) -> Path:
    folder = Path(instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_path(instance_path: str | Path, name: str) -> Path:
    """The stored upload called ``name``; the name must be one :func:`store_upload` made,
    so a job parameter can never point elsewhere on the disk."""
    if not isinstance(name, str) or not _UPLOAD_NAME.match(name):
        raise ValidationFailed(_("Not the name of a stored upload."),
                               {"upload": _("Not the name of a stored upload.")})
    return uploads_folder(instance_path) / name


def store_upload(instance_path: str | Path, data: bytes, filename: str) -> str:
    """Keep an upload for a background job under a new random name; return that name. Old
    uploads that were never imported are deleted on the way."""
    ext = extension_of(filename)
    if len(data) > limits.MAX_BYTES:
        raise too_large_error()
    purge_stale_uploads(instance_path)
    name = f"{uuid.uuid4().hex}.{ext}"
    (uploads_folder(instance_path) / name).write_bytes(data)
    return name


def claim_upload(instance_path: str | Path, name: str) -> str:
    """Take a stored upload for one import by renaming it: a second click on "Import" finds
    it gone instead of importing the file twice."""
    source = upload_path(instance_path, name)
    new = f"{uuid.uuid4().hex}.{name.rsplit('.', 1)[1]}"
    try:
        source.rename(source.with_name(new))
    except FileNotFoundError:
        raise NotFound(_("The uploaded file is no longer available (it was imported already "
                         "or has expired). Upload it again.")) from None
    return new


def purge_stale_uploads(instance_path: str | Path, older_than: dt.timedelta = STALE_AFTER) -> int:
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for path in uploads_folder(instance_path).iterdir():
        try:
            if _UPLOAD_NAME.match(path.name) and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed

