"""The JSON API under ``/api/v1/sales``: thin routes over the services.

A route authenticates, checks the permission, parses the input, runs the service inside
:func:`carebiz.toolkit.saving` (one commit; a refusal becomes the standard error body) and
serialises. Lists are answered from their list definitions (:mod:`.lists`), so the page,
the API and every export list the same rows."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user

from carebiz import db, lists
from carebiz.api.common import Blueprint
from carebiz.concurrency import etag_headers, expected_version
from carebiz.toolkit import require, saving, today, visible_or_404

from . import schemas as s
from .lists import PROSPECTS, RETURN_VISITS, SHOWROOM_VISITS, TEST_DRIVES, customer_names
from .models import SalesProspect, SalesReturnVisit, SalesTestDrive
from .services import dashboard as dashboard_rules
from .services import drives, showroom, visits
from .services import prospects as rules

blp = Blueprint("sales_api", __name__, url_prefix="/api/v1/sales",
                description="Sales: prospects, return visits, showroom, test drives, "
                            "quotations, orders, stock and purchasing.")


def _user() -> Any:
    return current_user._get_current_object()


def prospect_out(prospects: list[SalesProspect]) -> list[dict[str, Any]]:
    """Prospects as the API answers them, customers named as the reader may see them."""
    names = customer_names(db.session(), current_user, {p.customer_id for p in prospects})
    return [{**{c: getattr(p, c) for c in (
        "id", "customer_id", "status", "source", "industry", "salesperson_id", "budget",
        "currency", "intended_purchase_on", "points_of_interest", "models_of_interest",
        "lost_reason", "notes", "branch_id", "registered_at", "closed_at", "version")},
        "customer_name": names.get(p.customer_id, ""),
        "allowed": rules.PROSPECT_FLOW.allowed(p.status)} for p in prospects]


def visit_out(rows: list[SalesReturnVisit]) -> list[dict[str, Any]]:
    day = today()
    return [{**{c: getattr(v, c) for c in (
        "id", "prospect_id", "customer_id", "assignee_id", "channel", "due_at", "done_at",
        "status", "outcome", "notes", "next_visit_id", "branch_id")},
        "overdue": visits.is_overdue(v, day)} for v in rows]


# --- prospects ------------------------------------------------------------------------------

@blp.route("/prospects")
class Prospects(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesProspectListArgs, location="query")
    @blp.response(200, s.SalesProspectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Prospects in your branches, newest first, filtered as on the page; ``?format=``."""
        return lists.api_page(PROSPECTS, args, prospect_out)

    @require("sales.prospects")
    @blp.arguments(s.SalesProspectCreateSchema)
    @blp.response(201, s.SalesProspectSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a prospect; the phone finds an existing customer instead of a second one.

        Answers ``new_customer`` in the ``X-Sales-New-Customer`` header (``1`` or ``0``)."""
        with saving():
            prospect, created = rules.register_prospect(db.session(), data, user=_user())
        return prospect_out([prospect])[0], 201, {"X-Sales-New-Customer": str(int(created))}


@blp.route("/prospects/<int:prospect_id>")
class Prospect(MethodView):
    @require("sales.view")
    @blp.response(200, s.SalesProspectSchema)
    def get(self, prospect_id: int) -> Any:
        prospect = visible_or_404(SalesProspect, prospect_id)
        return prospect_out([prospect])[0], 200, etag_headers(prospect)

    @require("sales.prospects")
    @blp.arguments(s.SalesProspectUpdateSchema)
    @blp.response(200, s.SalesProspectSchema)
    def patch(self, data: dict[str, Any], prospect_id: int) -> Any:
        """Change what was learnt; send ``version`` (or ``If-Match``): a stale one is 409."""
        prospect = visible_or_404(SalesProspect, prospect_id)
        expected = expected_version(data.pop("version", None))
        with saving():
            rules.update_prospect(db.session(), prospect, data, user=_user(),
                                  expected_version=expected)
        return prospect_out([prospect])[0], 200, etag_headers(prospect)


@blp.route("/prospects/<int:prospect_id>/close")
class CloseProspect(MethodView):
    @require("sales.prospects")
    @blp.arguments(s.SalesProspectCloseSchema)
    @blp.response(200, s.SalesProspectSchema)
    def post(self, data: dict[str, Any], prospect_id: int) -> Any:
        """Close as ``won`` or ``lost`` (a ``lost_reason`` is required: 422 without one);
        a prospect whose status does not allow it is a 409 with ``allowed``."""
        prospect = visible_or_404(SalesProspect, prospect_id)
        expected = expected_version(data.pop("version", None))
        with saving():
            prospect = rules.close_prospect(db.session(), prospect, outcome=data["outcome"],
                                            lost_reason=data.get("lost_reason"), user=_user(),
                                            expected_version=expected)
        return prospect_out([prospect])[0]


@blp.route("/prospects/<int:prospect_id>/<any(approve,reject,reopen):action>")
class ProspectAction(MethodView):
    @require("sales.prospects")
    @blp.arguments(s.SalesProspectActionSchema)
    @blp.response(200, s.SalesProspectSchema)
    def post(self, data: dict[str, Any], prospect_id: int, action: str) -> Any:
        """Approve or reject a new prospect (``sales.review``), or reopen a lost one."""
        prospect = visible_or_404(SalesProspect, prospect_id)
        expected = expected_version(data.pop("version", None))
        with saving():
            prospect = rules.transition(db.session(), prospect, action, user=_user(),
                                        expected_version=expected)
        return prospect_out([prospect])[0]


# --- return visits --------------------------------------------------------------------------

@blp.route("/return-visits")
class ReturnVisits(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesReturnVisitListArgs, location="query")
    @blp.response(200, s.SalesReturnVisitPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Return visits, earliest due first; ``overdue=1`` for those late."""
        return lists.api_page(RETURN_VISITS, args, visit_out)

    @require("sales.prospects")
    @blp.arguments(s.SalesReturnVisitSchema)
    @blp.response(201, s.SalesReturnVisitSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Plan a return visit of an open prospect (on the customer's timeline)."""
        prospect = visible_or_404(SalesProspect, data["prospect_id"])
        with saving():
            visit = visits.schedule_visit(db.session(), prospect, due_at=data["due_at"],
                                          user=_user(), channel=data["channel"],
                                          assignee_id=data.get("assignee_id"),
                                          notes=data["notes"])
        return visit_out([visit])[0]


@blp.route("/return-visits/<int:visit_id>/done")
class ReturnVisitDone(MethodView):
    @require("sales.prospects")
    @blp.arguments(s.SalesReturnVisitDoneSchema)
    @blp.response(200, s.SalesReturnVisitSchema)
    def post(self, data: dict[str, Any], visit_id: int) -> Any:
        """Record the outcome; the next visit is planned from it (``next_visit_id``)."""
        visit = visible_or_404(SalesReturnVisit, visit_id)
        with saving():
            visit = visits.complete_visit(db.session(), visit, user=_user(), **data)
        return visit_out([visit])[0]


# --- dashboard ------------------------------------------------------------------------------

@blp.route("/dashboard")
class Dashboard(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesDashboardArgs, location="query")
    @blp.response(200, s.SalesDashboardSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The day's figures (``date``, default today) and the deals of the period."""
        return dashboard_rules.dashboard(db.session(), current_user, args["date"] or today(),
                                         args["period"])


# --- showroom and test drives -----------------------------------------------------------------

@blp.route("/showroom-visits")
class ShowroomVisits(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesShowroomListArgs, location="query")
    @blp.response(200, s.SalesShowroomPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The traffic log, latest arrival first."""
        return lists.api_page(SHOWROOM_VISITS, args)

    @require("sales.showroom")
    @blp.arguments(s.SalesShowroomVisitSchema)
    @blp.response(201, s.SalesShowroomVisitSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Log a party walking in (arrival default now)."""
        with saving():
            visit = showroom.log_visit(db.session(), data, user=_user())
        return visit


@blp.route("/test-drives")
class TestDrives(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesTestDriveListArgs, location="query")
    @blp.response(200, s.SalesTestDrivePage)
    def get(self, args: dict[str, Any]) -> Any:
        """Test drives, latest start first."""
        return lists.api_page(TEST_DRIVES, args)

    @require("sales.showroom")
    @blp.arguments(s.SalesTestDriveSchema)
    @blp.response(201, s.SalesTestDriveSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Book a demo car; an overlapping booking of the same car is a 409."""
        with saving():
            drive = drives.book_drive(db.session(), data, user=_user())
        return drive


@blp.route("/test-drives/<int:drive_id>/<any(start,return):action>")
class TestDriveAction(MethodView):
    @require("sales.showroom")
    @blp.arguments(s.SalesOdometerSchema)
    @blp.response(200, s.SalesTestDriveSchema)
    def post(self, data: dict[str, Any], drive_id: int, action: str) -> Any:
        """The car leaves (``start``: waiver, odometer out) or comes back (``return``:
        odometer in, feedback); both readings go to the core vehicle."""
        drive = visible_or_404(SalesTestDrive, drive_id)
        with saving():
            if action == "start":
                drive = drives.start_drive(db.session(), drive, user=_user(),
                                                odometer_out=data["odometer_km"],
                                                waiver_signed=data.get("waiver_signed"))
            else:
                drive = drives.return_car(db.session(), drive, user=_user(),
                                               odometer_in=data["odometer_km"],
                                               feedback=data["feedback"])
        return drive
