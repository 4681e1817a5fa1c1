"""Units JSON API: categories, conversions (physical and packaging units), packaging units.

Decimals travel as strings: ``GET /api/v1/units/convert?value=10&from=km&to=mi`` answers
``{"value": "6.21371", "unit": "mi"}`` (6 significant digits unless ``digits`` says more).
An unknown unit is a 422 on ``from`` or ``to`` listing the known units; units of two
categories are a 422 saying both ("Cannot convert length to volume.").
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from carebiz import db
from carebiz.api.common import ApiBlueprint, UnitErrorSchema
from carebiz.security import api_login_required, require
from carebiz.toolkit import saving
from carebiz.units import registry, services
from carebiz.units import schemas as s
from carebiz.units.models import PackagingUnit

blp = ApiBlueprint("units_api", __name__, url_prefix="/api/v1/units",
                   description="Units in categories, conversions and packaging units.")


def _row(unit: PackagingUnit, table: dict[str, Any]) -> dict[str, Any]:
    try:
        category = registry.resolve(unit.name, packaging=table).category
    except Exception:  # a base unit pint no longer knows: still list the row
        category = ""
    return {"id": unit.id, "name": unit.name, "label": unit.label,
            "base_unit": unit.base_unit, "factor": registry.to_text(unit.factor),
            "category": category, "active": unit.active, "created_at": unit.created_at}


@blp.route("/categories")
class Categories(MethodView):
    @api_login_required
    @blp.response(200, s.CategorySchema(many=True))
    def get(self) -> Any:
        """Unit categories with their reference unit and units (packaging units included)."""
        return registry.categories(services.packaging_table(db.session()))


@blp.route("/convert")
class Convert(MethodView):
    @api_login_required
    @blp.arguments(s.ConvertArgs, location="query")
    @blp.response(200, s.QuantitySchema)
    @blp.alt_response(422, schema=UnitErrorSchema,
                      description="Not valid; an unknown unit lists `known_units`.")
    def get(self, args: dict[str, Any]) -> Any:
        """Convert a value between two units of one category (``L/100km`` ↔ ``mpg`` too)."""
        value = services.convert(db.session(), args["value"], args["from_unit"],
                                 args["to_unit"], digits=args["digits"])
        return {"value": registry.to_text(value), "unit": args["to_unit"]}


@blp.route("/packaging")
class Packaging(MethodView):
    @api_login_required
    @blp.response(200, s.PackagingUnitSchema(many=True))
    def get(self) -> Any:
        """Active packaging units (``1 box12 = 12 piece``)."""
        sess = db.session()
        table = services.packaging_table(sess)
        return [_row(u, table) for u in services.packaging_units(sess)]

    @require("units.manage")
    @blp.arguments(s.PackagingUnitSchema)
    @blp.response(201, s.PackagingUnitSchema)
    @blp.alt_response(409, description="A packaging unit of this name exists already.")
    def post(self, data: dict[str, Any]) -> Any:
        """Define a packaging unit: ``1 <name> = factor <base_unit>``."""
        sess = db.session()
        with saving():
            unit = services.define_packaging_unit(sess, data["name"], data["label"],
                                                  data["base_unit"], data["factor"])
        return _row(unit, services.packaging_table(sess))
