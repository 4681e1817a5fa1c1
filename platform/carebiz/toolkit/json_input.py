"""Reading a JSON request body outside the API's decorated endpoints (a page's script
posting to a view, a webhook), under the same rules and with the same error answers as
``@blp.arguments``: a body that is not JSON or nests too deeply is a 400, a body sent in
another content type a 415, and every field the schema refuses is reported at once in a
422 (:mod:`carebiz.api.errors`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from marshmallow import Schema, fields

from carebiz.api.common import ApiParser

_PARSER = ApiParser()


def json_body(schema: Schema | type[Schema] | Mapping[str, fields.Field]) -> Any:
    """The request's JSON body loaded by ``schema`` (a schema, its class, or a dict of
    fields); the request is answered with the standard error shape when it does not fit."""
    return _PARSER.parse(schema, request, location="json")
