"""Packaging: galaxy.yml's dependencies are what the shipped content uses, the execution environment
installs the same, and galaxy.yml's build_ignore (the one list of private paths) keeps out every
private path git ignores, welcome cards included."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from shipped_files import build_ignore, ignored, shipped  # noqa: E402

CONTENT = ("roles", "playbooks", "plugins", "meta")
FQCN = re.compile(r"\b(amazon\.aws|community\.aws|community\.general|community\.docker|ansible\.posix|"
                  r"containers\.podman|ansible\.utils|community\.crypto)\.[a-z_]+")


def used_collections():
    used = set()
    for top in CONTENT:
        for path in (REPO / top).rglob("*"):
            if path.is_file() and path.suffix in (".yml", ".yaml", ".py", ".j2"):
                used.update(m.group(1) for m in FQCN.finditer(path.read_text(errors="replace")))
    return used


def test_galaxy_dependencies_are_exactly_what_the_content_uses():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert set(galaxy["dependencies"]) == used_collections()


def test_the_execution_environment_and_requirements_install_every_dependency():
    galaxy = set(yaml.safe_load((REPO / "galaxy.yml").read_text())["dependencies"])
    ee = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    ee_names = {c["name"] for c in ee["dependencies"]["galaxy"]["collections"] if c.get("type") != "file"}
    assert ee_names == galaxy
    requirements = {c["name"] for c in yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]}
    assert galaxy <= requirements


def test_every_git_ignored_private_path_is_left_out_of_the_build():
    patterns = build_ignore()
    for line in (REPO / ".gitignore").read_text().splitlines():
        entry = line.strip().strip("/")
        if entry and not entry.startswith("#"):
            probe = entry.replace("*", "x") + ("/file" if line.strip().endswith("/") else "")
            assert ignored(probe, patterns), "%s is git-ignored but galaxy.yml's build_ignore ships it" % entry
    assert ignored("artifacts/acme-welcome.txt", patterns)
    assert not ignored("roles/customer/tasks/main.yml", patterns)


def test_the_shipped_list_has_the_content_and_nothing_private():
    files = shipped()
    assert "plugins/modules/customer_plan.py" in files and "galaxy.yml" in files
    assert not [f for f in files if f.startswith(("sandbox/", "scripts/", "bench/", "tests/e2e/", "artifacts/", ".ci/"))]
