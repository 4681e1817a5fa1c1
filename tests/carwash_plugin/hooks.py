"""Hooks the car wash offers other plugins."""

from decimal import Decimal

from carebiz.hookspecs import hookspec


@hookspec(firstresult=True)
def wash_discount(program: str, customer_id: int) -> Decimal | None:
    """Return the discount (an amount) on a wash, or None for none.

    :param program: the wash program ordered.
    :param customer_id: the customer's party id.
    """
