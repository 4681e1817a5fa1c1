"""Turning a row's cells into the values the CRM services take: words in English or
Chinese for choices, several phones or tags in one cell, dates as Excel and people write
them. Unknown words pass through unchanged, so the service's own message reports them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from carebiz.crm.importing.headers import ColumnMap, norm


def _words(table: dict[str, Iterable[str]]) -> dict[str, str]:
    return {norm(word): value for value, words in table.items() for word in (value, *words)}


KIND_WORDS = _words({
    "person": ("individual", "private", "personal", "个人", "私人", "自然人", "个人客户"),
    "organization": ("organisation", "org", "company", "business", "corporate", "企业", "公司",
                     "单位", "机构", "组织", "企业客户", "团体"),
})
GENDER_WORDS = _words({"male": ("m", "man", "男", "男性", "先生"),
                       "female": ("f", "woman", "女", "女性", "女士"),
                       "other": ("其他", "其它")})
ROLE_WORDS = _words({"customer": ("客户", "顾客"), "prospect": ("潜客", "潜在客户", "意向客户"),
                     "agent": ("代理", "代理人", "经纪人"), "partner": ("合作伙伴", "伙伴"),
                     "supplier": ("供应商",), "insurer": ("保险公司", "保险"),
                     "fleet": ("车队", "大客户")})
ID_KIND_WORDS = _words({
    "cn_resident": ("resident id", "id card", "身份证", "居民身份证"),
    "cn_uscc": ("uscc", "统一社会信用代码", "营业执照", "信用代码"),
    "passport": ("护照",), "other": ("其他", "其它"),
})
FUEL_WORDS = _words({
    "petrol": ("gasoline", "gas", "汽油"), "diesel": ("柴油",),
    "hybrid": ("hev", "混动", "油电混合", "混合动力"),
    "phev": ("plug-in hybrid", "插电混动", "插电式混合动力"),
    "bev": ("electric", "ev", "纯电", "纯电动", "电动"),
    "fcev": ("fuel cell", "hydrogen", "氢燃料", "燃料电池"),
    "cng": ("天然气",), "other": ("其他", "其它"),
})
_CHOICES = {"kind": KIND_WORDS, "gender": GENDER_WORDS, "id_kind": ID_KIND_WORDS,
            "fuel_type": FUEL_WORDS}
_SPLIT = {"phones": r"[;；/,，、\n]+", "emails": r"[;；,，、\s]+", "roles": r"[;；,，、/\n]+",
          "tags": r"[;；,，、\n]+"}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _date_text(text: str) -> str:
    """2024/1/5, 2024.1.5, 2024年1月5日 and 20240105 as ISO; anything else is passed on for
    the service to refuse with its own message. Day-first and month-first forms (5/1/2024)
    are ambiguous and are not guessed."""
    text = text.strip()
    match = _DATE.match(text)
    if match:
        parts = match.groups()
    elif re.fullmatch(r"\d{8}", text):
        parts = (text[:4], text[4:6], text[6:])
    else:
        return text.split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2} ", text) else text
    try:
        return dt.date(*(int(p) for p in parts)).isoformat()
    except ValueError:
        return text


def _convert(key: str, text: str) -> Any:
    """A cell's text in the form the service expects; unknown words are passed on unchanged
    so the service's own message reports them."""
    if key in _SPLIT:
        values = [part.strip() for part in re.split(_SPLIT[key], text) if part.strip()]
        if key == "roles":
            values = [ROLE_WORDS.get(norm(v), v) for v in values]
        return values
    if key in _CHOICES:
        return _CHOICES[key].get(norm(text), text)
    if key == "birthday":
        return _date_text(text)
    if key == "year":
        return re.sub(r"\s*[年款]+$", "", text)
    return text


@dataclass
class RowData:
    party: dict[str, Any]
    vehicle: dict[str, Any]
    branch_code: str = ""


def row_data(cmap: ColumnMap, cells: list[str]) -> RowData:
    """Split one row's cells into the data of the customer and of the vehicle."""
    data = RowData({}, {})
    for column in cmap.columns:
        text = cells[column.index].strip() if column.index < len(cells) else ""
        if not text:
            continue
        target = data.party if column.entity == "party" else data.vehicle
        if column.key == "branch_id":
            data.branch_code = text
        elif column.custom_name:
            target.setdefault("custom", {})[column.custom_name] = text
        elif column.spec is not None and column.spec.multi:
            target.setdefault(column.key, []).extend(_convert(column.key, text))
        else:
            target[column.key] = _convert(column.key, text)
    return data

