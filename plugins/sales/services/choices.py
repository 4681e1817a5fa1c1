"""The configurable lists of sales: sources, points of interest, lost reasons, industries.

Each is a business setting (``sales.sources`` …) holding comma-separated keys, so a business
adds its own values on the settings page without code. The built-in keys below have labels
translated through the ``sales`` catalog (``price`` reads 价格 in Chinese); a key a business
adds reads as typed. Storing keys rather than labels keeps counts stable when the language
changes and lets the dashboard answer ``{"key", "label", "count"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from carebiz.services import settings
from carebiz.toolkit import host

SOURCES = {
    "walk_in": _l("Walk-in"), "phone": _l("Phone call"), "website": _l("Website"),
    "referral": _l("Referral"), "autohome": _l("Autohome"), "dongchedi": _l("Dongchedi"),
    "event": _l("Marketing event"), "wechat": _l("WeChat"),
}
POINTS_OF_INTEREST = {
    "price": _l("Price"), "fuel_economy": _l("Fuel economy"), "safety": _l("Safety"),
    "space": _l("Space"), "comfort": _l("Comfort"), "brand": _l("Brand"),
    "performance": _l("Performance"), "after_sales": _l("After-sales service"),
}
LOST_REASONS = {
    "bought_elsewhere": _l("Bought elsewhere"), "price": _l("Price"), "not_now": _l("Not now"),
    "financing": _l("Financing refused"), "no_stock": _l("No car in stock"),
    "unreachable": _l("Could not be reached"),
}
INDUSTRIES = {
    "it": _l("IT and internet"), "finance": _l("Finance"), "education": _l("Education"),
    "medical": _l("Health care"), "manufacturing": _l("Manufacturing"),
    "retail": _l("Retail and trade"), "government": _l("Public service"),
    "self_employed": _l("Self-employed"), "other": _l("Other"),
}


@dataclass(frozen=True)
class ChoiceList:
    """One configurable list: its setting's key and the built-in values with their labels."""

    key: str
    builtin: dict[str, Any]

    @property
    def default(self) -> str:
        return ", ".join(self.builtin)

    def keys(self, session: Session) -> list[str]:
        """The values in force (the setting's, in its order, without blanks or repeats)."""
        raw = str(settings.get(session, host(), self.key) or "")
        return list(dict.fromkeys(k.strip() for k in raw.replace("，", ",").split(",")
                                  if k.strip()))

    def label(self, key: str) -> str:
        """What a value reads as: the built-in label in the reader's language, else itself."""
        return str(self.builtin[key]) if key in self.builtin else key

    def pairs(self, session: Session) -> list[tuple[str, str]]:
        """``(key, label)`` of every value in force, for a form's choices."""
        return [(k, self.label(k)) for k in self.keys(session)]


SOURCE_LIST = ChoiceList("sales.sources", SOURCES)
POINT_LIST = ChoiceList("sales.points_of_interest", POINTS_OF_INTEREST)
LOST_REASON_LIST = ChoiceList("sales.lost_reasons", LOST_REASONS)
INDUSTRY_LIST = ChoiceList("sales.industries", INDUSTRIES)
LISTS = (SOURCE_LIST, POINT_LIST, LOST_REASON_LIST, INDUSTRY_LIST)
