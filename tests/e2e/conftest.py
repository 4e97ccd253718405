"""The e2e tests run against the sandbox that `make sandbox-up` started (scripts/test.sh starts it)."""

from __future__ import annotations

import json
import os
import shutil
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


def inventory(tmp_path, hosts):
    """A sandbox inventory (its group_vars) with these customer hosts."""
    inv = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories/sandbox/group_vars", inv / "group_vars")
    lines = ["all:", "  children:", "    customers:", "      hosts:"]
    for host, hostvars in hosts.items():
        lines.append("        %s:" % host)
        lines.extend("          %s: %s" % (k, json.dumps(v)) for k, v in hostvars.items())
    (inv / "hosts.yml").write_text("\n".join(lines) + "\n")
    return str(inv)


ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def playbook_env(sandbox_env, extra_env=None):
    """The environment an ansible-playbook run of the tests gets: the sandbox's variables, the repository's config."""
    env = dict(os.environ)
    env.update(sandbox_env)
    # host booting is off for the suite (see sandbox_hosts_off): do not wait for hosts that never come
    env["M8TRX_DEVICE_WAIT_TIMEOUT"] = "5"
    env.update(extra_env or {})
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env.setdefault("ANSIBLE_HOME", str(REPO / ".cache" / "ansible-home"))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.fixture(scope="session")
def run_playbook(sandbox_env):
    def _run(*args, extra_env=None):
        return subprocess.run([ANSIBLE_PLAYBOOK, *args], cwd=REPO, env=playbook_env(sandbox_env, extra_env), capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=900, check=False)
    return _run


@pytest.fixture(scope="session", autouse=True)
def sandbox_hosts_off(sandbox_env):
    """Booting a systemd container per instance costs seconds of CPU: the suite turns it off and only the
    tests about hosts turn it on for their own customer. The sandbox's own setting is restored at the end."""
    url = sandbox_env.get("M8TRX_SANDBOX_HOSTS_URL")
    if not url:
        yield None
        return
    with httpx.Client(base_url=url, timeout=120) as client:
        before = client.get("/_emulator/hosts/config").raise_for_status().json()["boot"]
        client.post("/_emulator/hosts/config", json={"boot": "none"}).raise_for_status()
        try:
            yield client
        finally:
            client.post("/_emulator/hosts/config", json={"boot": before}).raise_for_status()


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
