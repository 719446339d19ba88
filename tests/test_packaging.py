"""Packaging: everything installs under the ``constellations`` import name."""
import configparser
import os
import subprocess
import sys

from conftest import REPO

# repository folder -> installed package name (setup.cfg package_dir)
ROOTS = {"constellations": "constellations", "solvers": "constellations.solvers", "cli": "constellations.cli"}


def _setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return cfg


def _declared_packages():
    return {p.strip() for p in _setup_cfg()["options"]["packages"].split() if p.strip()}


def test_every_package_directory_is_declared():
    found = set()
    for folder, name in ROOTS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([name, *rel.parts]))
    declared = _declared_packages()
    assert found - declared == set(), f"package folders missing from setup.cfg packages: {sorted(found - declared)}"
    assert declared - found == set(), f"setup.cfg lists packages with no __init__.py: {sorted(declared - found)}"


def test_package_dir_maps_the_folders():
    raw = _setup_cfg()["options"]["package_dir"]
    mapping = dict(tuple(x.strip() for x in line.split("=")) for line in raw.splitlines() if "=" in line)
    assert mapping == {name: folder for folder, name in ROOTS.items()}


def _run_outside(code: str):
    """Run ``code`` with the installed package only: cwd=/tmp and no repository on sys.path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd="/tmp", env=env, capture_output=True, text=True,
                          timeout=300)


def test_no_top_level_solvers_or_cli_after_install():
    r = _run_outside(
        "import importlib.util as u, sys\n"
        "assert not any(p and __import__('os').path.samefile(p, %r) for p in sys.path if __import__('os').path.isdir(p))\n"
        "print(u.find_spec('solvers') is None, u.find_spec('cli') is None)" % str(REPO))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]


def test_installed_subpackages_import():
    r = _run_outside(
        "import constellations, constellations.cli.main, constellations.solvers, constellations.solvers.bounds, "
        "constellations.solvers.tables\n"
        "print(callable(constellations.cli.main.main), constellations.__version__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "True"
