"""A pipeline stage's name in two languages: English (``en``) and Simplified Chinese
(``zh_Hans``).

A dealer group in China shows one board to readers of both languages, so a configured
stage keeps a name per language and each reader sees theirs; when one is empty the other
one is shown (a name in the other language says more than a code), and a built-in code
with neither keeps its translated built-in name. Which language a single name is in (an
older API client's ``label``, a name saved before stages had two) is told by its script:
a name with Chinese characters is Chinese, any other is English — the two languages this
platform ships, and the rule the migration ``sales_0004`` applied to existing names.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import force_locale, get_locale

EN, ZH = "en", "zh_Hans"
#: the languages a stage has a name in, as the API spells them
LANGUAGES = (EN, ZH)
#: the flask-babel locale each language is read in
LOCALES = {EN: "en", ZH: "zh_Hans_CN"}
#: longest name per language (the column's length)
MAX_NAME = 80

# CJK unified ideographs (with extension A and the compatibility block): what makes a
# name Chinese; kana and hangul are not shipped languages and read as "not Chinese"
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def clean(value: Any) -> str:
    """A name as stored: inner whitespace folded to one space, at most :data:`MAX_NAME`."""
    return " ".join(str(value or "").split())[:MAX_NAME]


def language_of(name: str) -> str:
    """The language a single name is in: :data:`ZH` when it has a Chinese character, else
    :data:`EN`."""
    return ZH if _HAN.search(name or "") else EN


def reader_language() -> str:
    """The language of the current reader (flask-babel's locale; English outside a request
    or app, as the platform's default)."""
    try:
        locale = get_locale()
    except (RuntimeError, KeyError):  # no app context, or no babel on this app
        return EN
    return ZH if locale is not None and locale.language == "zh" else EN


def pick(names: dict[str, str], builtin: Any = None, code: str = "") -> str:
    """What the current reader sees: the name in their language, else the other
    language's, else the built-in label (a lazy string, translated now), else the code."""
    mine = reader_language()
    for language in (mine, *(lang for lang in LANGUAGES if lang != mine)):
        if names.get(language):
            return names[language]
    return str(builtin) if builtin is not None else code


def in_each_language(label: Any) -> dict[str, str]:
    """A translatable label (a built-in stage's) as each language's reader sees it."""
    out = {}
    for language in LANGUAGES:
        with force_locale(LOCALES[language]):
            out[language] = str(label)
    return out
