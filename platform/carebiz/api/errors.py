"""The one error shape of the JSON API, built in one place for every answer that is not a
success: ``{"code", "status", "message", "errors"}``.

- ``code`` is the HTTP status (an integer);
- ``status`` is a stable machine word a client may branch on (:data:`STATUS_WORDS` for the
  HTTP statuses, or the ``code`` of a :class:`~carebiz.errors.ServiceError` such as
  ``version_conflict`` or ``possible_duplicate``); never an HTTP reason phrase;
- ``message`` says what to do, in the request's language;
- ``errors`` maps each field at fault to a **list** of messages. Nested input is flattened to
  one key per leaf, written as a path: ``phones[0].number``, ``custom.colour``,
  ``where.and[1].op``. Empty when no single field is at fault.

Schema errors (marshmallow) and service errors (``ServiceError.errors``) are both brought to
this shape by :func:`flatten_errors`, so a client reads every error the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the machine word of each HTTP error status, for answers that carry no more specific one
STATUS_WORDS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_failed",
    428: "precondition_required",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}

#: the key under which messages about the input as a whole are filed (marshmallow's own)
WHOLE_INPUT = "_schema"


def status_word(code: int) -> str:
    """The machine word of an HTTP status: :data:`STATUS_WORDS`, else ``client_error`` or
    ``server_error`` by its class (an unknown status still gets a stable word)."""
    return STATUS_WORDS.get(code) or ("client_error" if 400 <= code < 500 else "server_error")


def _messages(value: Any) -> list[str]:
    if isinstance(value, list | tuple | set | frozenset):
        return [str(item) for item in value]
    return [str(value)]


def _path(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def flatten_errors(errors: Any) -> dict[str, list[str]]:
    """Field errors in the API's shape: one key per field (nested fields as a path such as
    ``phones[0].number``), each with a list of messages.

    Takes what marshmallow reports (nested dicts, integer keys for list items, lists of
    messages), what services raise (``{"field": "message"}``) and anything between; a bare
    message or list of messages, belonging to no field, is filed under ``_schema``."""
    flat: dict[str, list[str]] = {}
    if errors is None or errors == {} or errors == []:
        return flat
    if not isinstance(errors, Mapping):
        errors = {WHOLE_INPUT: errors}
    stack: list[tuple[str, Any]] = [("", errors)]
    while stack:
        prefix, value = stack.pop()
        if isinstance(value, Mapping):
            for key, inner in reversed(list(value.items())):
                stack.append((_path(prefix, key), inner))
            continue
        if isinstance(value, list) and any(isinstance(item, Mapping) for item in value):
            for index in reversed(range(len(value))):
                stack.append((_path(prefix, index), value[index]))
            continue
        flat.setdefault(prefix or WHOLE_INPUT, []).extend(_messages(value))
    return flat


def error_body(code: int, message: Any, errors: Any = None, status: str = "") -> dict[str, Any]:
    """The body of an error answer: ``status`` defaults to the machine word of ``code`` and
    ``errors`` is flattened (:func:`flatten_errors`)."""
    return {"code": code, "status": status or status_word(code), "message": str(message),
            "errors": flatten_errors(errors)}
