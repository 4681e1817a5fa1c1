"""JSON API under /api/v1/wash: list and open tickets, finish one."""

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from marshmallow import Schema, fields
from sqlalchemy import select

from carebiz import db
from carebiz.api.common import Blueprint, ListArgs, page_of, page_schema
from carebiz.security import visible
from carebiz.toolkit import require, saving, visible_or_404

from . import services
from .models import WashTicket

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


WashTicketPage = page_schema(WashTicketSchema, "WashTicketPage")


@blp.route("/tickets")
class Tickets(MethodView):
    @require("wash.view")
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, WashTicketPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Wash tickets you see, newest first."""
        stmt = visible(select(WashTicket).order_by(WashTicket.id.desc()), WashTicket,
                       current_user)
        return page_of(db.session(), stmt, args["page"], args["per_page"])

    @require("wash.wash")
    @blp.arguments(WashTicketSchema)
    @blp.response(201, WashTicketSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Open a ticket (priced from the wash.base_price setting)."""
        with saving():
            ticket = services.create_ticket(db.session(),
                                            user=current_user._get_current_object(), **data)
        return ticket


@blp.post("/tickets/<int:ticket_id>/finish")
@require("wash.wash")
@blp.response(200, WashTicketSchema)
def finish(ticket_id: int) -> Any:
    """Close a ticket: the wash goes on the customer's timeline."""
    ticket = visible_or_404(WashTicket, ticket_id)
    with saving():
        services.finish_ticket(db.session(), ticket, current_user._get_current_object())
    return ticket
