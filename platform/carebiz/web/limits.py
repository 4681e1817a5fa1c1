"""Limits on the size of a request, checked before anything reads it: the body
(``CAREBIZ_MAX_CONTENT_LENGTH``, 413 beyond), a larger body for the views marked
:func:`large_upload` (``CAREBIZ_MAX_UPLOAD_LENGTH``: the customer import takes files of up to
20 MB), a larger text field of a multipart form for the views marked :func:`large_form`
(Werkzeug's default is 500 KB: less than a template of 200,000 Chinese characters), and the
path with its query string (``CAREBIZ_MAX_URL_LENGTH``, 414 beyond).

Without a limit a 50 MB JSON body is read and parsed by any endpoint; the answer to an
oversized request is the ordinary error answer (JSON under ``/api/``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request

V = TypeVar("V")


def large_upload(view: V) -> V:
    """Mark a view function or a ``MethodView`` class as taking uploads up to
    ``CAREBIZ_MAX_UPLOAD_LENGTH`` bytes (put it under the route decorator)."""
    view.carebiz_large_upload = True  # type: ignore[attr-defined]
    return view


def large_form(max_field_bytes: int) -> Callable[[V], V]:
    """Mark a view whose multipart form has a text field of up to ``max_field_bytes``."""

    def mark(view: V) -> V:
        view.carebiz_form_memory = max_field_bytes  # type: ignore[attr-defined]
        return view

    return mark


def _marked(endpoint: str | None, name: str) -> Any:
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, name, None) or getattr(getattr(view, "view_class", None), name, None)


def init_app(app: Flask) -> None:
    """Register the check; it must run before any other ``before_request`` function, since
    the CSRF check reads the form (so app creation calls this first)."""

    @app.before_request
    def request_limits() -> Any:
        if len(request.path) + len(request.query_string) > \
                current_app.config["CAREBIZ_MAX_URL_LENGTH"]:
            abort(414)
        if _marked(request.endpoint, "carebiz_large_upload"):
            request.max_content_length = current_app.config["CAREBIZ_MAX_UPLOAD_LENGTH"]
        form_memory = _marked(request.endpoint, "carebiz_form_memory")
        if form_memory:
            request.max_form_memory_size = form_memory
        return None
