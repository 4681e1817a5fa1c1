"""The one way to save, for pages and for the API alike.

A change is: load the record or 404 (:func:`carebiz.toolkit.visible_or_404`), check the
permission (:func:`carebiz.toolkit.require` / :func:`~carebiz.toolkit.check_permission`),
run the service inside ``with saving(form) as done:``, which commits once when the block
succeeds. When the service refuses with a :class:`~carebiz.errors.ServiceError`, the
transaction is rolled back and the error is answered where it belongs:

- on a page, next to the form's fields (everything the user typed stays in the form), a
  version conflict also refreshes the form's hidden version and says who changed what; the
  page answers :func:`form_status` (422, 409 for a version conflict, 503 when the database was
  busy);
- under ``/api/``, the error propagates to the app's handler, which answers the standard
  error body (:mod:`carebiz.api.errors`) with the service's status.

A lock the database cannot give in time (:class:`~carebiz.concurrency.Busy`) is answered the
same way, never as a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import flash
from flask_wtf import FlaskForm

from carebiz import db
from carebiz.concurrency import busy_as_service_error, explain_save_error
from carebiz.errors import ServiceError

#: the attribute on a form where :func:`saving` notes the status its refusal answers
_STATUS = "_carebiz_save_status"


def _is_api_request() -> bool:
    from carebiz.api import is_api_request

    return is_api_request()


def apply_errors(form: FlaskForm, exc: ServiceError, aliases: dict[str, str] | None = None) -> None:
    """Put a service's field errors next to the matching form fields (``aliases`` maps a
    service's field name to the form's where they differ); flash the message, with what
    matches no field, above the form."""
    unplaced = []
    for key, messages in exc.errors.items():
        name = (aliases or {}).get(key, key)
        field = form._fields.get(name)
        texts = ([str(m) for m in messages] if isinstance(messages, list | tuple)
                 else [str(messages)])
        if field is None:
            unplaced.extend(texts)
        else:
            field.errors = [*field.errors, *texts]
    if unplaced or not exc.errors:
        flash(exc.message if not unplaced else f"{exc.message}: {' '.join(unplaced)}", "danger")


@dataclass
class Outcome:
    """What :func:`saving` did: ``ok`` once committed; ``error`` the service's refusal (for
    pages that show more of it, such as the duplicates it matched)."""

    ok: bool = False
    error: ServiceError | None = None


@contextmanager
def saving(form: FlaskForm | None = None,
           aliases: dict[str, str] | None = None) -> Iterator[Outcome]:
    """Run the service calls in the ``with`` block as one transaction and commit once.

    On a :class:`ServiceError` the transaction is rolled back. Under ``/api/`` the error is
    raised on, to be answered as the standard error body. On a page its messages go next
    to ``form``'s fields (``aliases``: service field → form field) or are flashed when
    there is no form; check ``.ok`` afterwards and answer :func:`form_status`."""
    sess = db.session()
    outcome = Outcome()
    try:
        with busy_as_service_error():  # a lock timeout is a message, not a 500 page
            yield outcome
            sess.commit()
        outcome.ok = True
    except ServiceError as exc:
        sess.rollback()
        outcome.error = exc
        if _is_api_request():
            raise
        if form is None:
            flash(exc.message, "danger")
            return
        apply_errors(form, exc, aliases)
        setattr(form, _STATUS, explain_save_error(form, exc, aliases))


def form_status(form: FlaskForm) -> int:
    """The status of a page showing ``form``: 200 when it is shown first; once submitted
    and shown again it was not accepted: 422, or what :func:`saving` met (409 for a version
    conflict, 503 when the database was busy)."""
    if not form.is_submitted():
        return 200
    return getattr(form, _STATUS, None) or 422

