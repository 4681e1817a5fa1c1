"""The Simplified Chinese translation stays complete: every string the core marks today has a
translation with the same placeholders, the compiled catalogs match their sources, and pages
really come out in Chinese.

The core's catalog is ``platform/carebiz/translations/zh_Hans_CN`` (not ``zh_CN``: Babel reads
the code ``zh_CN`` as ``zh_Hans_CN`` and looks for catalogs under that name, see
``carebiz/i18n.py``). To fix a failure here: ``make babel-extract``, translate the new entries
of ``carebiz.po`` (no fuzzy, no empty ones), ``make babel-compile``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

from tests.conftest import login

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "platform" / "carebiz"
LOCALE = "zh_Hans_CN"
CORE_PO = CORE / "translations" / LOCALE / "LC_MESSAGES" / "carebiz.po"
#: what ``make babel-extract`` passes with -k on top of Babel's default keywords
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, "N_": None}
FIX = ("run `make babel-extract`, translate the new entries of {po} (no fuzzy, no empty "
       "msgstr), then `make babel-compile`")
#: printf-style placeholders, named (``%(name)s``) or positional (``%d``); ``%%`` is none
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def plugin_catalogs() -> list[Path]:
    """Every plugin's compiled-language catalog, in-tree plugins and examples alike."""
    patterns = ["plugins/*/translations", "plugins/*/*/translations",
                "examples/*/*/translations"]
    found = {po for pattern in patterns for folder in REPO.glob(pattern)
             for po in folder.glob(f"{LOCALE}/LC_MESSAGES/*.po")}
    return sorted(found)


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=LOCALE)


def core_msgids() -> dict[str, list[str]]:
    """Every message the core marks for translation today, with where it is (msgid of a
    plural: its singular), found with the method map of the repository's ``babel.cfg``."""
    with (REPO / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(CORE), method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def strings(message: Any) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text.replace("%%", "")))


def translated(catalog: Catalog) -> dict[Any, Any]:
    """msgid -> msgstr of what ``pybabel compile`` puts in the .mo (no fuzzy, no empty).
    Plural messages come as lists from a .mo and tuples from a .po: compare them as tuples."""

    def key(value: Any) -> Any:
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {key(m.id): key(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


# -- the core's catalog ---------------------------------------------------------------------


def test_core_strings_are_found() -> None:
    """Guards the test below: the extraction sees Python and templates, plain and lazy."""
    found = core_msgids()
    assert {"Log in", "Audit log", "Manage users"} <= set(found)
    assert any(where.startswith("web/templates/") for where in found["Log in"])
    assert len(found) > 100


def test_every_core_string_is_translated() -> None:
    assert CORE_PO.exists(), f"{relative(CORE_PO)} is missing: {FIX.format(po=relative(CORE_PO))}"
    catalog = read_catalog(CORE_PO)
    missing = []
    for msgid, where in sorted(core_msgids().items()):
        message = catalog.get(msgid)
        if message is None or message.fuzzy or not all(s.strip() for s in strings(message)):
            state = "missing" if message is None else "fuzzy" if message.fuzzy else "empty"
            missing.append(f"  {msgid!r} ({state}; {where[0]})")
    assert not missing, (f"{len(missing)} core message(s) without a Chinese translation in "
                         f"{relative(CORE_PO)}:\n" + "\n".join(missing)
                         + "\nTo fix: " + FIX.format(po=relative(CORE_PO)))


def test_translations_keep_the_placeholders() -> None:
    catalog = read_catalog(CORE_PO)
    wrong = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = set().union(*(placeholders(i) for i in ids))
        for text in strings(message):
            if text and placeholders(text) != expected:
                wrong.append(f"  {ids[0]!r} -> {text!r}: has {sorted(placeholders(text))}, "
                             f"needs {sorted(expected)}")
    assert not wrong, "translations whose placeholders differ from the msgid's:\n" + \
        "\n".join(wrong)


def test_the_catalog_holds_no_fuzzy_or_empty_entry() -> None:
    catalog = read_catalog(CORE_PO)
    bad = [m.id for m in catalog if m.id and (m.fuzzy or not all(strings(m)))]
    assert not bad, f"fuzzy or empty entries in {relative(CORE_PO)}: {bad}"


# -- compiled catalogs: the core's and every plugin's ----------------------------------------


@pytest.mark.parametrize("po", [CORE_PO, *plugin_catalogs()], ids=relative)
def test_compiled_catalog_matches_its_source(po: Path) -> None:
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{relative(mo)} is missing: run `pybabel compile` (`make babel-compile`)"
    with mo.open("rb") as fileobj:
        compiled = translated(read_mo(fileobj))
    source = translated(read_catalog(po))
    stale = sorted(str(k) for k in source.keys() | compiled.keys()
                   if source.get(k) != compiled.get(k))
    assert not stale, (f"{relative(mo)} is out of date with {relative(po)} for "
                       f"{len(stale)} message(s), e.g. {stale[:5]}: recompile it "
                       "(`make babel-compile` for the core, `pybabel compile -D <domain>` "
                       "for a plugin)")


def test_plugin_catalogs_are_discovered() -> None:
    """The example plugin ships a Chinese catalog, so the glob above must find it."""
    assert any("examples" in po.parts for po in plugin_catalogs())


# -- pages in Chinese -----------------------------------------------------------------------


ZH = {"Accept-Language": "zh-CN"}


def zh(msgid: str) -> str:
    text = read_catalog(CORE_PO)[msgid].string
    assert text and text != msgid
    return text


def test_login_page_in_chinese(app: Flask, seeded: dict[str, Any]) -> None:
    page = app.test_client().get("/login", headers=ZH)  # users exist: not the first-run page
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert f"<title>{zh('Log in')} · " in html
    assert f'type="submit">{zh("Log in")}</button>' in html
    assert zh("User name") in html and zh("Password") in html  # lazy form labels
    assert "Log in" not in html


def test_logged_in_pages_in_chinese(app: Flask, seeded: dict[str, Any]) -> None:
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    html = client.get("/admin/users", headers=ZH).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    menu = dict(re.findall(r'data-menu="([^"]+)">([^<]*)</a>', html))
    assert menu["admin.users"] == zh("Users")
    assert menu["admin.roles"] == zh("Roles")
    assert menu["admin.branches"] == zh("Branches")
    assert menu["admin.tokens"] == zh("API tokens")
    assert menu["admin.audit"] == zh("Audit log")
    for msgid in ("Administration", "Log out", "New user", "All branches", "Last login"):
        assert zh(msgid) in html, msgid
    assert zh("Administrator") in html  # a built-in role's label, translated from the code
    english = client.get("/admin/users", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert 'data-menu="admin.roles">Roles</a>' in english.get_data(as_text=True)
