"""JSON API under /api/v1/wash: list tickets (as the page and the export do) and open one."""

from typing import Any

from flask import request
from flask.views import MethodView
from flask_login import current_user
from marshmallow import Schema, fields
from marshmallow.validate import OneOf

from carebiz import db, lists
from carebiz.api.common import Blueprint, ListArgs, page_schema
from carebiz.toolkit import require, saving

from . import services
from .ticket_list import STATUSES, TICKETS

blp = Blueprint("wash_api", __name__, url_prefix="/api/v1/wash", description="Car wash.")


class WashTicketSchema(Schema):
    id = fields.Integer(dump_only=True)
    customer_id = fields.Integer(required=True)
    vehicle_id = fields.Integer(allow_none=True, load_default=None)
    plate = fields.String(load_default="")
    program = fields.String(required=True)
    price = fields.Decimal(places=2, as_string=True, dump_only=True)
    status = fields.String(dump_only=True)
    branch_id = fields.Integer(dump_only=True)


class WashTicketListArgs(ListArgs):
    status = fields.String(validate=OneOf(STATUSES))
    sort = fields.String(validate=OneOf(TICKETS.sort_values))


WashTicketPage = page_schema(WashTicketSchema, "WashTicketPage")


@blp.route("/tickets")
class Tickets(MethodView):
    @require("wash.view")
    @blp.arguments(WashTicketListArgs, location="query")
    @blp.response(200, WashTicketPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Wash tickets you see (newest first), filtered as on the page; ``?format=csv``."""
        listed = lists.prepare(TICKETS, request.args, db.session(), current_user)
        return lists.page(listed, db.session(), args["page"], args["per_page"])

    @require("wash.wash")
    @blp.arguments(WashTicketSchema)
    @blp.response(201, WashTicketSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Open a ticket (priced from the wash.base_price setting)."""
        with saving():
            ticket = services.create_ticket(db.session(),
                                            user=current_user._get_current_object(), **data)
        return ticket

