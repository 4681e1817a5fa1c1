"""A small immutable money value: a ``Decimal`` amount with its currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from flask_babel import gettext as _

from carebiz.currency.codes import check_code, minor_unit
from carebiz.errors import ValidationFailed

#: rounding of amounts to a currency's minor unit. Half-up (四舍五入) is what Chinese banks,
#: the tax authority's invoices and every clerk computing by hand use; banker's rounding
#: (half-even) would make printed amounts differ by one fen from what a customer checks.
ROUNDING = ROUND_HALF_UP


def to_decimal(value: Any, field: str = "amount") -> Decimal:
    """A finite ``Decimal`` from a Decimal, int or string; floats are refused (they cannot
    hold 0.10 exactly), as are NaN and infinities."""
    if isinstance(value, (bool, float)):
        message = _("Give amounts as decimal strings, not floating-point numbers.")
        raise ValidationFailed(message, errors={field: message})
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        result = None
    if result is None or not result.is_finite():
        message = _("'%(value)s' is not a number.", value=str(value)[:40])
        raise ValidationFailed(message, errors={field: message})
    return result


def quantize(amount: Decimal, currency: str, rounding: str = ROUNDING) -> Decimal:
    """``amount`` rounded to the minor unit of ``currency`` (JPY 0, CNY 2, KWD 3 places)."""
    exp = Decimal(1).scaleb(-minor_unit(currency))
    with localcontext() as ctx:
        ctx.prec = max(60, amount.adjusted() + 20)
        return amount.quantize(exp, rounding=rounding)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", check_code(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def quantize(self, rounding: str = ROUNDING) -> Money:
        return Money(quantize(self.amount, self.currency, rounding), self.currency)

    @property
    def is_quantized(self) -> bool:
        return self.amount == quantize(self.amount, self.currency)

    def _same(self, other: Any) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}; "
                             "convert first")
        return other

    def __add__(self, other: Any) -> Money:
        if other == 0 and not isinstance(other, Money):  # so sum() works
            return self
        return Money(self.amount + self._same(other).amount, self.currency)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: Any) -> Money:
        if isinstance(factor, Money):
            raise TypeError("cannot multiply money by money")
        return Money(self.amount * to_decimal(factor, "factor"), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Any) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Any) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Any) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Any) -> bool:
        return self.amount >= self._same(other).amount

    def __str__(self) -> str:
        return f"{format(self.amount, 'f')} {self.currency}"

    def as_dict(self) -> dict[str, str]:
        """JSON form: the amount as a string (never a float) and the currency code."""
        return {"amount": format(self.amount, "f"), "currency": self.currency}
