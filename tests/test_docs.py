"""The docs keep up with the code: every hook, value type and signal a plugin author can use
is in ``docs/plugin-guide.md`` (the way Datasette's ``test_plugin_hooks_are_documented``
holds its hook docs to its hook specs), and ``docs/architecture.md`` covers every core area.

A new public module of the platform gets documented by adding one line to
:data:`DOCUMENTED`; its classes then need a row in a table of the guide naming each field,
its functions a mention in code.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, is_typeddict

import pytest

from carebiz import hookspecs
from carebiz.plugins.defaults import DEFAULT_PLUGINS
from carebiz.signals import CORE_SIGNAL_MODULES, SignalSpec, declared

DOCS = Path(__file__).resolve().parents[1] / "docs"
GUIDE = (DOCS / "plugin-guide.md").read_text(encoding="utf-8")
ARCHITECTURE = (DOCS / "architecture.md").read_text(encoding="utf-8")

#: (module, names) whose every name the guide documents; ``None`` stands for the module's
#: ``__all__``, or every public class it defines when it has none. One line per module.
DOCUMENTED: list[tuple[str, tuple[str, ...] | None]] = [
    ("carebiz.contributions", None),
    ("carebiz.export.table", ("Table", "Column")),
    ("carebiz.plugins", ("PluginManifest",)),
    ("carebiz.plugins.capabilities", ("Capability",)),
    ("carebiz.testing", None),
    ("carebiz.toolkit", None),
    ("carebiz.lists", None),
    ("carebiz.notify", None),
    ("carebiz.testing.plugin", ("make_app", "app", "session", "seeded", "client_for",
                                "admin_client", "api_client", "fake_dists")),
]

HOOKS = {name: spec for name, spec in vars(hookspecs).items()
         if hasattr(spec, f"{hookspecs.PROJECT}_spec")}


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of its level
    or above."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    assert heading in lines, f"the docs lost the heading {heading!r}"
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if re.match(rf"#{{1,{level}}} ", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def _rows(text: str) -> dict[str, str]:
    """Table rows by their first cell's backticked name (`` | `MenuItem` | … ``)."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `([^`]+)` \|", line)
        if match:
            rows.setdefault(match.group(1), line)
    return rows


def _code(text: str) -> str:
    """Everything written as code: fenced blocks and inline spans."""
    block = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.M | re.S)
    prose = block.sub("", text)
    return "\n".join([*block.findall(text), *re.findall(r"`([^`]+)`", prose)])


def _parameters(function: Any) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values()
            if p.name != "self"]


# -- hooks -----------------------------------------------------------------------------------
REFERENCE = _rows(_section(GUIDE, "### Hook reference"))


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_in_the_reference_with_its_arguments(name: str) -> None:
    row = REFERENCE.get(name)
    assert row is not None, f"the guide's hook reference has no row for `{name}`"
    cell = re.split(r"(?<!\\)\|", row)[2]  # a cell may hold an escaped \| (``A \| B``)
    documented = [span.split(":")[0].strip() for span in re.findall(r"`([^`]+)`", cell)]
    assert documented == _parameters(HOOKS[name]), (
        f"`{name}`: the guide says ({', '.join(documented)}), the spec "
        f"({', '.join(_parameters(HOOKS[name]))})")


def _hook_mentions() -> Iterator[tuple[str, list[str]]]:
    """Every ``hook(arg, …)`` written as code in the guide, with the arguments it names."""
    calls = re.compile(rf"(?<![\w.])({'|'.join(HOOKS)})\(([^()]*)\)")
    for name, arguments in calls.findall(_code(GUIDE)):
        names = [re.split(r"[:=]", arg)[0].strip().lstrip("*")
                 for arg in arguments.split(",") if arg.strip()]
        yield name, [n for n in names if n and n not in ("/", "...")]


def test_every_hook_written_in_the_guide_takes_arguments_of_its_spec() -> None:
    """An implementation may take any of its spec's arguments, in the spec's order; an
    example taking one the host does not pass would fail at start-up."""
    mentions = list(_hook_mentions())
    assert len(mentions) > 5
    wrong = []
    for name, arguments in mentions:
        spec = _parameters(HOOKS[name])
        if not set(arguments) <= set(spec) or arguments != [a for a in spec if a in arguments]:
            wrong.append(f"{name}({', '.join(arguments)}) does not fit {name}({', '.join(spec)})")
    assert wrong == []


