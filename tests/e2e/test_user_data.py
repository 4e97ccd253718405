"""The first-boot user-data as rendered for both templates, production and sandbox: under AWS's 16 KB,
valid bash, shellcheck-clean, and the heartbeat files it embeds are byte for byte the brain_heartbeat
role's (a change to one without the other fails here)."""

from __future__ import annotations

import base64
import gzip
import re
import subprocess

import pytest
from conftest import REPO

VARIANTS = ["m8trx_agent-production", "m8trx_agent-sandbox", "baseline-production", "baseline-sandbox"]


@pytest.fixture(scope="module")
def rendered(run_playbook, tmp_path_factory):
    out = tmp_path_factory.mktemp("user-data")
    result = run_playbook("tests/e2e/playbooks/render_user_data.yml", "-e", "out=%s" % out)
    assert result.returncode == 0, result.stdout[-3000:]
    return {name: (out / (name + ".sh")).read_bytes() for name in VARIANTS}


@pytest.mark.parametrize("variant", VARIANTS)
def test_user_data_fits_and_is_clean_bash(rendered, variant, tmp_path):
    script = rendered[variant]
    assert len(script) < 16384, "%s is %d bytes" % (variant, len(script))
    path = tmp_path / "user-data.sh"
    path.write_bytes(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True, check=False).returncode == 0
    checked = subprocess.run(["shellcheck", "--severity=info", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
    assert script.startswith(b"#!/usr/bin/env bash\n") and b"set -euo pipefail" in script


@pytest.mark.parametrize("variant", ["m8trx_agent-production", "m8trx_agent-sandbox"])
def test_embedded_heartbeat_files_are_the_roles_files(rendered, variant):
    embedded = dict(re.findall(r"^unpack \S+/(\S+) \d+ << 'M8TRX_FILE'\n(.*?)\nM8TRX_FILE$", rendered[variant].decode(), re.M | re.S))
    files = REPO / "roles/brain_heartbeat/files"
    assert sorted(embedded) == sorted(p.name for p in files.iterdir())
    for name, payload in embedded.items():
        assert gzip.decompress(base64.b64decode(payload)) == (files / name).read_bytes(), name


def test_the_switches_shape_the_script(rendered):
    agent, sandbox = rendered["m8trx_agent-production"].decode(), rendered["m8trx_agent-sandbox"].decode()
    # production: Tailscale from its own repository, the agent stack, Tailscale's own control server
    assert "pkgs.tailscale.com" in agent and "docker compose" in agent and "--login-server" not in agent
    assert 'step 2 "runtime dependencies"' in agent and "\nskip " not in agent
    # sandbox: the skipped steps say so in the log, the stand-in control server, the brain pin
    assert 'skip 2 "runtime dependencies"' in sandbox and 'skip 6-9 ' in sandbox and "docker compose --project-directory" not in sandbox
    assert "--login-server=http://127.0.0.1:18502" in sandbox and "BRAIN_SPKI_PIN=%s" in sandbox
    # the auth key reaches tailscale as a file, and git gets the token through its environment
    assert "--auth-key=file:/etc/m8trx/tailscale-auth-key" in agent and "oauth2:" not in agent.replace("'x-access-token\\|oauth2:'", "")
    baseline = rendered["baseline-production"].decode()
    assert "tailscale" not in baseline and "brain" not in baseline.lower().replace("m8trx_agent", "")
