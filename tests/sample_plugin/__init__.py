"""A plugin used by the tests: it implements every hook, so each hook has a working example
that the tests drive through the real entry-point discovery (see tests/support/dists.py)."""
