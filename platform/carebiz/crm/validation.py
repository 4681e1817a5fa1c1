"""Check and normalise what a CRM record holds: phone numbers, e-mail addresses, Chinese
identity numbers (resident ID card, unified social credit code), VINs and licence plates.

Pure functions: no Flask app, request or database is needed (``flask_babel.gettext`` returns
the English text outside a request), so services, importers and the CLI share one set of rules.

Every validator returns the *normalised* value, the one form that is stored and compared, so
that "138 0013 8000" and "+86 138-0013-8000" are the same customer and "粤B·12345" finds
"粤B12345". On bad input it raises :class:`~carebiz.errors.ValidationFailed` whose message
says what is wrong and how to fix it, and whose ``errors`` maps the caller's field name to the
same text, so a form can show it next to the field and a service validating several fields
can merge the dictionaries. The ``*_search_key`` functions normalise typed search input the
same way but never raise: a lookup with a half-typed value should find nothing, not fail.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import NoReturn

import phonenumbers
from flask_babel import gettext as _
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import isdigits

from carebiz.errors import ValidationFailed

__all__ = [
    "CN_PROVINCES",
    "format_phone",
    "is_new_energy_plate",
    "normalize_email",
    "normalize_phone",
    "normalize_plate",
    "phone_search_key",
    "plate_search_key",
    "validate_cn_resident_id",
    "validate_id_number",
    "validate_uscc",
    "validate_vin",
    "vin_check_digit",
    "vin_search_key",
]


def _fail(field: str, reason: str) -> NoReturn:
    """Raise the one error shape of this module: the reason is both message and field error."""
    raise ValidationFailed(reason, {field: reason})


def _nfkc(raw: str | None) -> str:
    """Fold full-width characters to ASCII (Chinese input methods type "１３８" and "＠")."""
    return unicodedata.normalize("NFKC", raw or "")


_SPACES_AND_HYPHENS = re.compile(r"[\s\-]+")


def _compact(raw: str | None) -> str:
    """Upper-case without spaces and hyphens, the separators people put in codes."""
    return _SPACES_AND_HYPHENS.sub("", _nfkc(raw)).upper()


def _unique(chars: Iterable[str]) -> list[str]:
    """The characters in the order first seen, each once (for naming bad characters)."""
    return list(dict.fromkeys(chars))


# --- phone numbers -------------------------------------------------------------------------


def _parse_phone(raw: str | None, region: str) -> phonenumbers.PhoneNumber:
    """Parse without validating; raises :class:`NumberParseException`."""
    return phonenumbers.parse(_nfkc(raw).strip(), (region or "").upper() or None)


def normalize_phone(raw: str | None, region: str = "CN", field: str = "phones") -> str:
    """Return the number in E.164 (``+8613800138000``), the one form that is stored.

    Any common way of writing it is accepted: spaces, hyphens, brackets, a national trunk
    prefix (``010-65880000``), the ``00`` international prefix (``0086 138...``) or ``+``.
    Numbers without a country code are read as numbers of ``region``; numbers with one may
    belong to any country (a customer's foreign mobile is a real phone number). Numbers that
    cannot exist (wrong length, unassigned ranges) are rejected, as are extensions, which
    E.164 cannot hold and which would otherwise be dropped without anyone noticing.
    """
    region = (region or "").upper()
    text = _nfkc(raw).strip()
    if not text:
        _fail(field, _("Enter a phone number."))
    try:
        number = _parse_phone(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            _fail(field, _("“%(number)s” has no valid country code; start an international "
                           "number with + and the country code, e.g. +86.", number=text))
        if exc.error_type in (NumberParseException.TOO_SHORT_NSN,
                              NumberParseException.TOO_SHORT_AFTER_IDD):
            _fail(field, _("“%(number)s” is too short to be a phone number.", number=text))
        if exc.error_type == NumberParseException.TOO_LONG:
            _fail(field, _("“%(number)s” is too long to be a phone number.", number=text))
        _fail(field, _("“%(number)s” is not a phone number; enter digits, optionally starting "
                       "with + and the country code.", number=text))
    where = phonenumbers.region_code_for_country_code(number.country_code)
    if where in (None, phonenumbers.UNKNOWN_REGION):
        where = region
    if number.extension:
        _fail(field, _("Enter “%(number)s” without the extension; an extension cannot be "
                       "stored with the number.", number=text))
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == ValidationResult.TOO_SHORT:
        _fail(field, _("“%(number)s” is not a valid phone number for %(region)s: it has too "
                       "few digits. Landlines need their area code, e.g. 010 6588 0000.",
                       number=text, region=where))
    if possible == ValidationResult.TOO_LONG:
        _fail(field, _("“%(number)s” is not a valid phone number for %(region)s: it has too "
                       "many digits.", number=text, region=where))
    if not phonenumbers.is_valid_number(number):
        _fail(field, _("“%(number)s” is not a valid phone number for %(region)s; check the "
                       "digits, the area code of a landline and the country code of a foreign "
                       "number.", number=text, region=where))
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=8192)
def format_phone(e164: str | None, region: str = "CN") -> str:
    """Show a stored number the way people of ``region`` write it: national format for the
    region's own numbers (``138 0013 8000``, ``010 6588 0000``), international otherwise
    (``+1 415-555-2671``). Display must never break a page, so anything that does not parse
    is returned unchanged. Remembered per process: a list page shows a hundred numbers, and
    parsing one costs more than rendering its row."""
    if not e164:
        return ""
    try:
        number = _parse_phone(e164, region)
    except NumberParseException:
        return e164
    own = phonenumbers.region_code_for_number(number) == (region or "").upper()
    return phonenumbers.format_number(
        number, PhoneNumberFormat.NATIONAL if own else PhoneNumberFormat.INTERNATIONAL)


def phone_search_key(raw: str | None, region: str = "CN") -> str | None:
    """The E.164 form of a number typed into a search box, or None when it is not a complete
    valid number (partial input cannot be turned into a key that matches stored numbers
    exactly; callers fall back to a text search)."""
    try:
        return normalize_phone(raw, region)
    except ValidationFailed:
        return None


# --- e-mail --------------------------------------------------------------------------------

#: characters that need quoting in a local part; quoted local parts are legal but in practice
#: only ever typing mistakes, so they are refused
_EMAIL_LOCAL_FORBIDDEN = set('"(),:;<>@[\\]')
_EMAIL_MAX = 254  # RFC 5321: a path holds at most 256 octets including the angle brackets
_EMAIL_LOCAL_MAX = 64


def normalize_email(raw: str | None, field: str = "emails") -> str:
    """Return the address trimmed, with the domain lower-cased (domains are case-insensitive;
    the local part is left alone since its case may matter to the receiving server).

    A sensible syntax check without a dependency and without DNS: one ``@``, a local part
    and a domain with at least one dot, no spaces, at most 254 characters. Full-width
    ``＠`` and ``．`` typed with a Chinese input method are folded to ASCII. Internationalised
    domains (``例子.中国``) are accepted.
    """
    text = _nfkc(raw).strip()
    if not text:
        _fail(field, _("Enter an e-mail address."))
    if any(ch.isspace() for ch in text):
        _fail(field, _("“%(email)s” contains a space; an e-mail address has none.", email=text))
    if text.count("@") != 1:
        _fail(field, _("“%(email)s” is not an e-mail address: it needs exactly one @, as in "
                       "name@example.com.", email=text))
    if len(text) > _EMAIL_MAX:
        _fail(field, _("The e-mail address is too long: at most %(max)d characters.",
                       max=_EMAIL_MAX))
    local, domain = text.split("@")
    if not local:
        _fail(field, _("“%(email)s” is missing the name before the @.", email=text))
    if len(local) > _EMAIL_LOCAL_MAX:
        _fail(field, _("The part before the @ is too long: at most %(max)d characters.",
                       max=_EMAIL_LOCAL_MAX))
    if (local.startswith(".") or local.endswith(".") or ".." in local
            or any(ch in _EMAIL_LOCAL_FORBIDDEN or not ch.isprintable() for ch in local)):
        _fail(field, _("“%(email)s” has characters before the @ that an e-mail address cannot "
                       "have.", email=text))
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2:
        _fail(field, _("The domain of “%(email)s” needs a dot, as in example.com.", email=text))
    for label in labels:
        if (not label or len(label) > 63 or label.startswith("-") or label.endswith("-")
                or not all(ch.isalnum() or ch == "-" for ch in label)):
            _fail(field, _("The domain after the @ in “%(email)s” is not valid; check for "
                           "typing errors such as two dots in a row.", email=text))
    if isdigits(labels[-1]):
        _fail(field, _("The domain after the @ in “%(email)s” is not valid; it must end in a "
                       "name such as .com or .cn.", email=text))
    return f"{local}@{domain}"


# --- identity numbers ----------------------------------------------------------------------

#: ``id_kind`` values :func:`validate_id_number` knows
ID_KINDS = ("cn_resident", "cn_uscc", "passport", "other")


def validate_cn_resident_id(raw: str | None, field: str = "id_number",
                            today: date | None = None) -> str:
    """Check an 18-character Chinese resident identity card number (居民身份证号码) and return
    it compacted with a final ``X`` upper-cased.

    The checks run in the order that gives the most useful message: length, characters,
    birth date (digits 7–14; a date that does not exist or lies after ``today``), check digit
    (ISO 7064 MOD 11-2) and last the region code (stdnum's table of county codes valid at the
    birth year). The number itself is never echoed in a message: it is personal data.
    """
    number = _compact(raw)
    if not number:
        _fail(field, _("Enter the resident identity card number."))
    if len(number) != 18:
        if len(number) == 15 and isdigits(number):
            _fail(field, _("Enter the 18-character number of the second-generation card; "
                           "15-digit first-generation numbers are no longer valid."))
        _fail(field, _("A resident identity card number has 18 characters; %(count)d were "
                       "given.", count=len(number)))
    if not isdigits(number[:17]) or not (isdigits(number[17]) or number[17] == "X"):
        _fail(field, _("The resident identity card number has the wrong format: 17 digits "
                       "followed by a digit or X."))
    try:
        born = ric.get_birth_date(number)
    except StdnumError:
        born = None
    if born is None or born > (today or date.today()):
        _fail(field, _("The birth date in the resident identity card number (digits 7 to 14, "
                       "%(digits)s) is not a valid date.", digits=number[6:14]))
    expected = ric.calc_check_digit(number)
    if number[17] != expected:
        _fail(field, _("The check digit (last character) of the resident identity card number "
                       "is %(given)s but should be %(expected)s; check the number for a typing "
                       "error.", given=number[17], expected=expected))
    try:
        return ric.validate(number)
    except StdnumError:
        _fail(field, _("The first six digits of the resident identity card number (%(code)s) "
                       "are not a region code that was in use at the birth date.",
                       code=number[:6]))


#: GB 32100 characters of a unified social credit code: digits and letters without I O S V Z
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def validate_uscc(raw: str | None, field: str = "id_number") -> str:
    """Check a unified social credit code (统一社会信用代码) of a company or organisation and
    return it compacted and upper-cased: 18 characters, the first 8 digits, the rest digits
    or letters other than I, O, S, V and Z, the last a GB 32100 check character."""
    code = _compact(raw)
    if not code:
        _fail(field, _("Enter the unified social credit code."))
    if len(code) != 18:
        _fail(field, _("A unified social credit code has 18 characters; %(count)d were given.",
                       count=len(code)))
    if not isdigits(code[:8]):
        _fail(field, _("The first 8 characters of a unified social credit code are digits."))
    bad = _unique(ch for ch in code[8:] if ch not in _USCC_ALPHABET)
    if bad:
        _fail(field, _("The unified social credit code contains %(chars)s, which it cannot "
                       "have: only digits and letters other than I, O, S, V and Z are used.",
                       chars=", ".join(bad)))
    expected = uscc.calc_check_digit(code)
    if code[17] != expected:
        _fail(field, _("The check character (last character) of the unified social credit code "
                       "is %(given)s but should be %(expected)s; check the code for a typing "
                       "error.", given=code[17], expected=expected))
    try:
        return uscc.validate(code)
    except StdnumError:  # pragma: no cover - the checks above cover what stdnum checks
        _fail(field, _("The unified social credit code is not valid."))


def validate_id_number(kind: str, raw: str | None, field: str = "id_number",
                       kind_field: str = "id_kind") -> str:
    """Check an identity number by its kind: ``cn_resident`` (resident ID card), ``cn_uscc``
    (company credit code) or ``passport``/``other``. Passports and other documents follow no
    single rule worldwide, so they are only trimmed, upper-cased and limited to 3–40
    characters, enough to catch empty and runaway input without refusing a real document."""
    if kind == "cn_resident":
        return validate_cn_resident_id(raw, field)
    if kind == "cn_uscc":
        return validate_uscc(raw, field)
    if kind not in ("passport", "other"):
        _fail(kind_field, _("Choose the kind of identity document."))
    value = _nfkc(raw).strip().upper()
    if not 3 <= len(value) <= 40:
        _fail(field, _("An identity document number has 3 to 40 characters; %(count)d were "
                       "given.", count=len(value)))
    return value


# --- VINs ----------------------------------------------------------------------------------

#: ISO 3779 / 49 CFR 565 transliteration of letters to the values of the check digit sum
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The check digit (9th character) a 17-character VIN should have: the weighted sum of
    the transliterated characters modulo 11, with 10 written as ``X``. The 9th position has
    weight 0, so whatever stands there does not change the result.

    A helper, not a validator: it raises :class:`ValueError` for anything but 17 VIN
    characters."""
    vin = _compact(vin)
    if len(vin) != 17 or any(ch not in _VIN_VALUES for ch in vin):
        raise ValueError(f"not 17 VIN characters: {vin!r}")
    remainder = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def validate_vin(raw: str | None, check_digit: bool = True, field: str = "vin") -> str:
    """Return the VIN upper-cased without spaces and hyphens after checking it has 17
    characters, none of them I, O or Q (ISO 3779 leaves them out so they are not misread as
    1 and 0), and, with ``check_digit``, a correct 9th character.

    The check digit is mandatory for North America and for mainland China (GB 16735), so it
    is checked by default; European and some imported vehicles do not carry one, and callers
    pass ``check_digit=False`` for them.
    """
    vin = _compact(raw)
    if not vin:
        _fail(field, _("Enter the VIN."))
    if len(vin) != 17:
        _fail(field, _("A VIN has exactly 17 characters; %(count)d were given.", count=len(vin)))
    bad = _unique(ch for ch in vin if ch not in _VIN_VALUES)
    if bad:
        if all(ch in "IOQ" for ch in bad):
            _fail(field, _("The VIN contains %(chars)s, which VINs never use (I, O and Q are left "
                           "out so they are not taken for 1 and 0); check for a typing error.",
                           chars=", ".join(bad)))
        _fail(field, _("The VIN contains %(chars)s; a VIN has only digits and the letters A to "
                       "Z except I, O and Q.", chars=", ".join(bad)))
    if check_digit:
        expected = vin_check_digit(vin)
        if vin[8] != expected:
            _fail(field, _("The VIN's check digit (9th character) is %(given)s but should be "
                           "%(expected)s; check the VIN for a typing error.",
                           given=vin[8], expected=expected))
    return vin


def vin_search_key(raw: str | None) -> str:
    """A typed VIN, or part of one (people often search by the last 6 or 8 characters), in
    the stored form: upper-case, no spaces or hyphens. Never raises."""
    return _compact(raw)


# --- licence plates ------------------------------------------------------------------------

#: the abbreviations of the 31 mainland provinces, regions and municipalities that begin a plate
CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
#: final characters of special ordinary-length plates: trailer, learner, police, Hong Kong
#: and Macau cross-border, consulate, embassy
CN_SPECIAL_SUFFIXES = "挂学警港澳领使"
_CN_LETTER = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A–Z without I and O
_CN_NEV_SMALL = re.compile(r"[DF][A-HJ-NP-Z0-9][0-9]{4}")
_CN_NEV_LARGE = re.compile(r"[0-9]{5}[DF]")
_PLATE_SEPARATORS = re.compile(r"[\s.\-·•・‧]+")


def _compact_plate(raw: str | None) -> str:
    return _PLATE_SEPARATORS.sub("", _nfkc(raw)).upper()


def normalize_plate(raw: str | None, region: str = "CN", field: str = "plate") -> str:
    """Return the plate upper-cased without spaces, dots, hyphens or middle dots ("粤B·12345"
    is stored as "粤B12345").

    For ``region`` "CN" a mainland plate is checked; accepted are:

    * ordinary plates, 7 characters: a province abbreviation (京, 沪, 粤 …), the issuing
      authority's letter (A–Z without I and O), then 5 letters or digits without I and O
      (京A12345, 沪AB123C);
    * the same with the 7th character one of 挂 学 警 港 澳 领 使 for trailer, learner, police,
      cross-border and consular plates (川A1234学, 粤Z1234港);
    * new-energy plates, 8 characters: after province and letter either D or F, a letter or
      digit and 4 digits (small vehicles, 沪AD12345), or 5 digits and D or F (large vehicles,
      粤B12345D).

    Military, armed-police and embassy plates of other layouts are not accepted; record those
    vehicles with a different region. Other regions have too many formats to check, so their
    plates only need 2 to 12 letters or digits.
    """
    plate = _compact_plate(raw)
    if not plate:
        _fail(field, _("Enter the licence plate."))
    if (region or "").upper() != "CN":
        if not 2 <= len(plate) <= 12 or not plate.isalnum():
            _fail(field, _("“%(plate)s” is not a licence plate: enter 2 to 12 letters or digits.",
                           plate=plate))
        return plate
    if plate[0] not in CN_PROVINCES:
        _fail(field, _("“%(plate)s” is not a mainland plate: a mainland plate starts with a "
                       "province abbreviation such as 京 or 沪.", plate=plate))
    if len(plate) < 2 or plate[1] not in _CN_LETTER:
        _fail(field, _("“%(plate)s” is not a mainland plate: the second character is the "
                       "issuing authority's letter, A to Z without I and O.", plate=plate))
    rest = plate[2:]
    if len(rest) == 6:
        if not (_CN_NEV_SMALL.fullmatch(rest) or _CN_NEV_LARGE.fullmatch(rest)):
            _fail(field, _("“%(plate)s” is not a valid new-energy plate: after the province and "
                           "letter come D or F, a letter or digit and 4 digits (small vehicles, "
                           "e.g. 沪AD12345), or 5 digits and D or F (large vehicles, e.g. "
                           "粤B12345D).", plate=plate))
        return plate
    if len(rest) != 5:
        _fail(field, _("“%(plate)s” has %(count)d characters; a mainland plate has 7 (8 for "
                       "new-energy vehicles).", plate=plate, count=len(plate)))
    body = rest[:4] if rest[4] in CN_SPECIAL_SUFFIXES else rest
    if any(ch in "IO" for ch in body):
        _fail(field, _("“%(plate)s” contains the letter I or O, which plates do not use; did "
                       "you mean 1 or 0?", plate=plate))
    if not all(ch in _CN_LETTER or ch.isdigit() for ch in body):
        _fail(field, _("“%(plate)s” is not a valid mainland plate: after the province and letter "
                       "come 5 letters or digits, the last of which may be 挂, 学, 警, 港, 澳, "
                       "领 or 使.", plate=plate))
    return plate


def is_new_energy_plate(plate: str | None) -> bool:
    """Whether a plate is a mainland new-energy (green) plate, small or large; any input is
    normalised first and anything else, valid or not, gives False."""
    text = _compact_plate(plate)
    return (len(text) == 8 and text[0] in CN_PROVINCES and text[1] in _CN_LETTER
            and bool(_CN_NEV_SMALL.fullmatch(text[2:]) or _CN_NEV_LARGE.fullmatch(text[2:])))


def plate_search_key(raw: str | None) -> str:
    """A typed plate, or part of one, in the stored form: upper-case, no spaces, dots,
    hyphens or middle dots. Never raises."""
    return _compact_plate(raw)
