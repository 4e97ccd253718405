"""What the benches share: the sandbox's variables and timed ansible-playbook runs of a throw-away playbook."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def read_env():
    """The sandbox's variables (.sandbox/env) as a dict."""
    env = {}
    for line in (REPO / ".sandbox/env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _sep, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def run_playbook(text, extra_vars, env, library=None, extra_env=None):
    """Run the playbook ``text`` with ``extra_vars`` against the sandbox; return (process, seconds)."""
    with tempfile.TemporaryDirectory(prefix="m8trx-bench-") as tmp:
        playbook, varsfile = Path(tmp, "play.yml"), Path(tmp, "vars.json")
        playbook.write_text(text)
        varsfile.write_text(json.dumps(extra_vars))
        run_env = dict(os.environ, **env)
        run_env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_HOME=str(REPO / ".cache/ansible-home"),
                       ANSIBLE_FORCE_COLOR="0", **(extra_env or {}))
        if library:
            run_env["ANSIBLE_LIBRARY"] = library
        start = time.monotonic()
        proc = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), str(playbook), "-e", "@%s" % varsfile],
                              cwd=REPO, env=run_env, capture_output=True, text=True, check=False)
        return proc, time.monotonic() - start
