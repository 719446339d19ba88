"""Packaging: the folder tree under src/ is the installed package tree."""
import os
import subprocess
import sys

from conftest import REPO

SRC = REPO / "src"


def _packages_on_disk():
    return {".".join(init.parent.relative_to(SRC).parts) for init in SRC.rglob("__init__.py")
            if "__pycache__" not in init.parts}


def test_every_folder_of_the_tree_is_a_package():
    folders = {".".join(d.relative_to(SRC).parts) for d in SRC.rglob("*") if d.is_dir()
               and d.name != "__pycache__" and any(d.glob("*.py"))} | {"constellations"}
    assert folders == _packages_on_disk(), sorted(folders ^ _packages_on_disk())


def _run_outside(code: str):
    """Run ``code`` with the installed package only: cwd=/tmp and no repository on sys.path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd="/tmp", env=env, capture_output=True, text=True,
                          timeout=300)


def test_no_top_level_solvers_or_cli_after_install():
    r = _run_outside(
        "import importlib.util as u\n"
        "print(u.find_spec('solvers') is None, u.find_spec('cli') is None, u.find_spec('src') is None)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True", "True"]


def test_every_installed_subpackage_imports():
    names = sorted(_packages_on_disk())
    r = _run_outside("import importlib\n"
                     f"for n in {names!r}:\n    importlib.import_module(n)\n"
                     "import constellations, constellations.cli.main\n"
                     "print(callable(constellations.cli.main.main), constellations.__version__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "True"
