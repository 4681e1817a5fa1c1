"""Importing customers and their vehicles from a CSV or Excel (.xlsx) file.

Dealerships arrive with years of customers in spreadsheets exported from the old DMS or kept
by hand, in English or Chinese, saved by Excel as UTF-8 or GB18030. An import that silently
drops or bends data fills the new system with the same bad data the old one had, so:

* every row goes through the very services the forms use (:func:`parties.create_party`,
  :func:`vehicles.create_vehicle`), each row inside its own SAVEPOINT, so the dry run reports
  exactly what the real import would do, with the services' own messages;
* the report names each bad row as Excel shows it (the header is row 1) and each column by the
  header text the user wrote, so the fix is found without counting;
* columns the importer does not know are reported, never dropped without a word;
* by default nothing is written unless every row is valid, because half an import is harder
  to repair than none; ``only_valid`` imports the good rows on purpose;
* large files are checked and written in batches of committed transactions
  (:func:`import_batched`), so other people keep saving their work during an import: SQLite
  lets one transaction write at a time.

This module knows nothing of Flask requests: the pages, the API and the background task
``crm.import`` (:func:`run_import_task`) share it. Uploads live in the instance folder under
a name made here, never under a name or path that came from the user.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from carebiz.concurrency import Busy, begin_write, yield_to_writers
from carebiz.crm.models import Party, Vehicle
from carebiz.crm.services import custom_fields, parties, vehicles
from carebiz.crm.services.common import setting
from carebiz.crm.validation import normalize_phone, validate_id_number
from carebiz.errors import Conflict, NotFound, ServiceError, ValidationFailed

log = logging.getLogger(__name__)

#: an upload larger than this is refused before it is parsed
MAX_BYTES = 20 * 1024 * 1024
#: data rows (the header not counted) one file may hold
MAX_ROWS = 50_000
#: what happens to a row whose phone or ID number belongs to a customer already on file
ON_EXISTING = ("attach", "skip", "create")
#: what the rows of a file describe; one kind today, the option leaves room for more
ROW_KINDS = ("customers",)
EXTENSIONS = ("csv", "xlsx")
#: stored uploads not imported within this time are deleted when the next one arrives
STALE_AFTER = dt.timedelta(days=1)
#: the progress bar moves in steps of this share of the rows
PROGRESS_STEP = 0.02
#: rows per transaction of the background import, at most: other writers wait at most
#: about one batch while a large file is imported
BATCH_ROWS = 500
#: and seconds per transaction at most, so that on a slow or busy machine, too, other
#: writers wait about a second for SQLite's write lock rather than a whole batch
BATCH_SECONDS = 1.0

_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(csv|xlsx)$")


class UnreadableFile(ValidationFailed):
    """The upload is not a CSV or .xlsx file this importer can read (422)."""

    code = "unreadable_file"


class TooLarge(ServiceError):
    """The upload has more bytes or rows than one import may hold (413)."""

    status = 413
    code = "payload_too_large"


# --- reading files -------------------------------------------------------------------------


@dataclass
class Table:
    """A file's header and data rows, every cell already text. ``rows`` holds the row number
    as the user sees it in Excel (the header is row 1 when it is the first line) and the
    cells; rows without any value are left out but keep the numbering right."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]
    header_row: int = 1


def extension_of(filename: str | None) -> str:
    """The lower-case extension of an upload, refusing what the importer cannot read."""
    name = (filename or "").strip()
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in EXTENSIONS:
        return ext
    if ext in ("xls", "et", "numbers", "ods"):
        raise UnreadableFile(
            _("“%(name)s” is in a spreadsheet format that cannot be read. Save it as an Excel "
              "workbook (.xlsx) or as CSV and upload it again.", name=name),
            {"file": _("Save the file as .xlsx or .csv.")})
    raise UnreadableFile(
        _("“%(name)s” is not a CSV or Excel (.xlsx) file. Export the customer list as .csv "
          "or .xlsx and upload that.", name=name or "?"),
        {"file": _("Choose a .csv or .xlsx file.")})


