"""Matching a file's header row to the fields the importer fills: the template's English
and Chinese headers, aliases seen in real files, and custom fields by name or label; and the
template's own header row."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from carebiz.crm.importing.limits import UnreadableFile
from carebiz.crm.services import custom_fields


def norm(text: str) -> str:
    """Compare headers and words forgivingly: width, case, spaces, _ - . * and colons."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return re.sub(r"[\s_\-.*:：]+", "", text)


@dataclass(frozen=True)
class FieldSpec:
    """A field the importer fills: where it goes (``entity`` and the service's ``key``), the
    headers of the template in English and Chinese, and other headers seen in real files."""

    name: str
    entity: str  # party, vehicle
    key: str  # the service's field name
    header_en: str
    header_zh: str
    aliases: tuple[str, ...] = ()
    #: several columns add up, and one cell may hold several values
    multi: bool = False


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "party", "name", "name", "姓名",
              ("customer name", "customer", "full name", "company name", "客户名称",
               "客户姓名", "客户", "名称", "公司名称", "单位名称", "车主", "车主姓名")),
    FieldSpec("phone", "party", "phones", "phone", "手机",
              ("phones", "mobile", "mobile phone", "cell", "cellphone", "telephone", "tel",
               "phone number", "电话", "手机号", "手机号码", "电话号码", "联系电话",
               "移动电话", "联系方式"), multi=True),
    FieldSpec("email", "party", "emails", "email", "邮箱",
              ("emails", "e-mail", "mail", "email address", "电子邮箱", "电子邮件", "邮件"),
              multi=True),
    FieldSpec("kind", "party", "kind", "kind", "类型",
              ("type", "customer type", "客户类型", "客户性质")),
    FieldSpec("roles", "party", "roles", "roles", "角色", ("role",), multi=True),
    FieldSpec("tags", "party", "tags", "tags", "标签", ("tag", "labels"), multi=True),
    FieldSpec("id_kind", "party", "id_kind", "id_kind", "证件类型",
              ("id type", "document type", "id document")),
    FieldSpec("id_number", "party", "id_number", "id_number", "证件号码",
              ("id no", "identity number", "id card", "id card number", "证件号", "身份证",
               "身份证号", "身份证号码", "统一社会信用代码", "信用代码")),
    FieldSpec("gender", "party", "gender", "gender", "性别", ("sex",)),
    FieldSpec("birthday", "party", "birthday", "birthday", "生日",
              ("birth date", "date of birth", "dob", "出生日期")),
    FieldSpec("source", "party", "source", "source", "来源", ("lead source", "客户来源")),
    FieldSpec("province", "party", "province", "province", "省", ("state", "省份")),
    FieldSpec("city", "party", "city", "city", "市", ("城市",)),
    FieldSpec("district", "party", "district", "district", "区", ("county", "区县", "县区")),
    FieldSpec("street", "party", "street", "street", "地址",
              ("address", "street address", "街道", "详细地址", "联系地址")),
    FieldSpec("postal_code", "party", "postal_code", "postal_code", "邮编",
              ("postcode", "zip", "zip code", "邮政编码")),
    FieldSpec("branch", "party", "branch_id", "branch", "门店",
              ("branch code", "store", "门店代码", "门店编码", "网点")),
    FieldSpec("notes", "party", "notes", "notes", "备注",
              ("note", "remarks", "comment", "comments", "客户备注")),
    FieldSpec("vin", "vehicle", "vin", "vin", "车架号",
              ("车辆识别代号", "车辆识别号", "车架号码", "车辆识别码", "vin code")),
    FieldSpec("plate", "vehicle", "plate", "plate", "车牌号",
              ("licence plate", "license plate", "plate number", "registration", "车牌",
               "车牌号码")),
    FieldSpec("make", "vehicle", "make", "make", "品牌", ("brand", "厂牌")),
    FieldSpec("model", "vehicle", "model", "model", "车型", ("型号", "车系")),
    FieldSpec("year", "vehicle", "year", "year", "年份", ("model year", "年款")),
    FieldSpec("colour", "vehicle", "colour", "colour", "颜色", ("color", "车身颜色")),
    FieldSpec("fuel_type", "vehicle", "fuel_type", "fuel_type", "燃料",
              ("fuel", "燃料类型", "能源类型", "能源")),
    FieldSpec("engine_number", "vehicle", "engine_number", "engine_number", "发动机号",
              ("engine no", "发动机号码")),
    FieldSpec("vehicle_notes", "vehicle", "notes", "vehicle_notes", "车辆备注", ()),
)

_ALIASES: dict[str, FieldSpec] = {}
for _spec in FIELDS:
    for _alias in (_spec.name, _spec.key, _spec.header_en, _spec.header_zh, *_spec.aliases):
        _ALIASES.setdefault(norm(_alias), _spec)


