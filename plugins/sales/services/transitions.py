"""Explicit state machines: every status change of a sales record is a named action allowed
from a set of statuses, so an illegal move is refused the same way everywhere.

An illegal move raises :class:`IllegalTransition`, a 409 whose API answer carries, besides
the standard ``code``/``status``/``message``/``errors``, ``current_status`` (where the record
is) and ``allowed`` (the actions that are possible from there): a client can grey out the
buttons it should not offer. ``status`` stays the machine word ``invalid_transition``, like
every other error's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from carebiz.errors import Conflict


class IllegalTransition(Conflict):
    """The record's status does not allow this action (409)."""

    code = "invalid_transition"


@dataclass(frozen=True)
class Machine:
    """Actions by name: each maps the statuses it may start from to the status it leads to.

    ``labels`` are the statuses' and actions' display names (lazy translations)."""

    name: str
    actions: Mapping[str, tuple[frozenset[str], str]]

    def allowed(self, status: str) -> list[str]:
        """The actions possible from ``status``, in a stable order."""
        return sorted(a for a, (starts, _to) in self.actions.items() if status in starts)

    def target(self, status: str, action: str) -> str:
        """The status ``action`` leads to from ``status``, or :class:`IllegalTransition`."""
        step = self.actions.get(action)
        if step is None or status not in step[0]:
            raise IllegalTransition(
                _("This %(what)s is %(status)s: %(action)s is not possible. Possible now: "
                  "%(allowed)s.", what=self.name, status=status, action=action,
                  allowed=", ".join(self.allowed(status)) or _("nothing")),
                {"status": _("Not possible from %(status)s.", status=status)},
                {"current_status": status, "allowed": self.allowed(status)})
        return step[1]


def machine(name: str, steps: Mapping[str, tuple[Any, str]]) -> Machine:
    """A :class:`Machine` from ``{action: (starting statuses, target)}``."""
    return Machine(name, {a: (frozenset(starts), to) for a, (starts, to) in steps.items()})
