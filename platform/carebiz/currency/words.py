"""Amounts in Chinese capital numerals (大写金额) for printed financial documents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
UNITS = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿")
MAX_AMOUNT = Decimal("999999999999.99")


def _group(n: int) -> str:
    """1..9999 without leading zeros; inner zeros collapse to one 零."""
    out, zero = "", False
    for pos in (3, 2, 1, 0):
        d = n // 10 ** pos % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + UNITS[pos]
    return out


def _integer(n: int) -> str:
    groups = [n // 10 ** (4 * i) % 10000 for i in range(len(GROUPS))]
    out, gap = "", False
    for idx in reversed(range(len(GROUPS))):
        g = groups[idx]
        if g == 0:
            gap = bool(out)
            continue
        if out and (gap or g < 1000):
            out += "零"
        out += _group(g) + GROUPS[idx]
        gap = False
    return out


def chinese_capital(amount: Decimal | int | str) -> str:
    """``Decimal("12345.67")`` → ``壹万贰仟叁佰肆拾伍元陆角柒分``.

    Rounded half-up to the fen; 整 ends amounts without jiao or fen; zeros follow the
    banking rules (1005.07 → 壹仟零伍元零柒分, 100000 → 壹拾万元整, 0.5 → 伍角);
    negatives start with 负. Raises ``ValueError`` beyond ±999,999,999,999.99 or for floats."""
    if isinstance(amount, float):
        raise ValueError("give a Decimal, not a float")
    value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount}")
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if abs(value) > MAX_AMOUNT:
        raise ValueError(f"amount too large for capital numerals: {amount}")
    sign = "负" if value < 0 else ""
    cents = int(abs(value) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    out = _integer(yuan)
    if yuan:
        out += "元"
    if jiao == 0 and fen == 0:
        return sign + out + "整"
    if jiao:
        out += DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    if fen:
        out += DIGITS[fen] + "分"
    return sign + out