@dataclass(frozen=True)
class Column:
    """A recognised column: its position, its header as written, and where values go."""

    index: int
    header: str
    entity: str
    key: str  # service key: "phones", "branch_id", "custom.<name>" …
    spec: FieldSpec | None = None  # None for custom fields
    custom_name: str = ""


@dataclass
class ColumnMap:
    columns: list[Column]
    warnings: list[dict[str, Any]]
    #: indexes of columns without a header, reported once if a row has a value there
    blank: set[int] = field(default_factory=set)

    def header_of(self, entity: str, key: str) -> str:
        """The header(s) a service field came from, for error reports; a field no column
        holds (a required custom field, the default branch) is named as in the template."""
        if key == "branch_id":  # one branch column serves the customer and the vehicle
            entity = "party"
        found = [c.header for c in self.columns if c.entity == entity and c.key == key]
        if found:
            return ", ".join(found)
        for spec in FIELDS:
            if spec.entity == entity and spec.key == key:
                return spec.header_en
        if key.startswith("custom.") and entity == "vehicle":
            return "vehicle." + key
        return key


def _custom_lookup(session: Session) -> tuple[dict[str, tuple[str, str]],
                                              dict[str, tuple[str, str]]]:
    """Custom fields by header, as (entity, name): ``custom.<name>`` (a customer's field, or a
    vehicle's when no customer field has the name), ``vehicle.custom.<name>``, and labels,
    where a customer's field wins over a vehicle's of the same label."""
    by_name: dict[str, tuple[str, str]] = {}
    by_label: dict[str, tuple[str, str]] = {}
    for entity in ("vehicle", "party"):  # party last, so it wins
        for definition in custom_fields.definitions(session, entity):
            if entity == "vehicle":
                by_name[f"vehicle.custom.{definition.name}"] = (entity, definition.name)
            by_name[f"custom.{definition.name}"] = (entity, definition.name)
            by_label[norm(definition.label)] = (entity, definition.name)
    return by_name, by_label


def map_columns(session: Session, headers: list[str]) -> ColumnMap:
    """Match each header to a field: the template's English and Chinese headers, common
    aliases, ``custom.<name>`` (``vehicle.custom.<name>``) or a custom field's label."""
    by_name, by_label = _custom_lookup(session)
    columns: list[Column] = []
    warnings: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], Column] = {}
    blank: set[int] = set()
    for index, header in enumerate(headers):
        text = header.strip()
        if not text:
            blank.add(index)
            continue
        spec = _ALIASES.get(norm(text))
        lowered = unicodedata.normalize("NFKC", text).casefold().replace(" ", "")
        lowered = lowered.replace("party.custom.", "custom.")
        if spec is not None:
            column = Column(index, text, spec.entity, spec.key, spec)
        elif lowered in by_name or norm(text) in by_label:
            entity, name = by_name.get(lowered) or by_label[norm(text)]
            column = Column(index, text, entity, f"custom.{name}", None, name)
        else:
            reason = (_("No custom field named %(name)s; this column is not imported.",
                        name=lowered.split("custom.", 1)[1]) if "custom." in lowered
                      else _("Unknown column; it is not imported. The template lists the "
                             "columns that are."))
            warnings.append({"row": None, "column": text, "reason": reason})
            continue
        earlier = seen.get((column.entity, column.key))
        if earlier is not None and not (spec is not None and spec.multi):
            warnings.append({"row": None, "column": text, "reason": _(
                "Holds the same field as the column “%(other)s”; only that first column is "
                "imported.", other=earlier.header)})
            continue
        seen.setdefault((column.entity, column.key), column)
        columns.append(column)
    if not columns:
        raise UnreadableFile(
            _("None of the columns was recognised (the first row must name the columns, e.g. "
              "name, phone, vin or 姓名, 手机, 车架号). Download the template to see them."),
            {"file": _("No known columns.")})
    if not any(c.key == "name" for c in columns):
        warnings.append({"row": None, "column": "", "reason": _(
            "There is no name column: only rows that match a customer on file can be "
            "imported.")})
    return ColumnMap(columns, warnings, blank)


def template_headers(session: Session, language: str) -> list[str]:
    """The headers of the template file, in the user's language, plus the active custom
    fields (by label where the label is unambiguous). Every header maps back to its field,
    so a filled-in template imports without renaming anything."""
    chinese = (language or "").lower().startswith("zh")
    headers = [spec.header_zh if chinese else spec.header_en for spec in FIELDS]
    taken = {norm(h) for h in _ALIASES}
    labels: dict[str, int] = {}
    for entity in ("party", "vehicle"):
        for definition in custom_fields.definitions(session, entity):
            labels[norm(definition.label)] = labels.get(norm(definition.label), 0) + 1
    for entity in ("party", "vehicle"):
        for definition in custom_fields.definitions(session, entity):
            label = norm(definition.label)
            if label and label not in taken and labels[label] == 1:
                headers.append(definition.label)
            else:
                headers.append(("custom." if entity == "party" else "vehicle.custom.")
                               + definition.name)
    return headers

