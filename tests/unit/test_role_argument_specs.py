# -*- coding: utf-8 -*-
# Copyright: (c) 2026, m8trx platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every role's defaults/main.yml and its argument spec (main entry point) describe the same variables.

The spec validates the variables at run time and is what ``ansible-doc -t role`` shows; the defaults
are what a user reads and what actually applies. They drift unless a test holds them together:
the same names on both sides, and a default the spec declares is the value defaults/main.yml sets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"


def load_yaml(path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def role_defaults(role_dir):
    path = role_dir / "defaults" / "main.yml"
    if not path.is_file():
        return {}
    return load_yaml(path) or {}


def role_main_options(role_dir):
    """The main entry point's options, from meta/argument_specs.yml or else meta/main.yml."""
    for path in (role_dir / "meta" / "argument_specs.yml", role_dir / "meta" / "main.yml"):
        if path.is_file():
            specs = (load_yaml(path) or {}).get("argument_specs")
            if specs is not None:
                assert "main" in specs, "%s: no main entry point in argument_specs" % path
                return specs["main"].get("options") or {}
    pytest.fail("%s has no argument_specs (meta/argument_specs.yml)" % role_dir.name)
    return None


def drift(defaults, options):
    """Human-readable differences between a role's defaults and its main entry point's options."""
    problems = []
    for name in sorted(set(defaults) - set(options)):
        problems.append("%s is in defaults/main.yml but not in the argument spec" % name)
    for name in sorted(set(options) - set(defaults)):
        problems.append("%s is in the argument spec but not in defaults/main.yml" % name)
    for name in sorted(set(defaults) & set(options)):
        spec = options[name] or {}
        if "default" in spec and spec["default"] != defaults[name]:
            problems.append(
                "%s: the spec's default %r is not the default %r from defaults/main.yml"
                % (name, spec["default"], defaults[name])
            )
    return problems


def all_roles():
    return sorted(p for p in ROLES.iterdir() if p.is_dir()) if ROLES.is_dir() else []


@pytest.mark.parametrize("role_dir", all_roles(), ids=lambda p: p.name)
def test_defaults_match_argument_spec(role_dir):
    problems = drift(role_defaults(role_dir), role_main_options(role_dir))
    assert not problems, "%s:\n  " % role_dir.name + "\n  ".join(problems)


def test_there_are_roles_to_check():
    assert all_roles(), "no roles found under %s" % ROLES


@pytest.mark.parametrize(
    "defaults, options, expected",
    [
        ({"r_a": 1}, {"r_a": {"type": "int", "default": 1}}, []),
        ({"r_a": 1}, {"r_a": {"type": "int"}}, []),  # a spec need not repeat the default
        ({"r_a": 1, "r_b": True}, {"r_a": {"default": 1}}, ["r_b is in defaults/main.yml but not in the argument spec"]),
        ({}, {"r_a": {"type": "str"}}, ["r_a is in the argument spec but not in defaults/main.yml"]),
        ({"r_a": []}, {"r_a": {"type": "list", "default": "[]"}},
         ["r_a: the spec's default '[]' is not the default [] from defaults/main.yml"]),
        ({"r_a": "5min"}, {"r_a": {"default": "5min"}}, []),
    ],
)
def test_drift_detects_each_kind_of_mismatch(defaults, options, expected):
    assert drift(defaults, options) == expected
