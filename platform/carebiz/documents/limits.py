"""Bounds on what a company's own template may cost: time, loop iterations, and the size of
every text, list and number it makes — so a template cannot hang a worker or fill its memory
(a nested ``range`` loop, ``'x' * 50000000``, a string doubled forty times).

Jinja's sandbox guards attribute access, not cost. :class:`LimitedSandbox` adds the cost
checks where a template can spend:

- every ``{% for %}`` iterates through :meth:`LimitedSandbox.guard_iter` (a code generator
  that wraps each loop's iterable), and every call — macros too — counts a step; steps are
  bounded (:data:`MAX_STEPS`) and so is the wall-clock time (:data:`MAX_SECONDS`, checked on
  every step);
- ``*``, ``**``, ``+`` and ``%`` are intercepted: a repetition or a power whose result would
  be too big is refused *before* it is computed, as are ``%``/``str.format`` widths;
- ``~``, the buffers of blocks and macros (``concat``), filters (widths of ``center``,
  ``indent``, ``replace`` …) and calls of text methods (``ljust``, ``replace``, ``join`` …)
  are checked the same way;
- the output is counted while it is produced (:data:`MAX_OUTPUT`).

Breaking a bound raises :class:`TemplateLimitError` with a translated reason; saving refuses
such a template (422) and printing answers the same reason instead of hanging.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jinja2
from flask_babel import gettext as _
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

#: loop iterations and calls of one rendering (a long statement needs some ten thousand)
MAX_STEPS = 1_000_000
#: seconds one rendering may take
MAX_SECONDS = 10.0
#: characters of any one text and items of any one list a template makes
MAX_TEXT = 10_000_000
MAX_ITEMS = 1_000_000
#: characters a rendering may output
MAX_OUTPUT = 10_000_000
#: bits of an integer (about 1,200 decimal digits)
MAX_INT_BITS = 4096
#: widths and counts given to filters that lay text out (center, indent, batch …)
MAX_WIDTH = 10_000

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


class TemplateLimitError(jinja2.TemplateRuntimeError):
    """A template went beyond one of the bounds; the message says which (translated)."""


def _too_long() -> TemplateLimitError:
    return TemplateLimitError(
        _("it makes a text or list too long (more than %(n)s characters or items)",
          n=f"{MAX_TEXT:,}"))


def need(size: int) -> None:
    """Refuse an operation whose result would hold ``size`` characters or items."""
    if size > MAX_TEXT:
        raise _too_long()


def checked(value: Any) -> Any:
    """``value`` when it is within the bounds (texts, lists, integers), else the error."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise _too_long()
    elif isinstance(value, list | tuple | dict | set | frozenset):
        if len(value) > MAX_ITEMS:
            raise _too_long()
    elif isinstance(value, int) and not isinstance(value, bool) \
            and value.bit_length() > MAX_INT_BITS:
        raise _too_large()
    return value


def _too_large() -> TemplateLimitError:
    return TemplateLimitError(_("it makes a number too large (more than %(n)s digits)",
                                n=f"{MAX_INT_BITS * 30103 // 100000:,}"))


def check_percent_format(text: Any) -> None:
    """``'%100000000d' % 1`` would make a text of that width: refuse widths and precisions
    beyond :data:`MAX_TEXT` and ``*`` (a width taken from the arguments)."""
    if not isinstance(text, str) or "%" not in text:
        return
    for match in _PERCENT_SPEC.finditer(text):
        for part in match.groups():
            if part == "*" or (part and int(part) > MAX_TEXT):
                raise _too_long()


