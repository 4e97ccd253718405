"""The sandbox host boots: the instance deploy creates in moto comes up as a systemd container that runs
the same first-boot user-data as production, joins the tailnet, is approved by deploy, and sends the
brain a heartbeat carrying its instance id. Destroy removes the container."""

from __future__ import annotations

import base64
import calendar
import hashlib
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from _aws_state import aws, inventory_of, live_instances
from conftest import REPO, inventory

CUSTOMER = "boothost"
HEARTBEAT_FILES = {"/usr/local/bin/m8trx-brain-heartbeat": ("m8trx-brain-heartbeat", "755"),
                   "/etc/systemd/system/m8trx-brain-heartbeat.service": ("m8trx-brain-heartbeat.service", "644"),
                   "/etc/systemd/system/m8trx-brain-heartbeat.timer": ("m8trx-brain-heartbeat.timer", "644")}


def in_host(container, *command):
    env = dict(os.environ, CONTAINERS_CONF=str(REPO / "sandbox" / "containers.conf"))
    done = subprocess.run(["podman", "exec", container, *command], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


def wait_for(what, probe, timeout=90.0):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.5)


@pytest.fixture(scope="module")
def booted(run_playbook, sandbox_env, sandbox_hosts_off, emulators, tmp_path_factory):
    """boothost (m8trx_agent) deployed with host booting on for it alone; destroyed at the end."""
    if sandbox_hosts_off is None:
        pytest.fail("the sandbox has no hosts service (M8TRX_SANDBOX_HOSTS_URL): restart it with `make sandbox-up`")
    tmp = tmp_path_factory.mktemp("boothost")
    inv = inventory(tmp, {CUSTOMER: {"m8trx_template": "m8trx_agent"}})
    extra = ["-i", inv, "-e", "customer=%s" % CUSTOMER, "-e", "customer_artifacts_dir=%s" % tmp]
    sandbox_hosts_off.post("/_emulator/hosts/config", json={"boot": [CUSTOMER]}).raise_for_status()
    result = run_playbook("playbooks/deploy.yml", *extra, extra_env={"M8TRX_DEVICE_WAIT_TIMEOUT": "90"})
    try:
        assert result.returncode == 0, result.stdout[-5000:]
        instance = live_instances(sandbox_env, CUSTOMER)[0]
        yield {"result": result, "instance_id": instance["InstanceId"], "launched": instance["LaunchTime"].timestamp(),
               "inv": extra, "hosts": sandbox_hosts_off}
    finally:
        gone = run_playbook("playbooks/destroy.yml", *extra, "-e", "destroy_confirm=%s" % CUSTOMER)
        sandbox_hosts_off.post("/_emulator/hosts/config", json={"boot": "none"}).raise_for_status()
        assert gone.returncode == 0, gone.stdout[-5000:]


def host_of(hosts, instance_id):
    return next((h for h in hosts.get("/_emulator/hosts").json()["hosts"] if h["instance_id"] == instance_id), None)


def test_the_instance_boots_the_production_user_data_and_is_approved(booted, sandbox_env, emulators):
    iid = booted["instance_id"]
    out = " ".join(booted["result"].stdout.split())  # the summary's lines are folded
    # the post-apply approval found the device the host registered (hostname = instance id)
    assert "device approved" in out, out[-3000:]
    # what the sandbox host cannot do is listed as skipped, never silently left out
    assert "first boot: package installation (customer_first_boot_packages_enabled=false)" in out
    assert "first boot: agent repository, compose/.env, Caddyfile and docker compose up" in out

    host = wait_for("the first boot to finish", lambda: (h := host_of(booted["hosts"], iid)) and h["first_boot"]
                    and h["first_boot"]["active"] != "activating" and h)
    assert host["first_boot"] == {"active": "active", "result": "success"}, booted["hosts"].get(
        "/_emulator/hosts/%s/first-boot-log" % iid).text
    container = host["container"]

    # the script that ran is the user-data EC2 holds, byte for byte
    user_data = aws(sandbox_env, "ec2").describe_instance_attribute(InstanceId=iid, Attribute="userData")["UserData"]["Value"]
    assert in_host(container, "cat", "/var/lib/cloud/instance/scripts/part-001") == base64.b64decode(user_data).decode()

    log = booted["hosts"].get("/_emulator/hosts/%s/first-boot-log" % iid).text
    assert [int(n) for n in re.findall(r"step (\d)(?:-\d)?/9", log)] == [1, 2, 3, 4, 5, 6], log
    assert "FAILED" not in log and "first boot: finished" in log
    # step 1: the host name is the instance id
    assert in_host(container, "hostname").strip() == iid

    ssm = aws(sandbox_env, "ssm")
    secret_values = [p["Value"] for p in ssm.get_parameters_by_path(Path="/m8trx/%s/" % CUSTOMER, WithDecryption=True)["Parameters"]
                     if p["Type"] == "SecureString"]
    assert len(secret_values) == 4
    journal = in_host(container, "journalctl", "--no-pager", "-o", "cat")
    for value in secret_values:
        assert value not in log and value not in journal

    # step 4: joined as the customer's tag, with the key file gone
    status = in_host(container, "tailscale", "status", "--json")
    assert '"BackendState": "Running"' in status.replace('":"', '": "')
    in_host(container, "test", "!", "-e", "/etc/m8trx/tailscale-auth-key")
    devices = [d for d in emulators["tailscale"].get("/_emulator/tailscale/state").json()["devices"] if d["hostname"] == iid]
    assert len(devices) == 1 and devices[0]["tags"] == ["tag:m8trx-cust-%s" % CUSTOMER] and devices[0]["authorized"]

    # step 5: brain.env root 0600 in a root 0700 directory, and the heartbeat trio byte for byte the role's files
    assert in_host(container, "stat", "-c", "%a %U:%G", "/etc/m8trx", "/etc/m8trx/brain.env").split("\n")[:2] == [
        "700 root:root", "600 root:root"]
    for path, (name, mode) in HEARTBEAT_FILES.items():
        shipped = hashlib.sha256((REPO / "roles/brain_heartbeat/files" / name).read_bytes()).hexdigest()
        assert in_host(container, "sha256sum", path).split()[0] == shipped, path
        assert in_host(container, "stat", "-c", "%a", path).strip() == mode
    assert in_host(container, "systemctl", "is-enabled", "m8trx-brain-heartbeat.timer").strip() == "enabled"


