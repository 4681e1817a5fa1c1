"""Car wash: a third-party plugin written from docs/plugin-guide.md alone, touching every
extension point the guide documents (tests/test_carwash_plugin.py drives each one)."""

__version__ = "0.1.0"
