"""The JSON API under ``/api/v1/hello``: thin routes over the services.

Routes only authenticate, check permissions, parse and serialise; every list goes through
:func:`carebiz.security.visible` so the branch rule (and any other plugin's row filter) holds.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from sqlalchemy import select

from carebiz import db
from carebiz.api.common import Blueprint, page_of
from carebiz.security import require, visible

from . import schemas as s
from .models import Greeting
from .services import create_greeting

blp = Blueprint("hello_api", __name__, url_prefix="/api/v1/hello",
                description="Hello (example plugin): greetings per branch and customer.")


@blp.route("/greetings")
class Greetings(MethodView):
    @require("hello.view")
    @blp.arguments(s.HelloGreetingListArgs, location="query")
    @blp.response(200, s.HelloGreetingPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Greetings in the branches you see, newest first."""
        stmt = select(Greeting).order_by(Greeting.id.desc())
        if args.get("customer_id") is not None:
            stmt = stmt.where(Greeting.customer_id == args["customer_id"])
        stmt = visible(stmt, Greeting, current_user)
        return page_of(db.session(), stmt, args["page"], args["per_page"])

    @require("hello.greet")
    @blp.arguments(s.HelloGreetingCreateSchema)
    @blp.response(201, s.HelloGreetingSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Write a greeting (in your default branch unless ``branch_id`` says otherwise)."""
        sess = db.session()
        greeting = create_greeting(sess, author=current_user._get_current_object(), **data)
        sess.commit()
        return greeting
