"""The one text rule (``carebiz.text``): which characters are refused, how writers clean
them, and the guarded JSON loader."""

from __future__ import annotations

import json

import pytest

from carebiz.text import (
    MAX_JSON_DEPTH,
    JsonTooDeep,
    bad_text_in,
    load_json,
    may_hold_bad_text,
    printable,
    text_problem,
)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f",
                                  "\x85", "\x9f", "\ud800", "\udfff", "\ufffe"])
def test_refused_characters(char: str) -> None:
    assert text_problem(f"a{char}b") is not None


@pytest.mark.parametrize("value", ["tab\there", "line\nbreak\r\n", "王伟", "😀", "é", ""])
def test_ordinary_text_passes(value: str) -> None:
    assert text_problem(value) is None


def test_length_is_checked_after_characters() -> None:
    assert text_problem("x" * 11, 10) is not None
    assert text_problem("x" * 10, 10) is None


def test_printable_drops_or_breaks() -> None:
    assert printable("Wang\x01Wei") == "WangWei"
    assert printable("one\x0btwo\x0cthree\x85four") == "one\ntwo\nthree\nfour"
    assert printable("lone \ud800 surrogate") == "lone  surrogate"
    text = "nothing to do"
    assert printable(text) is text


def test_paths_of_bad_text() -> None:
    data = {"name": "ok", "where": {"and": [{"value": "a\x01"}, {"value": "fine"}]},
            "bad\x02key": 1, "tags": ["x", "\ud800"]}
    assert set(bad_text_in(data)) == {"where.and[0].value", "body", "tags[1]"}


def test_cheap_test_never_misses() -> None:
    for value in ["\x01", "\x7f", "\x85", "\ud800", "\ufffe"]:
        raw = json.dumps({"a": value})
        assert may_hold_bad_text(raw), raw
        raw = json.dumps({"a": value}, ensure_ascii=False) if value < "\ud800" else raw
        assert may_hold_bad_text(raw), raw
    assert not may_hold_bad_text(json.dumps({"a": "王伟 tab\t"}, ensure_ascii=False))


def test_load_json_depth() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert load_json(ok.encode()) is not None
    deeper = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(JsonTooDeep):
        load_json(deeper)
    with pytest.raises(JsonTooDeep):
        load_json("[" * 100_000 + "]" * 100_000)
    # brackets inside strings do not count
    assert load_json(json.dumps({"a": "[" * 1000})) == {"a": "[" * 1000}
    wide = json.dumps([[i] for i in range(10_000)])
    assert len(load_json(wide)) == 10_000
    with pytest.raises(json.JSONDecodeError):
        load_json(b"\xff\xfe not utf-8")
