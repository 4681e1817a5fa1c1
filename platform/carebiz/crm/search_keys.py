"""The derived search keys of customers, phones and vehicles: how a value is stored so that
what people remember of it ("the number ends in 2927", "A4W9XT" without the 沪, "建国",
"wjg") is one index range, not a scan.

Pure functions: the models compute them on every ORM write (validators), the migration
that introduced them backfills with them, and the benchmark generator writes them for its
bulk rows. A key that is not stored the same way everywhere finds nothing, so there is one
definition of each."""

from __future__ import annotations

import os
import re
import sys
import unicodedata

#: the abbreviations that begin a mainland plate (kept in step with validation.CN_PROVINCES)
_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_SEPARATORS = re.compile(r"[\s.\-·•・‧]+")
#: letters people misread or mistype on plates (mainland plates use neither I nor O)
_PLATE_FOLD = str.maketrans({"O": "0", "I": "1"})
_NOT_DIGIT = re.compile(r"\D+")
#: how long a phone tail and a middle run of a phone number must be to be searched: shorter
#: runs match too many numbers to be what someone remembers
PHONE_TAIL_MIN, PHONE_RUN_MIN = 4, 7
VIN_TAIL_MIN = 6


def _nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "")


def is_cjk(char: str) -> bool:
    """A Chinese character (the unified ideographs and their first extension)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


# --- phones ------------------------------------------------------------------------------------


def phone_digits(raw: str | None) -> str:
    """The digits of a typed number or part of one ('138 0013-2927' → '13800132927')."""
    return _NOT_DIGIT.sub("", _nfkc(raw))


def digits_reversed(e164: str | None) -> str | None:
    """A stored number's digits, last first: '+8613800132927' → '7292310083168'. A number's
    tail is then a prefix of this key, which an ordinary index serves."""
    digits = phone_digits(e164)
    return digits[::-1] if digits else None


# --- vehicles ----------------------------------------------------------------------------------


def plate_key(plate: str | None) -> str | None:
    """A plate without its province character and with O read as 0 and I as 1:
    '沪A·4W9XT', 'a4w9xt' and 'A4W9XT' share the key 'A4W9XT'; 'AO1234' is 'A01234'."""
    text = _PLATE_SEPARATORS.sub("", _nfkc(plate)).upper()
    if text[:1] in _PLATE_PROVINCES:
        text = text[1:]
    text = text.translate(_PLATE_FOLD)
    return text or None


def vin_reversed(vin: str | None) -> str | None:
    """A VIN last character first, so that its last 6 or 8 characters (what people read out)
    are a prefix an index serves."""
    text = _PLATE_SEPARATORS.sub("", _nfkc(vin)).upper()
    return text[::-1] or None


# --- names -------------------------------------------------------------------------------------


def name_key(name: str | None) -> str:
    """Case-folded, width-normalised, without spaces: 'Wang  Wei' and 'wangwei' and
    full-width 'ＷＡＮＧ' share a key, so prefix search forgives typing habits."""
    return "".join(_nfkc(name).casefold().split())


def name_parts(name: str | None) -> list[str]:
    """The keys a name is found by besides its start: the rest of the name from each later
    word ('Ava Thomas' → 'thomas') and, inside a run of Chinese characters, from each later
    character ('王建国' → '建国', '国'), so any part that people remember — a given name, a
    family name written last — is a prefix of one key. Distinct, in order, without the whole
    name's key (which :attr:`Party.name_key` holds)."""
    words = _nfkc(name).casefold().split()
    whole = "".join(words)
    starts: list[int] = []
    offset = 0
    for word in words:
        for k, char in enumerate(word):
            if k == 0 or (is_cjk(char) and is_cjk(word[k - 1])) or (
                    is_cjk(word[k - 1]) != is_cjk(char)):
                starts.append(offset + k)
        offset += len(word)
    parts = [whole[s:] for s in starts if s > 0]
    return list(dict.fromkeys(p for p in parts if p))


def name_initials(name: str | None) -> str | None:
    """The pinyin initials of the Chinese characters of a name ('王建国' → 'wjg'), for
    people who type them in a search box; None for a name without Chinese characters.
    Each character is read alone (its most common reading): names are not phrases."""
    chars = [c for c in _nfkc(name) if is_cjk(c)]
    if not chars:
        return None
    if "pypinyin" not in sys.modules:
        # pypinyin's documented switches: without its phrase dictionary (names are read
        # character by character here) and without copying its tables, the import holds
        # 8 MB instead of 52 MB (measured)
        os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
        os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
    from pypinyin import Style, lazy_pinyin  # imported on the first Chinese name only

    initials = "".join(lazy_pinyin(chars, style=Style.FIRST_LETTER, errors="ignore"))
    return initials.lower()[:40] or None