def test_the_brain_has_a_heartbeat_from_the_host_within_a_minute(booted, sandbox_env):
    iid = booted["instance_id"]
    admin = {"Authorization": "Bearer " + sandbox_env["M8TRX_BRAIN_ADMIN_TOKEN"]}

    def heartbeat():
        events = httpx.get("%s/admin/customers/cust_%s/events" % (sandbox_env["M8TRX_BRAIN_URL"], CUSTOMER),
                           params={"event_type": "heartbeat"}, headers=admin, timeout=10).json()
        return next((e for e in events if e["payload"]["hostname"] == iid), None)
    event = wait_for("a heartbeat from %s" % iid, heartbeat, timeout=60)
    assert event["payload"]["customer_id"] == "cust_" + CUSTOMER and event["payload"]["tailscale"] == "Running"
    received = calendar.timegm(time.strptime(event["received"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert received - booted["launched"] < 60, "first heartbeat %.0f s after the instance launched" % (received - booted["launched"])


def test_a_rerun_after_a_new_heartbeat_changes_nothing(booted, run_playbook, sandbox_env):
    """The welcome card holds nothing that depends on the time of the run: a heartbeat newer than the
    first run's shows in the summary, and the re-run reports changed=0 (AWX would mark it changed)."""
    iid = booted["instance_id"]
    brain_key = aws(sandbox_env, "ssm").get_parameter(Name="/m8trx/%s/brain-key" % CUSTOMER, WithDecryption=True)["Parameter"]["Value"]
    posted = httpx.post(sandbox_env["M8TRX_BRAIN_URL"] + "/v1/events", timeout=10,
                        json={"event_type": "heartbeat", "payload": {"hostname": iid, "customer_id": "cust_" + CUSTOMER,
                                                                     "tailscale": "Running"}},
                        headers={"Authorization": "Bearer " + brain_key})
    assert posted.status_code in (200, 201, 202), posted.text
    again = run_playbook("playbooks/deploy.yml", *booted["inv"])
    assert again.returncode == 0, again.stdout[-5000:]
    assert re.search(r"^%s\s+:.*changed=0\b" % CUSTOMER, again.stdout, re.M), again.stdout[-5000:]
    out = " ".join(again.stdout.split())
    assert "Heartbeat: received" in out and brain_key not in again.stdout
    card = next(p for p in booted["inv"] if p.startswith("customer_artifacts_dir=")).split("=", 1)[1]
    assert "Heartbeat" not in (Path(card) / ("%s-welcome.txt" % CUSTOMER)).read_text()


def test_the_metadata_service_requires_an_imdsv2_token(booted, sandbox_env):
    base = "%s/%s/latest" % (sandbox_env["M8TRX_SANDBOX_HOSTS_URL"], booted["instance_id"])
    assert httpx.get(base + "/meta-data/instance-id").status_code == 401   # HttpTokens=required
    assert httpx.put(base + "/api/token").status_code == 400               # no TTL header
    token = httpx.put(base + "/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}).text
    headers = {"X-aws-ec2-metadata-token": token}
    assert httpx.get(base + "/meta-data/instance-id", headers=headers).text == booted["instance_id"]
    assert httpx.get(base + "/meta-data/tags/instance/m8trx:customer", headers=headers).text == CUSTOMER
    role = httpx.get(base + "/meta-data/iam/security-credentials/", headers=headers).text
    assert role == "m8trx-%s-instance" % CUSTOMER
    assert httpx.get(base + "/meta-data/iam/security-credentials/" + role, headers=headers).json()["Code"] == "Success"
    other = "%s/i-0000000000000000/latest/meta-data/instance-id" % sandbox_env["M8TRX_SANDBOX_HOSTS_URL"]
    assert httpx.get(other, headers=headers).status_code in (401, 404)  # a token is bound to its instance


def test_destroy_removes_the_host(booted, run_playbook, sandbox_env, emulators):
    iid = booted["instance_id"]
    gone = run_playbook("playbooks/destroy.yml", *booted["inv"], "-e", "destroy_confirm=%s" % CUSTOMER)
    assert gone.returncode == 0, gone.stdout[-5000:]
    wait_for("the host container to go", lambda: host_of(booted["hosts"], iid) is None, timeout=30)
    env = dict(os.environ, CONTAINERS_CONF=str(REPO / "sandbox" / "containers.conf"))
    names = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, env=env,
                           check=True).stdout
    assert iid not in names
    assert not [d for d in emulators["tailscale"].get("/_emulator/tailscale/state").json()["devices"] if d["hostname"] == iid]
    assert all(not v for v in inventory_of(sandbox_env, CUSTOMER, emulators).values())
