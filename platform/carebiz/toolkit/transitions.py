"""Explicit state machines: every status change of a plugin's record (a prospect, an order, a
repair job) is a named action allowed from a set of statuses, so an illegal move is refused
the same way in every plugin.

An illegal move raises :class:`IllegalTransition`, a 409. Its API answer carries the record's
current status in ``status`` and the actions possible from there in ``allowed`` — the
contract integrators read (``{"status": "awaiting_payment", "allowed": ["pay", ...]}``) —
besides ``error`` (``"invalid_transition"``, the machine word of the refusal),
``current_status`` (the same as ``status``), ``code``, ``message`` and ``errors``. A client
can grey out the buttons it should not offer and a person reads why in ``message``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from carebiz.errors import Conflict


class IllegalTransition(Conflict):
    """The record's status does not allow this action (409).

    ``details`` should name ``current_status`` and ``allowed``; the answer's ``status`` is
    then the record's status (see the module's docstring)."""

    code = "invalid_transition"

    def __init__(self, message: Any, errors: dict[str, Any] | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message, errors, details)
        self.details.setdefault("error", IllegalTransition.code)
        current = self.details.get("current_status")
        if current:
            self.code = str(current)


@dataclass(frozen=True)
class Machine:
    """Actions by name: each maps the statuses it may start from to the status it leads to.

    ``name`` reads in messages ("This order is …"); ``labels`` translate statuses and
    actions in them (a mapping of lazy strings; the code is shown when one is missing)."""

    name: str
    actions: Mapping[str, tuple[frozenset[str], str]]
    labels: Mapping[str, Any] | None = None

    def allowed(self, status: str) -> list[str]:
        """The actions possible from ``status``, in a stable order."""
        return sorted(a for a, (starts, _to) in self.actions.items() if status in starts)

    def label(self, code: str) -> str:
        return str((self.labels or {}).get(code, code))

    def target(self, status: str, action: str) -> str:
        """The status ``action`` leads to from ``status``, or :class:`IllegalTransition`."""
        step = self.actions.get(action)
        if step is None or status not in step[0]:
            allowed = self.allowed(status)
            raise IllegalTransition(
                _("This %(what)s is %(status)s: %(action)s is not possible. Possible now: "
                  "%(allowed)s.", what=self.name, status=self.label(status),
                  action=self.label(action),
                  allowed=", ".join(self.label(a) for a in allowed) or _("nothing")),
                {"status": _("Not possible from %(status)s.", status=self.label(status))},
                {"current_status": status, "allowed": allowed})
        return step[1]


def machine(name: str, steps: Mapping[str, tuple[Iterable[str], str]],
            labels: Mapping[str, Any] | None = None) -> Machine:
    """A :class:`Machine` from ``{action: (starting statuses, target)}``."""
    return Machine(name, {a: (frozenset(starts), to) for a, (starts, to) in steps.items()},
                   labels)
