"""The e2e tests run against the sandbox that `make sandbox-up` started (scripts/test.sh starts it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox import launcher

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / ".sandbox"


@pytest.fixture(scope="session")
def sandbox_env():
    env = launcher.read_env_file(SANDBOX / "env")
    if not env:
        pytest.fail("no .sandbox/env: run `make sandbox-up` first")
    return env


@pytest.fixture(scope="session")
def secrets_of(sandbox_env):
    """Every credential value of the sandbox: none may ever appear in output."""
    names = ("M8TRX_BRAIN_ADMIN_TOKEN", "TAILSCALE_API_KEY", "TAILSCALE_OAUTH_CLIENT_SECRET",
             "CLOUDFLARE_API_TOKEN", "AWS_SECRET_ACCESS_KEY")
    return [sandbox_env[n] for n in names if sandbox_env.get(n) and len(sandbox_env[n]) > 8]


@pytest.fixture(scope="session")
def run_playbook(sandbox_env):
    def _run(*args, extra_env=None):
        env = dict(os.environ)
        env.update(sandbox_env)
        env.update(extra_env or {})
        env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
        env.setdefault("ANSIBLE_HOME", str(REPO / ".cache" / "ansible-home"))
        env["ANSIBLE_FORCE_COLOR"] = "0"
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), *args], cwd=REPO, env=env, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=900, check=False)
    return _run


def _emulator_client(url):
    return httpx.Client(base_url=url, timeout=10)


@pytest.fixture(scope="session")
def emulators(sandbox_env):
    """httpx clients for the three emulators' /_emulator/* interface."""
    clients = {
        "brain": _emulator_client(sandbox_env["M8TRX_BRAIN_URL"]),
        "tailscale": _emulator_client(sandbox_env["TAILSCALE_BASE_URL"]),
        "cloudflare": _emulator_client(sandbox_env["CLOUDFLARE_BASE_URL"].rsplit("/client/v4", 1)[0]),
    }
    yield clients
    for client in clients.values():
        client.close()
