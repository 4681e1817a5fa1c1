"""A hook the sample plugin declares for other plugins (through its ``hookspecs`` hook)."""

from __future__ import annotations

from carebiz.hookspecs import hookspec


@hookspec
def sample_words(count: int) -> list[str] | None:
    """Return up to ``count`` words for the sample's greeting.

    :param count: how many words at most.
    """
