"""Schemas of the notifications API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from carebiz.api.common import ListArgs, page_schema


class NotificationSchema(Schema):
    id = fields.Integer(dump_only=True)
    subject = fields.String()
    text = fields.String()
    link = fields.String()
    kind = fields.String()
    source = fields.String()
    importance = fields.String()
    read = fields.Function(lambda n: n.read_at is not None)
    read_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class NotificationListArgs(ListArgs):
    unread = fields.Boolean(load_default=False)


NotificationPage = page_schema(NotificationSchema, "NotificationPage")


class NotificationsMarkedSchema(Schema):
    marked = fields.Integer()


class NotificationInboundSchema(Schema):
    """What a gateway posts: who sent the message and what it says."""

    sender = fields.String(required=True, validate=validate.Length(min=1, max=40))
    text = fields.String(required=True, validate=validate.Length(max=1000))


class NotificationReplySchema(Schema):
    reply = fields.String()
