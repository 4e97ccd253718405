"""The sandbox's interface: make sandbox-up/status, .sandbox/env, and the smoke playbook."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

from sandbox import launcher

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / ".sandbox"

REQUIRED = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
            "TAILSCALE_BASE_URL", "TAILSCALE_API_KEY", "TAILSCALE_TAILNET", "CLOUDFLARE_BASE_URL",
            "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ZONE_ID", "M8TRX_BRAIN_URL", "M8TRX_BRAIN_ADMIN_TOKEN")


def launch(*args):
    return subprocess.run([sys.executable, "-m", "sandbox.launcher", *args], cwd=REPO, capture_output=True,
                          text=True, check=False)


def test_env_file_is_private_and_complete(sandbox_env):
    mode = stat.S_IMODE((SANDBOX / "env").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(SANDBOX.stat().st_mode) == 0o700
    missing = [name for name in REQUIRED if not sandbox_env.get(name)]
    assert missing == []
    for name in ("AWS_ENDPOINT_URL", "TAILSCALE_BASE_URL", "CLOUDFLARE_BASE_URL", "M8TRX_BRAIN_URL"):
        assert sandbox_env[name].startswith("http://127.0.0.1:"), name


def test_up_when_up_is_a_no_op(sandbox_env):
    before = json.loads(launch("json").stdout)
    again = launch("up")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already up") == len(launcher.SERVICES)
    after = json.loads(launch("json").stdout)
    assert after == before
    assert launcher.read_env_file(SANDBOX / "env") == sandbox_env  # tokens kept, not re-minted


def test_status_reports_every_service_up():
    status = launch("status")
    assert status.returncode == 0, status.stdout
    for name in launcher.SERVICES:
        assert "%s" % name in status.stdout
    assert status.stdout.count(" up ") == len(launcher.SERVICES)


def test_smoke_playbook_touches_all_four_planes(run_playbook, emulators, secrets_of):
    started = time.time()  # no reset: other tests may share the sandbox; look only at newer requests
    result = run_playbook("playbooks/smoke.yml", "-vvv")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "AWS: account 123456789012" in output
    assert "minted and deleted cust_smoke_" in output
    assert "cloudflare: token active, zone m8trx-sandbox.example" in output
    seen = {name: {(r["method"], r["path"], r["status"]) for r in client.get("/_emulator/requests").json()
                   if r["time"] >= started}
            for name, client in emulators.items()}
    assert any(m == "POST" and p == "/admin/customers" and s == 201 for m, p, s in seen["brain"])
    assert any(m == "DELETE" and p.startswith("/admin/customers/cust_smoke_") and s == 204 for m, p, s in seen["brain"])
    assert ("GET", "/api/v2/tailnet/m8trx-sandbox.example/acl", 200) in seen["tailscale"]
    assert ("GET", "/client/v4/user/tokens/verify", 200) in seen["cloudflare"]
    leaked = [s for s in secrets_of if s in output]
    assert leaked == [], "a credential appeared in the -vvv output"
