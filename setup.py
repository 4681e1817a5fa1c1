"""Package list for the two mapped roots (``platform/carebiz`` and ``plugins``).

Metadata lives in ``pyproject.toml``; only the package discovery is here, because setuptools'
declarative ``find`` does not follow a ``package-dir`` mapping to a different folder name.
"""

from setuptools import find_packages, setup


def _tree(prefix: str, folder: str) -> list[str]:
    return [prefix] + [f"{prefix}.{name}" for name in find_packages(folder)]


setup(packages=_tree("carebiz", "platform/carebiz") + _tree("carebiz_plugins", "plugins"))