# -- value types and other public names ------------------------------------------------------
def _documented_names() -> list[tuple[str, str]]:
    pairs = []
    for path, names in DOCUMENTED:
        module = importlib.import_module(path)
        if names is None:
            names = tuple(getattr(module, "__all__", ())) or tuple(
                name for name, obj in vars(module).items()
                if inspect.isclass(obj) and obj.__module__ == path and not name.startswith("_"))
        pairs.extend((path, name) for name in names)
    return pairs


def _fields(cls: type) -> list[str]:
    """What a reader of a value type must be told: a dataclass's fields, a typed dict's keys,
    the parameters of a callable protocol."""
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    if is_typeddict(cls):
        return list(cls.__annotations__)
    if "__call__" in vars(cls):
        return _parameters(vars(cls)["__call__"])
    return []


@pytest.mark.parametrize(("path", "name"), _documented_names())
def test_every_public_name_is_documented(path: str, name: str) -> None:
    obj = getattr(importlib.import_module(path), name)
    if not inspect.isclass(obj):
        named = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", _code(GUIDE)) is not None
        assert named, f"docs/plugin-guide.md never names {path}.{name}"
        return
    row = _rows(GUIDE).get(name)
    assert row is not None, f"docs/plugin-guide.md has no table row for {path}.{name}"
    missing = [field for field in _fields(obj) if f"`{field}`" not in row]
    assert missing == [], f"{name}: fields {missing} not in its row of the guide"


# -- signals ---------------------------------------------------------------------------------
CORE_SIGNALS = [spec for spec in declared() if spec.module in CORE_SIGNAL_MODULES]


@pytest.mark.parametrize("spec", CORE_SIGNALS, ids=lambda spec: spec.name)
def test_every_core_signal_is_listed_with_its_arguments(spec: SignalSpec) -> None:
    row = _rows(_section(GUIDE, "### Signals")).get(spec.name)
    assert row is not None, f"docs/plugin-guide.md lacks the signal {spec.name}"
    missing = [arg for arg in spec.arguments if f"`{arg}`" not in row]
    assert missing == [], f"{spec.name}: arguments {missing} not in the guide"
    module = importlib.import_module(spec.module)
    attribute = next(name for name, value in vars(module).items() if value is spec.signal)
    assert f"`from {spec.module} import {attribute}`" in row, \
        f"{spec.name}: the guide does not say how to import it ({attribute})"


# -- the guide reads as one document ---------------------------------------------------------
def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces dashed."""
    text = re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower())
    return text.replace(" ", "-")


def test_sections_are_numbered_in_order_and_links_lead_to_them() -> None:
    numbers = [int(n) for n in re.findall(r"^## (\d+)\. ", GUIDE, flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert not re.search(r"\bsection \d+", GUIDE), "refer to sections by link, not number"
    anchors = {_anchor(line) for line in GUIDE.splitlines() if line.startswith("#")}
    broken = sorted(set(re.findall(r"\]\(#([^)]+)\)", GUIDE)) - anchors)
    assert broken == []


def _resolves(dotted: str) -> bool:
    """Whether ``carebiz.a.b.c`` names a module or an attribute of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def test_every_platform_name_the_guide_writes_exists() -> None:
    """A renamed or moved function must not leave the guide pointing at nothing."""
    written = set(re.findall(r"(?<![\w./])(carebiz(?:_plugins)?(?:\.\w+)+)", _code(GUIDE)))
    files = {name for name in written if name.endswith((".toml", ".py"))}
    assert len(written - files) > 20
    assert sorted(name for name in written - files if not _resolves(name)) == []


def test_no_leftovers_of_the_core_before_it_was_built_like_its_plugins() -> None:
    for page, text in (("plugin-guide.md", GUIDE), ("architecture.md", ARCHITECTURE)):
        for stale in ("crm plugin", "core_plugin.py"):
            assert stale not in text.lower(), f"docs/{page} still mentions {stale!r}"


# -- architecture ----------------------------------------------------------------------------
def test_the_architecture_page_has_a_section_per_core_area_and_the_request_flow() -> None:
    areas = _section(ARCHITECTURE, "## The core's areas and their default plugins")
    headings = [line[4:].lower() for line in areas.splitlines() if line.startswith("### ")]
    for path in DEFAULT_PLUGINS:
        area = path.split(".")[1]
        assert any(h.startswith(area) for h in headings), f"docs/architecture.md: no {area}"
    assert "## The data flow of a request" in ARCHITECTURE.splitlines()
