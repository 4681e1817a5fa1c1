"""The standard library's ``platform`` module must never be shadowed by the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_package_or_module_named_platform():
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert not (ROOT / "platform.py").exists()
    for path in ROOT.rglob("platform.py"):
        assert ".venv" in path.parts or "site-packages" in path.parts, path


def test_stdlib_platform_importable_from_project_root():
    code = ("import platform, sys; platform.python_version(); platform.system(); "
            "print(platform.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert str(ROOT / "platform") not in out


def test_carebiz_imports_from_its_folder():
    import carebiz

    assert Path(carebiz.__file__).resolve().parent == ROOT / "platform" / "carebiz"
