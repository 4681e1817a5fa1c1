"""Hooks the stock plugin declares for other plugins."""

from __future__ import annotations

from carebiz.hookspecs import hookspec


@hookspec
def stock_part_notes(part: str) -> list[str] | None:
    """Return notes other subsystems want printed on the pick slip of ``part``.

    :param part: the part number being picked.
    """


@hookspec(firstresult=True)
def stock_supplier(part: str) -> str | None:
    """Return the supplier to order ``part`` from; the first plugin that knows answers.

    :param part: the part number to order.
    """