def too_large_error() -> TooLarge:
    return TooLarge(_("The file is larger than %(mb)d MB. Split it into smaller files and "
                      "import them one after the other.", mb=MAX_BYTES // (1024 * 1024)),
                    {"file": _("At most %(mb)d MB.", mb=MAX_BYTES // (1024 * 1024))})


def too_many_rows_error() -> TooLarge:
    return TooLarge(_("The file has more than %(max)d rows. Split it into smaller files and "
                      "import them one after the other.", max=MAX_ROWS),
                    {"file": _("At most %(max)d rows.", max=MAX_ROWS)})


def read_stream(stream: Any) -> bytes:
    """An upload's bytes, reading at most one byte past the limit so a huge upload is
    refused without being held in memory."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise too_large_error()
    return data


def read_table(data: bytes, filename: str, sample: int | None = None) -> Table:
    """Read an upload's bytes as a table; ``filename`` only tells the format. With
    ``sample`` only that many data rows are read: enough to refuse a wrong file at once,
    while a large workbook is read in full only by the background job."""
    ext = extension_of(filename)
    if len(data) > MAX_BYTES:
        raise too_large_error()
    if ext == "xlsx":
        return _read_xlsx(data, sample)
    return _read_csv(data, sample)


def read_path(path: Path) -> Table:
    """Read a stored upload (its extension was set when it was stored)."""
    if path.stat().st_size > MAX_BYTES:
        raise too_large_error()
    return read_table(path.read_bytes(), path.name)


def cell_text(value: Any) -> str:
    """One cell as text. Excel stores a phone number typed into a General cell as the number
    13800138000 (and xlsx files keep it as 13800138000.0), which must not come back with a
    ``.0`` or in exponent notation; dates come back as ISO dates, the form services take."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _table_from(records: Iterable[list[Any]], sample: int | None = None) -> Table:
    """Find the header (the first row with a value) and collect the data rows below it
    (only the first ``sample`` of them when given)."""
    headers: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, list[str]]] = []
    for number, record in enumerate(records, start=1):
        cells = [cell_text(c) for c in record]
        while cells and not cells[-1]:
            cells.pop()
        if headers is None:
            if cells:
                headers, header_row = cells, number
            continue
        if not cells:
            continue
        if len(rows) >= MAX_ROWS:
            raise too_many_rows_error()
        rows.append((number, cells))
        if sample is not None and len(rows) >= sample:
            break
    if headers is None:
        raise UnreadableFile(_("The file is empty. The first row must name the columns, e.g. "
                               "name, phone, vin; download the template to start from."),
                             {"file": _("The file is empty.")})
    if not rows:
        raise UnreadableFile(_("The file has a header row but no rows of customers below it."),
                             {"file": _("No rows below the header.")})
    return Table(headers, rows, header_row)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes) first: it almost never decodes text that
    is not UTF-8. Chinese Excel saves "CSV" in the system code page, GBK, whose superset
    GB18030 comes next; "Unicode text" exports are UTF-16 with a BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        with contextlib.suppress(UnicodeDecodeError):  # not UTF-16 after all: try the others
            return data.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(_("The file's text encoding is not recognised. Save it as “CSV UTF-8” "
                           "and upload it again."),
                         {"file": _("Save the file as CSV UTF-8.")})


def _delimiter(text: str) -> str:
    """Comma, semicolon (Excel in locales with a decimal comma) or tab, whichever the header
    line holds most of; csv.Sniffer guesses wrongly on short files with few columns."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(data: bytes, sample: int | None = None) -> Table:
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableFile(_("This file is an Excel workbook, not CSV; give it the "
                               "extension .xlsx and upload it again."),
                             {"file": _("An Excel workbook named .csv.")})
    text = _decode(data)
    if "\x00" in text:
        raise UnreadableFile(_("The file is not a text file; upload a CSV or .xlsx file."),
                             {"file": _("Not a text file.")})
    try:
        return _table_from(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)),
                           sample)
    except csv.Error as exc:
        raise UnreadableFile(_("The CSV file cannot be read: %(error)s", error=str(exc)),
                             {"file": str(exc)}) from exc


def _read_xlsx(data: bytes, sample: int | None = None) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise UnreadableFile(_("The file cannot be read as an Excel workbook (.xlsx). Open it "
                               "in Excel, save it as .xlsx or CSV and upload it again."),
                             {"file": _("Not a readable .xlsx file.")}) from exc
    try:
        if not book.worksheets:
            raise UnreadableFile(_("The workbook has no worksheet."),
                                 {"file": _("No worksheet.")})
        sheet = book.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            # files written by other programs often declare wrong dimensions, which would
            # make read-only mode stop early; read up to the last row really present
            sheet.reset_dimensions()
        return _table_from((list(r) for r in sheet.iter_rows(min_row=1, values_only=True)),
                           sample)
    finally:
        book.close()


# --- columns -------------------------------------------------------------------------------


def _norm(text: str) -> str:
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
        _ALIASES.setdefault(_norm(_alias), _spec)


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
            by_label[_norm(definition.label)] = (entity, definition.name)
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
        spec = _ALIASES.get(_norm(text))
        lowered = unicodedata.normalize("NFKC", text).casefold().replace(" ", "")
        lowered = lowered.replace("party.custom.", "custom.")
        if spec is not None:
            column = Column(index, text, spec.entity, spec.key, spec)
        elif lowered in by_name or _norm(text) in by_label:
            entity, name = by_name.get(lowered) or by_label[_norm(text)]
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
    taken = {_norm(h) for h in _ALIASES}
    labels: dict[str, int] = {}
    for entity in ("party", "vehicle"):
        for definition in custom_fields.definitions(session, entity):
            labels[_norm(definition.label)] = labels.get(_norm(definition.label), 0) + 1
    for entity in ("party", "vehicle"):
        for definition in custom_fields.definitions(session, entity):
            label = _norm(definition.label)
            if label and label not in taken and labels[label] == 1:
                headers.append(definition.label)
            else:
                headers.append(("custom." if entity == "party" else "vehicle.custom.")
                               + definition.name)
    return headers


# --- values --------------------------------------------------------------------------------


def _words(table: dict[str, Iterable[str]]) -> dict[str, str]:
    return {_norm(word): value for value, words in table.items() for word in (value, *words)}


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
            values = [ROLE_WORDS.get(_norm(v), v) for v in values]
        return values
    if key in _CHOICES:
        return _CHOICES[key].get(_norm(text), text)
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


# --- the import ----------------------------------------------------------------------------


@dataclass
class Options:
    """How to import: ``on_existing`` decides what a row matching a customer on file does
    (attach its vehicle to that customer, skip the row, or create a new customer anyway);
    ``only_valid`` imports the valid rows even when others are bad."""

    on_existing: str = "attach"
    only_valid: bool = False
    rows: str = "customers"

    def check(self) -> Options:
        errors = {}
        if self.on_existing not in ON_EXISTING:
            errors["on_existing"] = _("One of: %(allowed)s.", allowed=", ".join(ON_EXISTING))
        if self.rows not in ROW_KINDS:
            errors["rows"] = _("One of: %(allowed)s.", allowed=", ".join(ROW_KINDS))
        if errors:
            raise ValidationFailed(_("The import options are not valid."), errors)
        return self


@dataclass
class Report:
    """What an import did or, in a dry run, would do."""

    rows: int = 0
    dry_run: bool = True
    committed: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    columns: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {
        "create": 0, "attach": 0, "skip": 0, "same_in_file": 0, "vehicles": 0,
        "vehicles_unchanged": 0, "invalid": 0})
    options: dict[str, Any] = field(default_factory=dict)
    #: a batched import: the last row (as Excel numbers it) of the last committed batch
    imported_through: int | None = None
    #: a batched import that stopped part way: the row it stopped at (nothing after it)
    stopped_at: int | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def bad_rows(self) -> int:
        return self.counts["invalid"]

    def as_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "rows": self.rows, "dry_run": self.dry_run,
                "committed": self.committed, "errors": self.errors,
                "warnings": self.warnings, "matches": self.matches, "counts": self.counts,
                "columns": self.columns, "options": self.options,
                "imported_through": self.imported_through, "stopped_at": self.stopped_at}


#: ``progress(done, total)``; a batched all-or-nothing import adds the stage,
#: ``progress(done, total, "check")`` and then ``"write"``, each counting the rows again
Progress = Callable[..., None]


def _masked(reason: str, value: str) -> str:
    """Identity numbers are personal data and the report is kept with the job: only their
    last four characters are shown, enough to recognise the match."""
    return value if reason != "id_number" else "…" + value[-4:]


class _Importer:
    """The state of one run: the column map, the branches by code, and the customers this
    run created, so a later row with the same phone or ID number joins them."""

    def __init__(self, session: Session, cmap: ColumnMap, options: Options, user: Any):
        from carebiz.models import Branch

        self.session = session
        self.cmap = cmap
        self.options = options
        self.user = user
        self.region = setting(session, "crm.phone_region")
        self.branches = {b.code.casefold(): b.id for b in session.scalars(select(Branch))}
        #: customers created by this import: a later row matching one is the same customer
        self.created: set[int] = set()
        self.blank_reported = False

    def error(self, report: Report, row: int, column: str, reason: Any) -> None:
        report.errors.append({"row": row, "column": column, "reason": str(reason)})

    def service_errors(self, exc: ServiceError, entity: str) -> list[tuple[str, str]]:
        """The columns and reasons of a service error. Field messages are used where the
        service gives them (validation); a conflict's or refusal's message names the record
        or branch, which its field text ("Already registered.") does not."""
        if not exc.errors:
            return [("", exc.message)]
        if isinstance(exc, ValidationFailed | parties.DuplicateWarning):
            return [(self.cmap.header_of(entity, key), str(msg)) for key, msg in exc.errors.items()]
        key = next(iter(exc.errors))
        return [(self.cmap.header_of(entity, key), exc.message)]

    def matches(self, data: dict[str, Any]) -> list[parties.Duplicate]:
        """Customers sharing the row's phone or ID number; values that do not validate
        match nothing (the service reports them). Customers the importing user may not see
        come back masked, by the rule of the duplicate warnings (:func:`parties.withhold`):
        neither their name nor their id reaches the report."""
        phones = []
        for raw in data.get("phones") or []:
            with suppress(ValidationFailed):
                phones.append(normalize_phone(raw, self.region))
        id_number = None
        if data.get("id_number"):
            kind = data.get("id_kind") or ("cn_uscc" if data.get("kind") == "organization"
                                           else "cn_resident")
            with suppress(ValidationFailed):
                id_number = validate_id_number(kind, data["id_number"])
        if not phones and not id_number:
            return []
        found = [d for d in parties.find_duplicates(self.session, phones=phones,
                                                    id_number=id_number)
                 if d.reason in ("phone", "id_number")]
        return parties.withhold(self.session, self.user, found)

    def ambiguous(self, found: list[parties.Duplicate]) -> str:
        """Why a row matching several customers is refused, naming only those the user may
        see; the others are counted."""
        by_party = {d.party_id: d for d in found}
        names = [d.label for d in by_party.values() if not d.hidden]
        hidden = sum(d.hidden for d in by_party.values())
        if hidden:
            names.append(ngettext("%(num)d customer of another branch",
                                  "%(num)d customers of other branches", hidden))
        return _("Matches more than one customer on file: %(names)s. Merge them first, or "
                 "give this row the phone or ID number of one.", names=", ".join(names))

    def row(self, report: Report, number: int, cells: list[str]) -> None:
        """Import one row into the open SAVEPOINT and record its outcome in ``report``;
        errors of the customer and of the vehicle are all collected, so one pass over the
        file shows everything to fix in the row."""
        if not self.blank_reported and any(
                i < len(cells) and cells[i].strip() for i in self.cmap.blank):
            self.blank_reported = True
            report.warnings.append({"row": number, "column": "", "reason": _(
                "A column without a header holds values; they are not imported. Give the "
                "column a header from the template.")})
        data = row_data(self.cmap, cells)
        errors: list[tuple[str, str]] = []
        branch_id = None
        if data.branch_code:
            branch_id = self.branches.get(data.branch_code.casefold())
            if branch_id is None:
                errors.append((self.cmap.header_of("party", "branch_id"),
                               _("No branch with the code “%(code)s”.", code=data.branch_code)))
            else:
                data.party["branch_id"] = branch_id
        found = self.matches(data.party)
        by_party = {d.party_id: d for d in found}
        party: Party | None = None
        action = "create"
        match_info: list[dict[str, Any]] = []
        matched = self.cmap.header_of("party", "phones" if found[0].reason == "phone"
                                      else found[0].reason) if found else ""
        if len(by_party) > 1:
            action = "ambiguous"
            errors.append((matched, self.ambiguous(found)))
        elif by_party:
            dup = found[0]
            if dup.party_id in self.created:
                action = "same_in_file"
            else:
                action = self.options.on_existing
                match_info.append({"row": number,
                                   "customer_id": None if dup.hidden else dup.party_id,
                                   "name": dup.name, "by": dup.reason,
                                   "value": _masked(dup.reason, dup.value), "action": action})
            if action == "attach" and dup.hidden:  # never write to a customer one cannot see
                action = "hidden"
                errors.append((matched, _(
                    "Matches a customer of another branch, who cannot be changed from here. "
                    "Skip the row, or choose “Register a new customer anyway” to register a "
                    "customer of your own.")))
            elif action in ("attach", "same_in_file"):
                party = self.session.get(Party, dup.party_id)
        if action == "skip":  # the user asked to leave customers on file alone: no checks
            report.counts["skip"] += 1
            report.matches.extend(match_info)
            return
        if action == "create":
            try:
                party = parties.create_party(self.session, data.party, user=self.user,
                                             allow_duplicates=bool(by_party))
            except ServiceError as exc:
                errors.extend(self.service_errors(exc, "party"))
        vehicle_action = None
        if data.vehicle:
            vehicle_action, vehicle_errors = self.vehicle(data.vehicle, party, branch_id)
            errors.extend(vehicle_errors)
        if errors:
            report.counts["invalid"] += 1
            # one reason per column: an unknown branch code must not also read "Required."
            # from the service, nor a refused branch twice (customer and vehicle)
            first: dict[str, str] = {}
            for column, reason in errors:
                first.setdefault(column, reason)
            for column, reason in first.items():
                self.error(report, number, column, reason)
            return
        if action == "create" and party is not None:
            self.created.add(party.id)
        report.counts[action] += 1
        if vehicle_action:
            report.counts[vehicle_action] += 1
        report.matches.extend(match_info)

    def vehicle(self, data: dict[str, Any], party: Party | None,
                branch_id: int | None) -> tuple[str | None, list[tuple[str, str]]]:
        """Register the row's vehicle for its customer. A VIN already on file for this very
        customer is left as it is, so importing the same file twice changes nothing; on file
        for someone else it is an error: an import does not move cars between owners."""
        values = dict(data)
        if party is not None:
            values["owner_id"] = party.id
        if branch_id is not None:
            values["branch_id"] = branch_id
        try:
            vehicles.create_vehicle(self.session, values, user=self.user)
        except Conflict as exc:
            existing = exc.details.get("existing")
            if existing and party is not None:
                current = self.session.get(Vehicle, existing["id"])
                if current is not None and current.owner_id == party.id:
                    return "vehicles_unchanged", []
            return None, self.service_errors(exc, "vehicle")
        except ServiceError as exc:
            return None, self.service_errors(exc, "vehicle")
        return "vehicles", []


def import_table(session: Session, table: Table, options: Options | None = None, *,
                 user: Any = None, dry_run: bool = True, progress: Progress | None = None,
                 batch_rows: int | None = None) -> Report:
    """Import (or with ``dry_run`` only try) every row of ``table``.

    Each row runs in a SAVEPOINT that is released when it is good and rolled back when it is
    bad, so later rows see the customers earlier rows created (a second row with the same
    phone adds its vehicle to the first row's customer) in the dry run as in the import.

    Without ``batch_rows`` the whole run is one transaction the caller ends: a dry run, and
    an all-or-nothing import with bad rows, roll their SAVEPOINT back and leave the session
    as they found it; what is kept is flushed but not committed. That holds SQLite's single
    write lock for the whole file, so large files go through :func:`import_batched`
    (``batch_rows``), which commits as it goes."""
    options = (options or Options()).check()
    cmap = map_columns(session, table.headers)
    if batch_rows is not None:
        return import_batched(session, table, cmap, options, user=user, dry_run=dry_run,
                              progress=progress, batch_rows=batch_rows)
    report = _new_report(table, cmap, options, dry_run)
    outer = session.begin_nested()
    worker = _Importer(session, cmap, options, user)
    total = len(table.rows)
    step = max(1, int(total * PROGRESS_STEP))

    def tick(done: int) -> None:
        if progress is not None and (done % step == 0 or done == total):
            progress(done, total)

    try:
        _import_rows(session, worker, report, table.rows, tick)
    except BaseException:
        outer.rollback()
        raise
    if dry_run or (report.errors and not options.only_valid):
        outer.rollback()
    else:
        outer.commit()
        report.committed = True
    return report


def _new_report(table: Table, cmap: ColumnMap, options: Options, dry_run: bool) -> Report:
    report = Report(rows=len(table.rows), dry_run=dry_run, warnings=list(cmap.warnings),
                    options={"on_existing": options.on_existing,
                             "only_valid": options.only_valid, "rows": options.rows})
    report.columns = [{"column": c.header,
                       "field": c.spec.name if c.spec else f"{c.entity}.{c.key}"}
                      for c in cmap.columns]
    return report


def _import_rows(session: Session, worker: _Importer, report: Report,
                 rows: list[tuple[int, list[str]]], tick: Callable[[int], None],
                 deadline: float | None = None) -> int:
    """Run ``rows``, each in its own SAVEPOINT, into the open transaction; stop early
    after the row that passes ``deadline`` (``time.monotonic()``). Returns how many ran."""
    done = 0
    for done, (number, cells) in enumerate(rows, start=1):
        savepoint = session.begin_nested()
        before = len(report.errors)
        try:
            worker.row(report, number, cells)
        except SQLAlchemyError:
            log.exception("import row %s failed in the database", number)
            if len(report.errors) == before:
                report.counts["invalid"] += 1
                worker.error(report, number, "", _("The row could not be saved because "
                                                   "of a database error."))
        if len(report.errors) > before:
            savepoint.rollback()
        else:
            savepoint.commit()
        tick(done)
        if deadline is not None and time.monotonic() >= deadline:
            break
    return done


def import_batched(session: Session, table: Table, cmap: ColumnMap, options: Options, *,
                   user: Any = None, dry_run: bool = True, progress: Progress | None = None,
                   batch_rows: int = 500) -> Report:
    """The import of a large file, ``batch_rows`` rows per transaction (fewer when they
    take longer than :data:`BATCH_SECONDS`), so that other
    people keep working while it runs: on SQLite only one transaction writes at a time,
    and a 20,000-row file in one transaction would keep everyone else waiting (and failing)
    for more than a minute. Each batch takes the write lock up front and, when committed,
    pauses for waiting writers (:mod:`carebiz.concurrency`).

    The session must have nothing pending: the batches end its transaction. What each mode
    means stays the same:

    * ``dry_run``: every batch is rolled back;
    * ``only_valid``: each batch commits its good rows;
    * all-or-nothing (the default): a first pass checks every row exactly like a dry run;
      with a bad row nothing is written. Only then a second pass writes, batch by batch. If
      a row fails there after all (someone registered the same VIN in between, or a
      duplicate more than a batch apart in the file), that batch is rolled back and the
      import stops: ``report.imported_through`` names the last row written and
      ``report.stopped_at`` the row that failed, and :func:`failure_message` says so.

    The dry pass rolls each batch back, so it sees what earlier *batches* created only when
    that decides nothing else (a repeated phone is counted as a new customer, a VIN repeated
    for another customer is not yet an error); the writing pass sees everything."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a batched import needs a session without pending changes")
    if session.in_transaction():
        session.commit()  # nothing pending: only ends a read transaction
    size = max(1, int(batch_rows))
    if dry_run or options.only_valid:
        return _batches(session, table, cmap, options, user, dry_run=dry_run,
                        stop_on_error=False, size=size, progress=progress)
    checked = _batches(session, table, cmap, options, user, dry_run=True, stop_on_error=False,
                       size=size, progress=progress, stage="check")
    if checked.errors:
        checked.dry_run = False
        return checked
    return _batches(session, table, cmap, options, user, dry_run=False, stop_on_error=True,
                    size=size, progress=progress, stage="write")


def _batches(session: Session, table: Table, cmap: ColumnMap, options: Options, user: Any, *,
             dry_run: bool, stop_on_error: bool, size: int, progress: Progress | None,
             stage: str = "") -> Report:
    """One pass over the rows in transactions of ``size`` rows (or fewer, when a batch
    takes :data:`BATCH_SECONDS`): rolled back (``dry_run``) or committed; with
    ``stop_on_error`` the first batch with a bad row is rolled back and the pass ends
    there."""
    report = _new_report(table, cmap, options, dry_run)
    worker = _Importer(session, cmap, options, user)
    rows = table.rows
    total = len(rows)
    start = 0
    while start < total:
        batch = rows[start:start + size]
        counts, matches, errors = dict(report.counts), len(report.matches), len(report.errors)
        try:
            begin_write(session)  # SQLite: the write lock now, so reads stay true
            ran = _import_rows(session, worker, report, batch, lambda _done: None,
                               deadline=time.monotonic() + BATCH_SECONDS)
        except Busy as exc:
            session.rollback()
            if dry_run or report.imported_through is None:
                raise
            report.counts, report.matches = counts, report.matches[:matches]
            report.errors[errors:] = [{"row": batch[0][0], "column": "", "reason": exc.message}]
            report.stopped_at = batch[0][0]
            break
        except BaseException:
            session.rollback()
            raise
        batch = batch[:ran]
        failed = len(report.errors) > errors
        if dry_run:
            session.rollback()
            worker.created.clear()  # rolled back: their ids may be given to new rows
        elif failed and stop_on_error:
            session.rollback()
            report.counts, report.matches = counts, report.matches[:matches]
            report.stopped_at = report.errors[errors]["row"]
            break
        else:
            session.commit()
            report.imported_through = batch[-1][0]
        start += ran
        if progress is not None:
            if stage:
                progress(start, total, stage)
            else:
                progress(start, total)
        if start < total:
            yield_to_writers(session)
    report.committed = not dry_run and report.stopped_at is None
    return report


def failure_message(report: Report, limit: int = 20) -> str:
    """Why an import did not (completely) happen, with the first bad rows spelled out for
    the job page: nothing was imported because rows are bad, or a batched import stopped
    part way and says which rows it wrote."""
    if report.stopped_at is not None:
        if report.imported_through is None:
            lines = [_("Row %(row)s could not be imported, so nothing was imported.",
                       row=report.stopped_at)]
        else:
            lines = [_("The import stopped at row %(row)s. The rows up to row %(last)s were "
                       "imported; row %(row)s and the rows after it were not. Correct the "
                       "problem and import those rows again.", row=report.stopped_at,
                       last=report.imported_through)]
    else:
        lines = [_("%(bad)d of %(rows)d rows are not valid, so nothing was imported. Correct "
                   "them and import again, or import only the valid rows.",
                   bad=report.bad_rows, rows=report.rows)]
    for error in report.errors[:limit]:
        lines.append(_("Row %(row)s, %(column)s: %(reason)s", row=error["row"],
                       column=error["column"] or "—", reason=error["reason"]))
    if len(report.errors) > limit:
        lines.append(_("… and %(count)d more.", count=len(report.errors) - limit))
    return "\n".join(lines)


# --- stored uploads and the background task ------------------------------------------------


def uploads_folder(instance_path: str | Path) -> Path:
    folder = Path(instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_path(instance_path: str | Path, name: str) -> Path:
    """The stored upload called ``name``; the name must be one :func:`store_upload` made,
    so a job parameter can never point elsewhere on the disk."""
    if not isinstance(name, str) or not _UPLOAD_NAME.match(name):
        raise ValidationFailed(_("Not the name of a stored upload."),
                               {"upload": _("Not the name of a stored upload.")})
    return uploads_folder(instance_path) / name


def store_upload(instance_path: str | Path, data: bytes, filename: str) -> str:
    """Keep an upload for a background job under a new random name; return that name. Old
    uploads that were never imported are deleted on the way."""
    ext = extension_of(filename)
    if len(data) > MAX_BYTES:
        raise too_large_error()
    purge_stale_uploads(instance_path)
    name = f"{uuid.uuid4().hex}.{ext}"
    (uploads_folder(instance_path) / name).write_bytes(data)
    return name


def claim_upload(instance_path: str | Path, name: str) -> str:
    """Take a stored upload for one import by renaming it: a second click on "Import" finds
    it gone instead of importing the file twice."""
    source = upload_path(instance_path, name)
    new = f"{uuid.uuid4().hex}.{name.rsplit('.', 1)[1]}"
    try:
        source.rename(source.with_name(new))
    except FileNotFoundError:
        raise NotFound(_("The uploaded file is no longer available (it was imported already "
                         "or has expired). Upload it again.")) from None
    return new


def purge_stale_uploads(instance_path: str | Path, older_than: dt.timedelta = STALE_AFTER) -> int:
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for path in uploads_folder(instance_path).iterdir():
        try:
            if _UPLOAD_NAME.match(path.name) and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def run_import_task(ctx: Any, upload: str, dry_run: bool = False, only_valid: bool = False,
                    on_existing: str = "attach", rows: str = "customers", filename: str = "",
                    locale: str | None = None) -> dict[str, Any]:
    """The ``crm.import`` background task: import (or dry-run) a stored upload as the user
    who submitted the job, reporting progress every ~2 % of the rows.

    The report is written in the submitter's language (``locale``), since jobs run outside
    any request. Rows are written in committed batches (:data:`BATCH_ROWS`), so people keep
    working during a large import. An all-or-nothing import with bad rows fails the job
    with the bad rows in its message and writes nothing; one that stops part way fails it
    saying which rows were written. The upload is deleted after an import; a
    dry run keeps it for the import that may follow."""
    from carebiz.models import User

    path = upload_path(ctx.app.instance_path, upload)
    keep = False
    try:
        with force_locale(locale) if locale else nullcontext():
            user = ctx.session.get(User, ctx.user_id) if ctx.user_id else None
            if user is not None:
                ctx.session.info["actor"] = user
            try:
                table = read_path(path)
            except FileNotFoundError:
                raise NotFound(_("The uploaded file is no longer available. Upload it "
                                 "again.")) from None

            def progress(done: int, total: int, stage: str = "") -> None:
                if stage == "check":
                    ctx.progress(50 * done / total, _("Checking row %(done)d of %(total)d",
                                                      done=done, total=total))
                elif stage == "write":
                    ctx.progress(50 + 50 * done / total, _(
                        "Importing row %(done)d of %(total)d", done=done, total=total))
                else:
                    ctx.progress(100 * done / total,
                                 _("Row %(done)d of %(total)d", done=done, total=total))

            report = import_table(ctx.session, table,
                                  Options(on_existing, bool(only_valid), rows), user=user,
                                  dry_run=bool(dry_run), progress=progress,
                                  batch_rows=BATCH_ROWS)
            if not dry_run and not report.committed:
                raise ValidationFailed(failure_message(report))
            result = report.as_dict()
            result["filename"] = filename
            keep = bool(dry_run)
            return result
    finally:
        if not keep:
            path.unlink(missing_ok=True)
