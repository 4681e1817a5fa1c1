"""Marshmallow schemas of the core's API resources."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from carebiz.api.common import ListArgs, StrictBoolean, page_schema


class BranchSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    address = fields.String(load_default="")
    phone = fields.String(load_default="")
    active = StrictBoolean(load_default=True)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String(required=True)
    display_name = fields.String(load_default="")
    email = fields.String(load_default="")
    phone = fields.String(dump_only=True)
    locale = fields.String(allow_none=True, load_default=None)
    active = fields.Boolean(dump_only=True)
    all_branches = fields.Boolean(load_default=False)
    roles = fields.Function(lambda u: sorted(r.name for r in u.roles), dump_only=True)
    branches = fields.Function(lambda u: sorted(b.code for b in u.branches), dump_only=True)
    permissions = fields.Method("_permissions", dump_only=True)

    def _permissions(self, user: object) -> list[str]:
        from carebiz.security.permissions import can, registered_permissions

        return sorted(p for p in registered_permissions() if can(user, p))


class UserCreateSchema(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True, load_only=True)
    display_name = fields.String(load_default="")
    email = fields.Email(load_default="")
    phone = fields.String(load_default="", validate=validate.Length(max=40))
    roles = fields.List(fields.String(), load_default=list)
    branches = fields.List(fields.String(), load_default=list)
    all_branches = StrictBoolean(load_default=False)
    locale = fields.String(allow_none=True, load_default=None)


class PluginSchema(Schema):
    name = fields.String()
    version = fields.String()
    label = fields.String()
    description = fields.String()
    requires = fields.List(fields.String())
    uses = fields.List(fields.String())
    auto_enable = fields.Boolean()
    enabled = fields.Boolean()


class PluginSwitchSchema(Schema):
    enabled = StrictBoolean(required=True)


class PluginSwitchResultSchema(Schema):
    changed = fields.List(fields.String())
    enabled = fields.List(fields.String())


class TokenSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(load_default="", validate=validate.Length(max=120))
    prefix = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    expires_at = fields.AwareDateTime(allow_none=True, load_default=None)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True,
                                   metadata={"description": "Empty until first used."})
    revoked_at = fields.DateTime(dump_only=True, allow_none=True,
                                 metadata={"description": "Empty while the token is valid."})
    username = fields.Function(lambda t: t.user.username, dump_only=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(dump_only=True, metadata={"description": "The secret; shown once."})


class JobSchema(Schema):
    id = fields.String(dump_only=True)
    task = fields.String(required=True)
    params = fields.Dict(load_default=dict)
    status = fields.String(dump_only=True,
                           metadata={"enum": ["queued", "running", "finished", "failed"]})
    status_label = fields.String(dump_only=True,
                                 metadata={"description": "The status in the request's language."})
    progress = fields.Integer(dump_only=True)
    message = fields.String(dump_only=True)
    result = fields.Raw(dump_only=True, allow_none=True)
    error = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    started_at = fields.DateTime(dump_only=True, allow_none=True)
    finished_at = fields.DateTime(dump_only=True, allow_none=True)


class AuditSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String()
    event = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    branch_id = fields.Integer(allow_none=True)
    summary = fields.String(attribute="summary_text",
                            metadata={"description": "In the request's language."})
    before = fields.Dict(allow_none=True, attribute="shown_before", metadata={
        "description": "Values describing a record the caller may not see are withheld."})
    after = fields.Dict(allow_none=True, attribute="shown_after")


class AuditArgs(ListArgs):
    """Paging bounded like every list (an unbounded page made the offset overflow)."""

    entity_type = fields.String()
    entity_id = fields.String()
    actor = fields.String()


UserPage = page_schema(UserSchema, "UserPage")
BranchPage = page_schema(BranchSchema, "BranchPage")
AuditPage = page_schema(AuditSchema, "AuditPage")
TokenPage = page_schema(TokenSchema, "TokenPage")
