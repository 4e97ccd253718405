"""Every integration target under tests/integration/targets, run against the sandbox at -vvvv.

Each target is an ansible-test style role (tasks/main.yml + aliases) that drives modules through
check -> apply -> check (no change) -> apply (no change) and asserts on the emulators' state. The
run's whole output is scanned for the sandbox's credentials and for every secret the target
recorded in $M8TRX_TEST_SECRETS_FILE: none may appear.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGETS = sorted(p.name for p in (REPO / "tests/integration/targets").iterdir()
                 if (p / "tasks" / "main.yml").is_file()) if (REPO / "tests/integration/targets").is_dir() else []


@pytest.mark.parametrize("target", TARGETS)
def test_target(target, run_playbook, secrets_of, tmp_path):
    secrets_file = tmp_path / "secrets"
    secrets_file.touch(mode=0o600)
    result = run_playbook("tests/integration/run_target.yml", "-e", "target=%s" % target, "-vvvv",
                          extra_env={"ANSIBLE_ROLES_PATH": str(REPO / "tests/integration/targets"),
                                     "M8TRX_TEST_SECRETS_FILE": str(secrets_file)})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600
    recorded = [line for line in secrets_file.read_text().splitlines() if len(line) >= 8]
    leaked = [s for s in list(secrets_of) + recorded if s in output]
    assert not leaked, "%d secret(s) appeared in the -vvvv output of %s" % (len(leaked), target)
