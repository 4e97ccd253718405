"""Testinfra checks for roles/tailscale_node, with the sandbox's stand-in CLI and Tailscale emulator.

Every command goes through testinfra's podman backend (toolchain §10 P5). The container shares the
host's network: the emulator is at TAILSCALE_BASE_URL, read here with the sandbox's API key.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = [
    "podman://" + name
    for name in testinfra.utils.ansible_runner.AnsibleRunner(
        os.environ["MOLECULE_INVENTORY_FILE"]
    ).get_hosts("all")
]

HOSTNAME = "m8trx-mol-tailscale-node"
TAG = "tag:m8trx-mol-tsnode"
STATE_FILE = "/var/lib/tailscale/tailscaled.state"
KEY_DESCRIPTION = "molecule tailscale node"


def api(path):
    request = urllib.request.Request(
        os.environ["TAILSCALE_BASE_URL"] + "/api/v2" + path,
        headers={"Authorization": "Bearer " + os.environ["TAILSCALE_API_KEY"]},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def emulator_state():
    with urllib.request.urlopen(os.environ["TAILSCALE_BASE_URL"] + "/_emulator/tailscale/state", timeout=10) as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def status(host):
    return json.loads(host.check_output("tailscale status --json"))


@pytest.fixture(scope="module")
def device():
    devices = api("/tailnet/-/devices?hostname=" + HOSTNAME)["devices"]
    assert len(devices) == 1, devices  # idempotence joined nothing twice
    return devices[0]


def test_status_is_running_with_hostname_and_tags(status):
    assert status["BackendState"] == "Running"
    assert status["Self"]["HostName"] == HOSTNAME
    assert status["Self"]["Tags"] == [TAG]
    assert status["Self"]["Online"] is True


def test_exactly_one_device_in_the_emulator_matches_the_status(status, device):
    assert device["tags"] == [TAG] and device["authorized"] is True
    assert status["Self"]["ID"] == device["nodeId"]
    assert status["Self"]["TailscaleIPs"] == device["addresses"]


def test_ip_4_is_the_devices_address(host, device):
    assert host.check_output("tailscale ip -4") == device["addresses"][0]


def test_the_key_was_used_once(device):
    keys = [k for k in emulator_state()["keys"] if k["description"] == KEY_DESCRIPTION and not k.get("revoked")]
    assert [k["uses"] for k in keys] == [1]
    assert keys[0]["capabilities"]["devices"]["create"]["tags"] == [TAG]


def test_state_file_is_root_only(host):
    state, directory = host.file(STATE_FILE), host.file("/var/lib/tailscale")
    assert (state.user, state.group, state.mode) == ("root", "root", 0o600)
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)


def test_no_key_material_on_the_host(host):
    # every Tailscale secret starts with tskey- (auth keys, API keys, client secrets); the API key of
    # the sandbox and the test key's id are checked by value too
    places = "/etc /var/lib/tailscale /root /tmp /var/tmp /run"
    found = host.run("grep -rIl -e tskey- -e %s %s" % (os.environ["TAILSCALE_API_KEY"], places))
    assert found.rc == 1, "key material in: %s %s" % (found.stdout, found.stderr)
    # the role's temporary credential file is gone
    assert host.run("ls /tmp/tailscale-node.* 2>/dev/null").stdout == ""


def test_state_file_holds_no_secret(host):
    content = host.file(STATE_FILE).content_string
    assert "tskey" not in content and os.environ["TAILSCALE_API_KEY"] not in content
    assert json.loads(content)["Prefs"]["ControlURL"] == os.environ["TAILSCALE_BASE_URL"]
