"""The API's shapes. Schemas check types and document the API; the business rules (length,
branch access) stay in :mod:`carebiz_hello.services` so the page and the API share them.

Class names carry the plugin's prefix: they become OpenAPI component names, which must not
clash with other plugins' schemas in the one shared document."""

from __future__ import annotations

from marshmallow import Schema, fields

from carebiz.api.common import ListArgs, page_schema


class HelloGreetingSchema(Schema):
    id = fields.Integer(dump_only=True)
    message = fields.String(metadata={"description": "1 to 200 characters."})
    branch_id = fields.Integer(dump_only=True)
    customer_id = fields.Integer(allow_none=True, dump_only=True)
    author_id = fields.Integer(allow_none=True, dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class HelloGreetingCreateSchema(Schema):
    message = fields.String(required=True, metadata={"description": "1 to 200 characters."})
    branch_id = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "Branch to write in; default: your default (or only) branch."})
    customer_id = fields.Integer(load_default=None, allow_none=True,
                                 metadata={"description": "The customer greeted, if any."})


class HelloGreetingListArgs(ListArgs):
    customer_id = fields.Integer(metadata={"description": "Only greetings of this customer."})


HelloGreetingPage = page_schema(HelloGreetingSchema, "HelloGreetingPage")
