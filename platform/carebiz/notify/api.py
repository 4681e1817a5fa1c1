"""``/api/v1/notifications``: a user's own notifications (list, mark read) and the inbound
endpoint of message gateways, authenticated by the channel's token instead of a user."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user

from carebiz import db
from carebiz.api.common import ApiBlueprint, page_of
from carebiz.errors import ServiceError
from carebiz.notify import inbound, service
from carebiz.notify import schemas as s
from carebiz.security import api_login_required
from carebiz.toolkit import saving

blp = ApiBlueprint("notify_api", __name__, url_prefix="/api/v1/notifications",
                   description="The caller's notifications, and inbound messages of gateways.")

#: the header a gateway sends its channel's token in
TOKEN_HEADER = "X-Gateway-Token"


class GatewayRefused(ServiceError):
    """The gateway's token is missing or wrong (or the channel has none configured)."""

    status = 401
    code = "unauthorized"


class InboundLimited(ServiceError):
    """Too many messages from one sender on one channel."""

    status = 429
    code = "rate_limited"


@blp.route("")
class Notifications(MethodView):
    @api_login_required
    @blp.arguments(s.NotificationListArgs, location="query")
    @blp.response(200, s.NotificationPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The caller's notifications, newest first (``unread=true`` for the unread only)."""
        stmt = service.for_user(current_user.id, args["unread"])
        return page_of(db.session(), stmt, args["page"], args["per_page"])


@blp.route("/<int:notification_id>/read")
class NotificationRead(MethodView):
    @api_login_required
    @blp.response(200, s.NotificationSchema)
    def post(self, notification_id: int) -> Any:
        """Mark one of the caller's notifications read (404 for another user's)."""
        with saving():
            row = service.mark_read(db.session(), current_user.id, notification_id)
        return row


@blp.route("/read-all")
class NotificationsReadAll(MethodView):
    @api_login_required
    @blp.response(200, s.NotificationsMarkedSchema)
    def post(self) -> Any:
        """Mark every unread notification of the caller read."""
        with saving():
            marked = service.mark_all_read(db.session(), current_user.id)
        return {"marked": marked}


@blp.route("/inbound/<channel>")
class NotificationInbound(MethodView):
    @blp.arguments(s.NotificationInboundSchema)
    @blp.response(200, s.NotificationReplySchema)
    @blp.alt_response(401, description="The gateway's token is missing or wrong.")
    @blp.alt_response(429, description="Too many messages from this sender.")
    def post(self, data: dict[str, Any], channel: str) -> Any:
        """A message a gateway received: answers the reply to send back. Authenticated by
        the channel's token in the ``X-Gateway-Token`` header (``CAREBIZ_INBOUND_TOKENS``),
        never by a user; senders whose number no user registered get a polite refusal."""
        app = current_app
        if not inbound.token_ok(app.config, channel, request.headers.get(TOKEN_HEADER)):
            raise GatewayRefused(_("This gateway is not authorised for channel "
                                   "'%(channel)s': send its token in %(header)s.",
                                   channel=channel, header=TOKEN_HEADER))
        # counted by the number however it is written, so respelling it does not help
        sender = inbound.normalise_sender(db.session(), data["sender"]) or data["sender"].strip()
        if not inbound.limiter(app).hit(channel, sender):
            raise InboundLimited(_("Too many messages from this sender; try again later."))
        host = app.extensions["carebiz"].host
        reply = inbound.answer(db.session(), host, channel, data["sender"], data["text"])
        db.session().rollback()  # answering reads only
        return {"reply": reply}