def check_brace_format(text: str) -> None:
    """The same for ``'{:>100000000}'.format(1)``; a width from the arguments (``{:{w}}``)
    is refused."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return  # format() itself reports the mistake
    for _literal, _field, spec, _conversion in parsed:
        if not spec:
            continue
        if "{" in spec:
            raise _too_long()
        if any(int(number) > MAX_TEXT for number in _NUMBER.findall(spec)):
            raise _too_long()


def _int_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str,
             default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _width(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return value if isinstance(value, int) else 0


def check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a filter call whose result would be too big, before it runs (``args`` are the
    filter's arguments after the value)."""
    text = str(value) if isinstance(value, str) else None
    if name == "center":
        need(_width(_int_arg(args, kwargs, 0, "width", 80)))
    elif name == "indent" and text is not None:
        width = _width(_int_arg(args, kwargs, 0, "width", 4))
        need(len(text) + (text.count("\n") + 1) * width)
    elif name == "wordwrap" and text is not None:
        width = max(_width(_int_arg(args, kwargs, 0, "width", 79)), 1)
        wrap = _int_arg(args, kwargs, 2, "wrapstring", None) or "\n"
        need(len(text) + (len(text) // width + text.count("\n") + 1) * len(str(wrap)))
    elif name == "replace" and text is not None and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = text.count(old) if old else len(text) + 1
        need(len(text) + count * len(new))
    elif name == "join" and isinstance(value, list | tuple | str):
        need(len(value) * len(str(_int_arg(args, kwargs, 0, "d", ""))))
    elif name == "format":
        check_percent_format(value)
    elif name in ("batch", "slice"):
        count = _int_arg(args, kwargs, 0, "linecount" if name == "batch" else "slices", 1)
        if isinstance(count, int) and count > MAX_WIDTH:
            raise _too_long()


def check_text_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple:
    """Refuse a call of a text method that would make a text too big; answers the arguments
    to call it with (``join`` takes its items as a list, to measure them)."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(method, "__name__", "")
    if name in ("ljust", "rjust", "center", "zfill"):
        need(_width(_int_arg(args, kwargs, 0, "width", 0)))
    elif name == "expandtabs":
        need(len(owner) + owner.count("\t") * _width(_int_arg(args, kwargs, 0, "tabsize", 8)))
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = owner.count(old) if old else len(owner) + 1
        need(len(owner) + count * len(new))
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], str) else args[0]
        checked(items)
        need(len(owner) * len(items) + sum(len(i) for i in items if isinstance(i, str)))
        args = (items, *args[1:])
    return args


def _repeat_size(left: Any, right: Any) -> int | None:
    """Length of ``left * right`` when it repeats a text or list, else None."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            return len(seq) * max(count, 0)
    return None


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**`` and ``%`` whose result would be too big, before computing it."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        size = _repeat_size(left, right)
        if size is not None:
            need(size)
        elif ints and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS + 1:
            raise _too_large()
    elif operator == "**" and ints and right > 0 and abs(left) > 1 \
            and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:
        raise _too_large()
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left)


class Budget:
    """The steps and the time one rendering may still spend."""

    def __init__(self, steps: int = MAX_STEPS, seconds: float = MAX_SECONDS) -> None:
        self.left = steps
        self.steps = steps
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def tick(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TemplateLimitError(
                _("it repeats too much: more than %(n)s loop iterations and calls",
                  n=f"{self.steps:,}"))
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(_("it takes longer than %(n)s seconds",
                                       n=f"{self.seconds:g}"))


class LimitedCodeGenerator(CodeGenerator):
    """Compiles loops to iterate through ``environment.guard_iter`` and ``~`` to be
    measured by ``environment.checked``."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        guarded = nodes.Call(nodes.EnvironmentAttribute("guard_iter"), [node.iter], [],
                             None, None, lineno=node.iter.lineno)
        node.iter = guarded.set_environment(self.environment)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked(")
        super().visit_Concat(node, frame)
        self.write(")")


class LimitedSandbox(SandboxedEnvironment):
    """A sandbox that bounds what a rendering costs (see the module docstring). Each
    instance renders with a fresh :class:`Budget`; :meth:`render_limited` also counts the
    output."""

    code_generator_class = LimitedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = Budget()
        #: callables whose first arguments are %-formatted (the translation functions)
        self.formatting: set[int] = set()
        self.globals["lipsum"] = _short_lipsum

    # -- hooks the compiled template calls --------------------------------------------------

    def guard_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = self.budget
        for item in iterable:
            budget.tick()
            yield item

    def checked(self, value: Any) -> Any:
        return checked(value)

    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        """The buffers of blocks, macros and ``{% set %}`` blocks, measured as they join."""
        collected, size = [], 0
        for part in parts:
            size += len(part)
            if size > MAX_TEXT:
                raise _too_long()
            collected.append(part)
        return "".join(collected)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        check_binop(operator, left, right)
        return checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.budget.tick()
        if id(__obj) in __self.formatting:
            for arg in args:
                check_percent_format(arg)
        args = check_text_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, list | dict | set):  # list.append and the like grow the owner
            checked(owner)
        return checked(result)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.budget.tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Any:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            check_brace_format(value.__self__)
        return wrapper

    # -- filters and rendering --------------------------------------------------------------

    def add_filter(self, name: str, func: Any) -> None:
        """Install ``func`` as filter ``name``, its cost checked before and after it runs."""
        skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

        @functools.wraps(func)
        def limited(*args: Any, **kwargs: Any) -> Any:
            self.budget.tick()
            if len(args) > skip:
                value = args[skip]
                if name == "join" and not isinstance(value, list | tuple | str):
                    value = checked(list(value))  # to measure it first
                    args = (*args[:skip], value, *args[skip + 1:])
                check_filter(name, value, args[skip + 1:], kwargs)
            return checked(func(*args, **kwargs))

        self.filters[name] = limited

    def limit_filters(self) -> None:
        for name, func in list(self.filters.items()):
            self.add_filter(name, func)

    def render_limited(self, template: jinja2.Template, context: Mapping[str, Any]) -> str:
        """Render ``template`` counting its output; a fresh budget for each rendering."""
        self.budget = Budget()
        parts, size = [], 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimitError(_("its output is larger than %(n)s characters",
                                           n=f"{MAX_OUTPUT:,}"))
            parts.append(chunk)
        return "".join(parts)


def _short_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Placeholder text, a few short paragraphs at most (the stock one makes any amount)."""
    return generate_lorem_ipsum(n=sorted((0, n, 20))[1], html=html,
                                min=sorted((1, min, 100))[1], max=sorted((1, max, 200))[1])
