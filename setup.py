"""Package list for the two mapped roots (``platform/carebiz`` and ``plugins``).

Metadata lives in ``pyproject.toml``; only the package discovery is here, because setuptools'
declarative ``find`` does not follow a ``package-dir`` mapping to a different folder name.

The folders of templates, static files, translations and migrations hold no ``__init__.py``
but Python could import them (namespace packages), so setuptools wants them listed as
packages: otherwise it warns, once per folder, that their files "would be ignored". They are
found with ``find_namespace_packages`` (the fix setuptools' warning and its data-files guide
give); which files they ship is declared in ``pyproject.toml`` (``package-data``).
"""

from setuptools import find_namespace_packages, setup

NOT_PACKAGES = ["__pycache__", "*.__pycache__"]


def _tree(prefix: str, folder: str) -> list[str]:
    return [prefix] + [f"{prefix}.{name}"
                       for name in find_namespace_packages(folder, exclude=NOT_PACKAGES)]


setup(packages=_tree("carebiz", "platform/carebiz") + _tree("carebiz_plugins", "plugins"))
