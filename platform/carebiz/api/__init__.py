"""The versioned JSON API (``/api/v1``) built with flask-smorest, and its error format.

Every error answers ``{"code": <HTTP status>, "status": <machine word>, "message": <what to
do>, "errors": {<field>: [<reason>, …]}}`` (:mod:`carebiz.api.errors`); bad input gets
400/409/422, never 500."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from carebiz.api.common import ErrorSchema, decimal_as_string
from carebiz.api.errors import error_body, flatten_errors
from carebiz.db import rollback_session
from carebiz.errors import ServiceError

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

#: what an error means, in the reader's language, when nothing more specific was said
HTTP_MESSAGES = {
    400: _l("The request could not be understood. If you sent a form, reload the page and "
            "try again."),
    401: _l("Log in, or send a valid API token (Authorization: Bearer <token>)."),
    403: _l("You do not have the permission to do this."),
    404: _l("This does not exist, or its subsystem is switched off."),
    405: _l("This method is not allowed here."),
    409: _l("This conflicts with the current state of the data."),
    413: _l("The request is too large."),
    414: _l("The address (URL) is too long."),
    415: _l("This content type is not accepted; send JSON."),
    422: _l("Some fields are not valid."),
    500: _l("Something went wrong on our side. The error was logged."),
    503: _l("The service is not available right now. Try again in a moment."),
}


def http_message(error: HTTPException) -> str:
    """The error's own description when a view gave one, else the translated meaning of its
    code (Werkzeug's default descriptions are English)."""
    if isinstance(error, CSRFError):
        return gettext("The form has expired or lacks its security token. Reload the page "
                       "and try again.")
    if error.description and error.description != type(error).description:
        return error.description
    return str(HTTP_MESSAGES.get(error.code or 500, error.name))


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


class CareBizApi(Api):
    """flask-smorest's Api with errors in our format, and HTML errors left to pages.

    flask-smorest registers its HTTPException handler app-wide; pages must keep their HTML
    error pages, so the handler answers JSON only under ``/api/``."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        """The one app-wide HTTPException handler (500s of unhandled errors included); it
        never raises: a failure while answering falls back to a bare answer."""
        try:
            response = self._error_response(error)
        except Exception:
            log.exception("the error %s could not be answered", error.code)
            response = bare_error(error.code or 500, HTTP_MESSAGES.get(error.code or 500, ""))
        return response

    def _error_response(self, error: HTTPException) -> Any:
        if not is_api_request():
            from carebiz.web.layout import _html_error

            response = _html_error(error)
        else:
            rollback_session()
            data = getattr(error, "data", None) or {}
            errors = flatten_errors(_without_locations(
                data.get("messages") or data.get("errors") or {}))
            message = data.get("message") or http_message(error)
            if errors and error.code == 422 and not data.get("message"):
                message = gettext("Some fields are not valid: %(fields)s",
                                  fields=", ".join(sorted(errors)))
            response = jsonify(error_body(error.code or 500, message, errors))
            response.status_code = error.code or 500
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response = _as_response(response)
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        if error.code == 401 and is_api_request():
            response = _as_response(response)
            response.headers["WWW-Authenticate"] = 'Bearer realm="carebiz"'
        return response


#: where webargs found the input; its errors are keyed by these first
_LOCATIONS = frozenset({"json", "query", "querystring", "form", "files", "form_and_files",
                        "headers", "cookies", "path", "view_args", "json_or_form"})


def _without_locations(errors: Any) -> Any:
    """webargs files errors under the input's location (``{"json": {"name": [...]}}``);
    clients name fields, so the location level goes (a message on the location itself, as
    for a body that is not an object, keeps the location's name)."""
    if not (isinstance(errors, dict) and errors and set(errors) <= _LOCATIONS):
        return errors
    merged: dict[Any, Any] = {}
    for location, part in errors.items():
        if isinstance(part, dict):
            merged.update(part)
        else:
            merged[location] = part
    return merged


def _as_response(rv: Any) -> Any:
    from flask import make_response

    return make_response(rv)


def error_response(code: int, message: Any, errors: Any = None, status: str = "",
                   extra: dict[str, Any] | None = None) -> Any:
    """An error answer — JSON under ``/api/``, the error page elsewhere — that never raises;
    the request's session is rolled back first."""
    try:
        if not is_api_request():
            from carebiz.web.layout import html_error_page

            return html_error_page(code, message)
        rollback_session()
        response = jsonify({**(extra or {}), **error_body(code, str(message), errors, status)})
        response.status_code = code
        return response
    except Exception:
        log.exception("the error %s could not be answered", code)
        return bare_error(code, message)


def bare_error(code: int, message: Any) -> Response:
    """An error answer made of nothing that can fail (no template, session or lazy text)."""
    try:
        text = str(message)
    except Exception:
        text = ""
    try:
        api = is_api_request()
    except Exception:
        api = False
    if not api:
        from carebiz.web.layout import bare_error_page

        return bare_error_page(code, text)
    body = json.dumps(error_body(code, text))
    return Response(body, status=code, mimetype="application/json")


def init_app(app: Flask) -> CareBizApi:
    app.config.setdefault("API_TITLE", "CareBusiness API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An API token from `carebiz tokens create` or the "
                                      "API tokens page."}}},
        "security": [{"bearer": []}],
    })
    api = CareBizApi(app)
    api.ma_plugin.converter.add_attribute_function(decimal_as_string)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Any:
        response = error_response(exc.status, exc.message, exc.errors, exc.code, exc.details)
        retry = exc.details.get("retry_after")  # Busy: when to try again
        if retry is not None and exc.status == 503:
            response = _as_response(response)
            response.headers["Retry-After"] = str(retry)
        return response

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError) -> Any:
        """A safety net: services check what they can (unknown ids, duplicates) and answer
        with the field; a constraint they missed is still a conflict, not a crash."""
        log.warning("integrity error not caught by a service: %s", exc.orig)
        return error_response(409, HTTP_MESSAGES[409], status="conflict")

    @app.errorhandler(DataError)
    def data_error(exc: DataError) -> Any:
        """PostgreSQL refusing a value (too long, out of range) that no check caught."""
        log.warning("data error not caught by a check: %s", exc.orig)
        return error_response(422, gettext("A value is too long or out of range."),
                              status="validation_failed")

    return api
