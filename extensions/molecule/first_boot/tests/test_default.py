"""Testinfra checks of molboot's host after deploy: the systemd container the sandbox's hosts service
booted from the EC2 instance, which ran the instance's own user-data (the production first boot).

The host is found through the hosts service (``GET /_emulator/hosts``), not the molecule inventory,
whose only host is the customer itself (run on the controller)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from urllib.request import urlopen

import boto3
import pytest

CUSTOMER = "molboot"
ROLE_FILES = Path(__file__).resolve().parents[4] / "roles" / "brain_heartbeat" / "files"


def _hosts():
    with urlopen(os.environ["M8TRX_SANDBOX_HOSTS_URL"] + "/_emulator/hosts", timeout=10) as response:  # noqa: S310 - the sandbox
        return [h for h in json.load(response)["hosts"] if h.get("customer") == CUSTOMER]


HOSTS = _hosts()
testinfra_hosts = ["podman://" + h["container"] for h in HOSTS]


@pytest.fixture(scope="module")
def booted():
    assert len(HOSTS) == 1, "molboot should have exactly one booted host, the service has %s" % HOSTS
    return HOSTS[0]


@pytest.fixture(scope="module")
def secure_strings():
    ssm = boto3.client("ssm", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_DEFAULT_REGION"))
    params = ssm.get_parameters_by_path(Path="/m8trx/%s/" % CUSTOMER, WithDecryption=True)["Parameters"]
    values = [p["Value"] for p in params if p["Type"] == "SecureString"]
    assert len(values) == 4  # brain key, Tailscale auth key, agent PAT, UI password
    return values


def test_first_boot_finished(host, booted):
    assert booted["first_boot"] == {"active": "active", "result": "success"}
    log = host.file("/var/log/m8trx-agent/first-boot.log")
    assert (log.user, log.group, log.mode) == ("root", "root", 0o640)
    assert host.file("/var/log/m8trx-agent").mode == 0o750
    text = log.content_string
    assert "FAILED" not in text and "first boot: finished" in text
    ran = re.findall(r"first boot: step (\S+)/9 .*\((\d{4}-\d\d-\d\dT[0-9:]+Z)\)$", text, re.M)
    assert [step for step, _when in ran] == ["1", "3", "4", "5"], text
    # the two steps the sandbox cannot perform say so, with the switch that turned them off
    skipped = re.findall(r"first boot: step (\S+)/9 .* SKIPPED: (.*)$", text, re.M)
    assert [step for step, _why in skipped] == ["2", "6-9"], text


def test_host_name_is_the_instance_id(host, booted):
    assert re.fullmatch(r"i-[0-9a-f]{17}", booted["instance_id"])
    assert host.check_output("hostname") == booted["instance_id"]
    assert host.file("/etc/hostname").content_string.strip() == booted["instance_id"]


def test_tailscale_joined_as_the_customer_and_the_key_file_is_gone(host, booted):
    status = json.loads(host.check_output("tailscale status --json"))
    assert status["BackendState"] == "Running"
    assert status["Self"]["HostName"] == booted["instance_id"]
    assert status["Self"]["Tags"] == ["tag:m8trx-cust-%s" % CUSTOMER]
    assert not host.file("/etc/m8trx/tailscale-auth-key").exists


def test_brain_env_is_root_only(host):
    directory, env = host.file("/etc/m8trx"), host.file("/etc/m8trx/brain.env")
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    keys = dict(line.split("=", 1) for line in env.content_string.splitlines() if "=" in line)
    assert keys["BRAIN_CUSTOMER_ID"] == "cust_%s" % CUSTOMER
    assert keys["BRAIN_URL"].startswith(("http://", "https://"))
    assert keys["BRAIN_API_KEY"]


@pytest.mark.parametrize(
    "path, name, mode",
    [
        ("/usr/local/bin/m8trx-brain-heartbeat", "m8trx-brain-heartbeat", 0o755),
        ("/etc/systemd/system/m8trx-brain-heartbeat.service", "m8trx-brain-heartbeat.service", 0o644),
        ("/etc/systemd/system/m8trx-brain-heartbeat.timer", "m8trx-brain-heartbeat.timer", 0o644),
    ],
)
def test_heartbeat_files_are_the_roles_files(host, path, name, mode):
    installed = host.file(path)
    assert (installed.user, installed.mode) == ("root", mode)
    assert installed.sha256sum == hashlib.sha256((ROLE_FILES / name).read_bytes()).hexdigest()


def test_heartbeat_timer_runs_and_the_last_heartbeat_succeeded(host):
    timer = host.service("m8trx-brain-heartbeat.timer")
    assert timer.is_enabled and timer.is_running
    shown = host.check_output("systemctl show m8trx-brain-heartbeat.service -p Result -p ExecMainStatus")
    assert "Result=success" in shown and "ExecMainStatus=0" in shown


def test_no_secret_in_the_log_or_the_journal(host, secure_strings):
    log = host.file("/var/log/m8trx-agent/first-boot.log").content_string
    journal = host.check_output("journalctl --no-pager -o cat")
    processes = host.check_output("ps -eo args")
    for value in secure_strings:
        assert value not in log and value not in journal and value not in processes
