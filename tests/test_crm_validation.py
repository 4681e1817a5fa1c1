"""The CRM's validators: what they accept, the one normalised form they return, and messages
that say which field is wrong and why. Pure functions, so no app or database is involved.

Identity numbers and VINs with check digits are built with the algorithms (stdnum's and
:func:`vin_check_digit`) instead of being copied from somewhere, so a test never depends on
someone's real document; the few literal VINs are the well-known textbook examples."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric, uscc

from carebiz.crm.validation import (
    format_phone,
    is_new_energy_plate,
    normalize_email,
    normalize_phone,
    normalize_plate,
    phone_search_key,
    plate_search_key,
    validate_cn_resident_id,
    validate_id_number,
    validate_uscc,
    validate_vin,
    vin_check_digit,
    vin_search_key,
)
from carebiz.errors import ValidationFailed


def ric_number(body: str) -> str:
    """A resident ID number with a correct check digit. stdnum's ``calc_check_digit``
    ignores the last character it is given (it expects the whole number), hence the "0"."""
    assert len(body) == 17
    return body + ric.calc_check_digit(body + "0")


def with_vin_check_digit(vin: str) -> str:
    return vin[:8] + vin_check_digit(vin) + vin[9:]


RIC_BEIJING = ric_number("11010119900307123")  # 北京市东城区, born 1990-03-07
RIC_WITH_X = "11010119900307109X"
USCC = "91110000600037341L"


def failure(excinfo: pytest.ExceptionInfo[ValidationFailed], field: str) -> str:
    """The reason given for ``field``, after checking it is the only field and the message."""
    exc = excinfo.value
    assert list(exc.errors) == [field]
    assert exc.message == exc.errors[field]
    assert exc.status == 422
    return exc.message


# --- phones ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("138 0013 8000", "CN", "+8613800138000"),
    ("13800138000", "CN", "+8613800138000"),
    ("+86 138-0013-8000", "CN", "+8613800138000"),
    ("+8613800138000", "CN", "+8613800138000"),
    ("0086 13800138000", "CN", "+8613800138000"),
    ("(+86) 138 0013 8000", "CN", "+8613800138000"),
    ("１３８００１３８０００", "CN", "+8613800138000"),  # full-width digits from an IME
    ("  199 0000 0000 ", "CN", "+8619900000000"),
    ("(010) 6588 0000", "CN", "+861065880000"),
    ("010-65880000", "CN", "+861065880000"),
    ("+86 10 6588 0000", "CN", "+861065880000"),
    ("021 6888 8888", "CN", "+862168888888"),
    ("0755-8888 8888", "CN", "+8675588888888"),
    ("400 810 8888", "CN", "+864008108888"),
    ("+1 415 555 2671", "CN", "+14155552671"),
    ("001 415 555 2671", "CN", "+14155552671"),
    ("+44 20 7946 0958", "CN", "+442079460958"),
    ("+852 2123 4567", "CN", "+85221234567"),
    ("(415) 555-2671", "US", "+14155552671"),
    ("415 555 2671", "us", "+14155552671"),
    ("+86 138 0013 8000", "US", "+8613800138000"),
    # without a country code a number belongs to the region: a landline in Dandong (0415)
    ("415 555 2671", "CN", "+864155552671"),
])
def test_normalize_phone_accepts_common_formats(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(("raw", "region", "reason"), [
    ("1380013800", "CN", "not a valid phone number for CN"),  # one digit short
    ("138001380001", "CN", "not a valid phone number for CN"),  # one digit too many
    ("6588 0000", "CN", "area code"),  # landline without area code
    ("12345", "CN", "not a valid phone number for CN"),
    ("95588", "CN", "not a valid phone number for CN"),  # a short service number
    ("+1 415 555 267", "CN", "not a valid phone number for US"),
    ("+44 20 7946", "CN", "not a valid phone number for GB"),
    ("65880000", "CN", "not a valid phone number for CN"),
    ("+86 13800138000 ext 12", "CN", "without the extension"),
    ("abc", "CN", "is not a phone number"),
    ("+0", "CN", "is not a phone number"),
    ("", "CN", "Enter a phone number"),
    ("   ", "CN", "Enter a phone number"),
])
def test_normalize_phone_rejects_invalid_numbers(raw: str, region: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        normalize_phone(raw, region)
    assert reason in failure(excinfo, "phones")


def test_normalize_phone_reports_under_the_given_field() -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        normalize_phone("12345", field="mobile")
    message = failure(excinfo, "mobile")
    assert "12345" in message and "CN" in message


def test_normalize_phone_accepts_none_as_empty() -> None:
    with pytest.raises(ValidationFailed, match="Enter a phone number"):
        normalize_phone(None)


@pytest.mark.parametrize(("e164", "region", "shown"), [
    ("+8613800138000", "CN", "138 0013 8000"),
    ("+861065880000", "CN", "010 6588 0000"),
    ("+862168888888", "CN", "021 6888 8888"),
    ("+14155552671", "CN", "+1 415-555-2671"),
    ("+442079460958", "CN", "+44 20 7946 0958"),
    ("+8613800138000", "US", "+86 138 0013 8000"),
    ("+14155552671", "US", "(415) 555-2671"),
    ("not a number", "CN", "not a number"),  # display never raises
    ("", "CN", ""),
    (None, "CN", ""),
])
def test_format_phone(e164: str | None, region: str, shown: str) -> None:
    assert format_phone(e164, region) == shown


def test_format_phone_round_trips() -> None:
    for raw in ("138 0013 8000", "010 6588 0000", "+1 415 555 2671"):
        assert normalize_phone(format_phone(normalize_phone(raw))) == normalize_phone(raw)


@pytest.mark.parametrize(("raw", "key"), [
    ("138-0013-8000", "+8613800138000"),
    ("+86 13800138000", "+8613800138000"),
    ("0086 138 0013 8000", "+8613800138000"),
    ("010 65880000", "+861065880000"),
    ("+1 (415) 555-2671", "+14155552671"),
    ("1380013", None),  # partial input
    ("8000", None),
    ("", None),
    (None, None),
    ("hello", None),
    ("+86 13800138000 ext 5", None),
])
def test_phone_search_key_never_raises(raw: str | None, key: str | None) -> None:
    assert phone_search_key(raw, "CN") == key


# --- e-mail ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("li.lei@example.com", "li.lei@example.com"),
    ("  Li.Lei@Example.COM ", "Li.Lei@example.com"),  # domain lower-cased, local part kept
    ("sales+leads@dealer.com.cn", "sales+leads@dealer.com.cn"),
    ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
    ("a_b-c@sub-domain.example.org", "a_b-c@sub-domain.example.org"),
    ("1234567@qq.com", "1234567@qq.com"),
    ("zhang＠163．com", "zhang@163.com"),  # full-width @ and dot typed with a Chinese IME
    ("用户@例子.中国", "用户@例子.中国"),
    ("x@" + "a" * 63 + ".com", "x@" + "a" * 63 + ".com"),
])
def test_normalize_email_accepts(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "Enter an e-mail address"),
    (None, "Enter an e-mail address"),
    ("li lei@example.com", "contains a space"),
    ("lilei@exa mple.com", "contains a space"),
    ("lilei.example.com", "exactly one @"),
    ("li@lei@example.com", "exactly one @"),
    ("@example.com", "missing the name before the @"),
    ("lilei@", "needs a dot"),
    ("lilei@localhost", "needs a dot"),
    ("lilei@example..com", "not valid"),
    ("lilei@.example.com", "not valid"),
    ("lilei@example.com.", "not valid"),
    ("lilei@-example.com", "not valid"),
    ("lilei@exa_mple.com", "not valid"),
    ("lilei@" + "a" * 64 + ".com", "not valid"),
    ("lilei@192.168.0.1", "must end in a name"),
    (".lilei@example.com", "before the @"),
    ("li..lei@example.com", "before the @"),
    ("lilei.@example.com", "before the @"),
    ("li<lei>@example.com", "before the @"),
    ("a" * 65 + "@example.com", "at most 64"),
    ("a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + "." + "e" * 10 + ".com",
     "at most 254"),
])
def test_normalize_email_rejects(raw: str | None, reason: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        normalize_email(raw)
    assert reason in failure(excinfo, "emails")


def test_normalize_email_reports_under_the_given_field() -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        normalize_email("nobody", field="contact_email")
    assert "nobody" in failure(excinfo, "contact_email")


# --- resident identity card ------------------------------------------------------------------

def test_fixtures_are_valid_by_stdnum() -> None:
    assert ric.is_valid(RIC_BEIJING)
    assert ric.is_valid(RIC_WITH_X)
    assert uscc.is_valid(USCC)


@pytest.mark.parametrize(("raw", "expected"), [
    (RIC_BEIJING, RIC_BEIJING),
    (f" {RIC_BEIJING} ", RIC_BEIJING),
    (f"{RIC_BEIJING[:6]} {RIC_BEIJING[6:14]} {RIC_BEIJING[14:]}", RIC_BEIJING),
    (RIC_WITH_X, RIC_WITH_X),
    (RIC_WITH_X.lower(), RIC_WITH_X),  # lower-case x is upper-cased
    (ric_number("44030519851201001"), ric_number("44030519851201001")),  # 深圳市福田区
])
def test_validate_cn_resident_id_accepts(raw: str, expected: str) -> None:
    assert validate_cn_resident_id(raw) == expected


def change_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "Enter the resident identity card number"),
    (RIC_BEIJING[:17], "18 characters; 17 were given"),
    (RIC_BEIJING + "1", "18 characters; 19 were given"),
    ("110101900307123", "15-digit first-generation"),
    ("1101011990030712A" + "3", "wrong format"),
    ("11010119900307123Y", "wrong format"),
    (ric_number("11010119901307123"), "birth date"),  # month 13
    (ric_number("11010119900230123"), "birth date"),  # 30 February
    (ric_number("11010129990307123"), "birth date"),  # born in 2999
    (change_check_digit(RIC_BEIJING), "check digit"),
    (RIC_BEIJING[:-1] + "X", "check digit"),
    (ric_number("99010119900307123"), "region code"),
])
def test_validate_cn_resident_id_rejects(raw: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        validate_cn_resident_id(raw)
    assert reason in failure(excinfo, "id_number")


def test_resident_id_check_digit_message_says_what_it_should_be() -> None:
    wrong = change_check_digit(RIC_BEIJING)
    with pytest.raises(ValidationFailed) as excinfo:
        validate_cn_resident_id(wrong, field="customer_id")
    message = failure(excinfo, "customer_id")
    assert f"is {wrong[17]} but should be {RIC_BEIJING[17]}" in message
    assert wrong not in message  # the number itself (personal data) is not echoed


def test_resident_id_birth_date_in_the_future_is_relative_to_today() -> None:
    number = ric_number("11010120300101123")
    assert validate_cn_resident_id(number, today=date(2031, 1, 1)) == number
    with pytest.raises(ValidationFailed, match="birth date"):
        validate_cn_resident_id(number, today=date(2029, 12, 31))


# --- unified social credit code --------------------------------------------------------------

USCC_BUILT = "91310000MA1FL0000" + uscc.calc_check_digit("91310000MA1FL0000")


@pytest.mark.parametrize(("raw", "expected"), [
    (USCC, USCC),
    (USCC.lower(), USCC),
    ("9111 0000 6000 3734 1L", USCC),
    ("91110000-600037341L", USCC),
    (USCC_BUILT, USCC_BUILT),
])
def test_validate_uscc_accepts(raw: str, expected: str) -> None:
    assert validate_uscc(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "Enter the unified social credit code"),
    (USCC[:-1], "18 characters; 17 were given"),
    ("A1110000600037341L", "first 8 characters"),
    ("9111000060003734IL", "contains I"),
    ("911100006000373S1L", "contains S"),
    ("91110000600037341A", "is A but should be L"),
])
def test_validate_uscc_rejects(raw: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        validate_uscc(raw, field="credit_code")
    assert reason in failure(excinfo, "credit_code")


# --- identity number by kind -----------------------------------------------------------------

@pytest.mark.parametrize(("kind", "raw", "expected"), [
    ("cn_resident", RIC_WITH_X.lower(), RIC_WITH_X),
    ("cn_uscc", USCC.lower(), USCC),
    ("passport", " e12345678 ", "E12345678"),
    ("passport", "ab1", "AB1"),
    ("other", "hk-a123456(7)", "HK-A123456(7)"),
    ("other", "x" * 40, "X" * 40),
])
def test_validate_id_number_dispatches_on_kind(kind: str, raw: str, expected: str) -> None:
    assert validate_id_number(kind, raw) == expected


@pytest.mark.parametrize(("kind", "raw", "field", "reason"), [
    ("cn_resident", RIC_BEIJING[:17], "id_number", "18 characters"),
    ("cn_uscc", "91110000600037341A", "id_number", "should be L"),
    ("passport", "E1", "id_number", "3 to 40 characters; 2 were given"),
    ("passport", "   ", "id_number", "0 were given"),
    ("other", "x" * 41, "id_number", "41 were given"),
    ("driving_licence", "12345", "id_kind", "kind of identity document"),
    ("", "12345", "id_kind", "kind of identity document"),
])
def test_validate_id_number_rejects(kind: str, raw: str, field: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        validate_id_number(kind, raw)
    assert reason in failure(excinfo, field)


# --- VINs -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("vin", "digit"), [
    ("1M8GDM9AXKP042788", "X"),  # the textbook example: remainder 10 is written X
    ("11111111111111111", "1"),
    ("1HGCM82633A004352", "3"),
    ("JH4KA7561PC008269", "1"),
    ("1M8GDM9A0KP042788", "X"),  # the 9th position has weight 0
])
def test_vin_check_digit(vin: str, digit: str) -> None:
    assert vin_check_digit(vin) == digit


@pytest.mark.parametrize("vin", ["", "1M8GDM9AXKP04278", "1M8GDM9AXKP04278O"])
def test_vin_check_digit_needs_17_vin_characters(vin: str) -> None:
    with pytest.raises(ValueError):
        vin_check_digit(vin)


@pytest.mark.parametrize("body", [
    "LSVAB4BR0EN000001", "LFV2A21K0G3000001", "WVWZZZ1JZ0W000001", "5YJSA1E20HF000001",
    "JTDKB20U007000001", "LGXCE4CB0N0000001",
])
def test_vin_built_with_check_digit_passes_and_any_change_fails(body: str) -> None:
    vin = with_vin_check_digit(body)
    assert validate_vin(vin) == vin
    for i in (0, 5, 10, 16):
        changed = vin[:i] + ("7" if vin[i] != "7" else "8") + vin[i + 1:]
        with pytest.raises(ValidationFailed, match="check digit"):
            validate_vin(changed)
        assert validate_vin(changed, check_digit=False) == changed


@pytest.mark.parametrize(("raw", "expected"), [
    ("1M8GDM9AXKP042788", "1M8GDM9AXKP042788"),
    ("1m8gdm9axkp042788", "1M8GDM9AXKP042788"),
    (" 1M8 GDM9AX KP042788 ", "1M8GDM9AXKP042788"),
    ("1M8-GDM9AX-KP042788", "1M8GDM9AXKP042788"),
    ("１M８GDM9AXKP042788", "1M8GDM9AXKP042788"),  # full-width digits
    ("11111111111111111", "11111111111111111"),
    ("1HGCM82633A004352", "1HGCM82633A004352"),
])
def test_validate_vin_accepts(raw: str, expected: str) -> None:
    assert validate_vin(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "Enter the VIN"),
    (None, "Enter the VIN"),
    ("1M8GDM9AXKP04278", "exactly 17 characters; 16 were given"),
    ("1M8GDM9AXKP0427888", "exactly 17 characters; 18 were given"),
    ("1M8", "3 were given"),
    ("1M8GDM9AXKPO42788", "contains O, which VINs never use"),
    ("IM8GDM9AXKPQ42788", "contains I, Q, which VINs never use"),
    ("1M8GDM9AXKP04278*", "contains *; a VIN has only digits"),
    ("1M8GDM9AXKP04278Ä", "contains Ä"),
    ("1M8GDM9AXKP042789", "(9th character) is X but should be 1"),
    ("11111111211111111", "(9th character) is 2 but should be 1"),
])
def test_validate_vin_rejects(raw: str | None, reason: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        validate_vin(raw)
    assert reason in failure(excinfo, "vin")


def test_wrong_vin_check_digit_message_is_actionable() -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        validate_vin("1M8GDM9A5KP042788", field="chassis")
    assert failure(excinfo, "chassis") == (
        "The VIN's check digit (9th character) is 5 but should be X; "
        "check the VIN for a typing error.")


def test_validate_vin_without_check_digit_still_checks_length_and_letters() -> None:
    assert validate_vin("WVWZZZ1JZXW000001", check_digit=False) == "WVWZZZ1JZXW000001"
    with pytest.raises(ValidationFailed, match="16 were given"):
        validate_vin("WVWZZZ1JZXW00000", check_digit=False)
    with pytest.raises(ValidationFailed, match="contains O"):
        validate_vin("WVWZZZ1JZXW00000O", check_digit=False)


@pytest.mark.parametrize(("raw", "key"), [
    (" 1m8-gdm9axkp042788 ", "1M8GDM9AXKP042788"),
    ("p042788", "P042788"),  # a partial VIN, as searched by its last characters
    ("IOQ", "IOQ"),
    ("", ""),
    (None, ""),
])
def test_vin_search_key_never_raises(raw: str | None, key: str) -> None:
    assert vin_search_key(raw) == key


# --- plates ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("京A12345", "京A12345"),
    ("京a12345", "京A12345"),
    ("粤B·12345", "粤B12345"),
    ("粤B 12345", "粤B12345"),
    ("沪A-C1234", "沪AC1234"),
    ("浙A.8B88Z", "浙A8B88Z"),
    ("苏E•ABC12", "苏EABC12"),
    ("川Ａ１２３４５", "川A12345"),  # full-width letters and digits
    ("沪AD12345", "沪AD12345"),  # new-energy, small: D then 5
    ("沪AF12345", "沪AF12345"),  # new-energy, small: F then 5 digits
    ("京AFA1234", "京AFA1234"),  # new-energy, small: F, letter, 4 digits
    ("粤B12345D", "粤B12345D"),  # new-energy, large: 5 digits then D
    ("粤B 12345F", "粤B12345F"),
    ("川A1234学", "川A1234学"),
    ("鲁B1234挂", "鲁B1234挂"),
    ("京A0001警", "京A0001警"),
    ("粤Z1234港", "粤Z1234港"),
    ("粤Z1234澳", "粤Z1234澳"),
    ("沪A1234领", "沪A1234领"),
    ("京A1234使", "京A1234使"),
    ("藏A12345", "藏A12345"),
    ("琼B12345", "琼B12345"),
])
def test_normalize_plate_accepts_mainland_plates(raw: str, expected: str) -> None:
    assert normalize_plate(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "Enter the licence plate"),
    (" · ", "Enter the licence plate"),
    ("12345", "starts with a province abbreviation such as 京 or 沪"),
    ("A12345", "province abbreviation"),
    ("港A12345", "province abbreviation"),
    ("京", "second character is the issuing authority's letter"),
    ("京112345", "issuing authority's letter"),
    ("京I12345", "without I and O"),
    ("京O12345", "without I and O"),
    ("京AI2345", "letter I or O"),
    ("京A1234O", "letter I or O"),
    ("京A1234", "has 6 characters; a mainland plate has 7"),
    ("京A123456789", "has 11 characters"),
    ("京A1234*", "5 letters or digits"),
    ("京A123学4", "5 letters or digits"),
    ("京A12学45", "5 letters or digits"),
    ("沪AD1234X", "not a valid new-energy plate"),  # small: last 4 must be digits
    ("沪AF1A234", "new-energy"),  # small: only the 2nd may be a letter
    ("沪AA12345", "new-energy"),  # D or F missing
    ("沪ADI2345", "new-energy"),  # letter I after D
    ("粤B1234DD", "new-energy"),
    ("粤B12345A", "new-energy"),  # large: must end in D or F
    ("粤B1234学5", "new-energy"),
])
def test_normalize_plate_rejects_invalid_mainland_plates(raw: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        normalize_plate(raw)
    assert reason in failure(excinfo, "plate")


def test_plate_message_uses_the_given_field_and_shows_the_plate() -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        normalize_plate("京·AI2345", field="plate_number")
    assert "京AI2345" in failure(excinfo, "plate_number")


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("B-MW 1234", "DE", "BMW1234"),
    ("ab 12 cde", "GB", "AB12CDE"),
    ("7ABC123", "us", "7ABC123"),
    ("ab", "HK", "AB"),
    ("KF 1234", "HK", "KF1234"),
    ("京A12345", "DE", "京A12345"),  # not checked as mainland outside CN
])
def test_normalize_plate_other_regions_only_normalises(raw: str, region: str,
                                                       expected: str) -> None:
    assert normalize_plate(raw, region) == expected


@pytest.mark.parametrize(("raw", "region"), [
    ("A", "DE"), ("ABCDEFGHIJKLM", "GB"), ("AB*12", "US"), ("", "DE"),
])
def test_normalize_plate_other_regions_rejects(raw: str, region: str) -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        normalize_plate(raw, region)
    failure(excinfo, "plate")


@pytest.mark.parametrize(("plate", "nev"), [
    ("沪AD12345", True),
    ("沪AF12345", True),
    ("京AFA1234", True),
    ("粤B12345D", True),
    ("粤B·12345F", True),
    ("粤b12345d", True),
    ("京A12345", False),
    ("川A1234学", False),
    ("沪AA12345", False),
    ("粤B1234DD", False),
    ("ZZ123456", False),
    ("", False),
    (None, False),
])
def test_is_new_energy_plate(plate: str | None, nev: bool) -> None:
    assert is_new_energy_plate(plate) is nev


@pytest.mark.parametrize(("raw", "key"), [
    ("粤b·12345", "粤B12345"),
    (" 京 A-123.45 ", "京A12345"),
    ("a123", "A123"),  # partial input
    ("?!", "?!"),
    ("", ""),
    (None, ""),
])
def test_plate_search_key_never_raises(raw: str | None, key: str) -> None:
    assert plate_search_key(raw) == key


def test_search_keys_match_stored_forms() -> None:
    assert plate_search_key("粤B·12345") == normalize_plate("粤b 12345")
    assert vin_search_key("1m8 gdm9ax kp042788") == validate_vin("1M8-GDM9AX-KP042788")
    assert phone_search_key("0086-138-0013-8000", "CN") == normalize_phone("138 0013 8000")


def test_the_testing_vins_are_valid_and_one_per_serial() -> None:
    """``carebiz.testing.valid_vin`` once cut the serial's last digit (71 and 72 collided)."""
    from carebiz.crm.validation import vin_check_digit
    from carebiz.testing import valid_vin

    vins = [valid_vin(serial) for serial in range(5000)]
    assert len(set(vins)) == 5000
    assert all(len(v) == 17 and vin_check_digit(v) == v[8] for v in vins)
    assert valid_vin(123456).endswith("123456")
    with pytest.raises(ValueError):
        valid_vin(1_000_000)
