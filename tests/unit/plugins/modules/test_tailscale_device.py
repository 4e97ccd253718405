# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tailscale_device and tailscale_device_info over a fake transport: exact matching, ambiguity, the
bounded wait (no sleep when the device is there), read-compare-write, check mode, delete."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.m8trx.deployer.plugins.module_utils import _tailscale_devices as devices
from ansible_collections.m8trx.deployer.plugins.module_utils._http import ApiClient, RetryPolicy
from ansible_collections.m8trx.deployer.plugins.modules import tailscale_device, tailscale_device_info

BASE = "https://ts.example/api/v2"


def device(node, hostname="i-0abc", created="2027-01-01T00:00:00Z", **extra):
    out = {"id": "1%s" % node[1:], "nodeId": node, "hostname": hostname, "name": hostname + ".tail.ts.net",
           "addresses": ["100.64.0.1"], "authorized": False, "tags": ["tag:a"], "keyExpiryDisabled": True,
           "created": created, "connectedToControl": False, "lastSeen": "2027-01-02T00:00:00Z"}
    out.update(extra)
    return out


class FakeTailscale:
    """/devices (with exact hostname and tags filters), /device/{id}, /authorized, /key, DELETE.
    ``appear_after``: the devices list is empty for that many list calls (a host still joining)."""

    def __init__(self, *devs, appear_after=0, honour_filters=True):
        self.devices = dict((d["nodeId"], d) for d in devs)
        self.calls, self.appear_after, self.honour_filters = [], appear_after, honour_filters

    def __call__(self, method, url, headers, body, timeout):
        path, _sep, query = url[len(BASE):].partition("?")
        self.calls.append((method, path, query))
        if method == "GET" and path == "/tailnet/-/devices":
            if self.appear_after > 0:
                self.appear_after -= 1
                return self.reply(200, {"devices": []})
            pairs = [p.split("=", 1) for p in query.split("&") if p]
            found = list(self.devices.values())
            for name, value in pairs if self.honour_filters else ():
                value = value.replace("%3A", ":")
                found = [d for d in found if (value in d["tags"] if name == "tags" else d.get(name) == value)]
            return self.reply(200, {"devices": found})
        node = path.split("/")[2]
        if node not in self.devices:
            return self.reply(404, {"message": "device not found"})
        if method == "GET":
            return self.reply(200, self.devices[node])
        if method == "DELETE":
            del self.devices[node]
            return self.reply(200, None)
        change = json.loads(body)
        self.devices[node].update(change)
        return self.reply(200, {})

    @staticmethod
    def reply(status, body):
        return status, [("Content-Type", "application/json")], json.dumps(body).encode() if body is not None else b""


class Clock:
    def __init__(self):
        self.now, self.sleeps = 100.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def run(monkeypatch, capsys, module, server, clock=None, **args):
    client = ApiClient(BASE, headers={"Authorization": "Bearer tskey-api-test"}, transport=server,
                       retry=RetryPolicy(sleep=lambda s: None))
    monkeypatch.setattr(module, "tailscale_client", lambda params: client)
    clock = clock or Clock()
    monkeypatch.setattr(tailscale_device.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(tailscale_device.time, "sleep", clock.sleep)
    params = dict(api_key="tskey-api-test")
    params.update(args)
    with patch_module_args(params), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def writes(server):
    return [c for c in server.calls if c[0] != "GET"]


def test_pick_fails_on_ambiguity_naming_every_device():
    pair = [device("nOLD", created="2027-01-01T00:00:00Z"), device("nNEW", created="2027-01-03T00:00:00Z")]
    with pytest.raises(devices.Ambiguous) as caught:
        devices.pick(pair, "i-0abc")
    assert "2 devices have the hostname 'i-0abc'" in str(caught.value)
    assert str(caught.value).index("nNEW") < str(caught.value).index("nOLD")  # newest first
    assert "last seen 2027-01-02T00:00:00Z" in str(caught.value)
    assert devices.pick(pair, "i-0abc", "newest")["nodeId"] == "nNEW"
    assert devices.pick([], "i-0abc") is None


def test_summary_defaults():
    view = devices.summary({"nodeId": "n1"})
    assert view["addresses"] == [] and view["tags"] == [] and view["authorized"] is False and view["lastSeen"] is None


def test_update_then_no_change(monkeypatch, capsys):
    server = FakeTailscale(device("n1"))
    result = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc", authorized=True,
                 key_expiry_disabled=False, _ansible_diff=True)
    assert result["changed"] and result["operation"] == "update"
    assert result["device"]["authorized"] and not result["device"]["keyExpiryDisabled"]
    assert result["diff"]["before"]["authorized"] is False and result["diff"]["after"]["authorized"] is True
    assert writes(server) == [("POST", "/device/n1/authorized", ""), ("POST", "/device/n1/key", "")]
    again = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc", authorized=True, key_expiry_disabled=False)
    assert not again["changed"] and len(writes(server)) == 2


def test_unset_attributes_are_not_managed(monkeypatch, capsys):
    server = FakeTailscale(device("n1"))
    result = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc")
    assert not result["changed"] and writes(server) == []


def test_check_mode_predicts_without_writing(monkeypatch, capsys):
    server = FakeTailscale(device("n1"))
    result = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc", authorized=True, _ansible_check_mode=True)
    assert result["changed"] and result["device"]["authorized"] and writes(server) == []
    assert server.devices["n1"]["authorized"] is False


def test_hostname_is_matched_exactly_even_if_the_server_ignores_the_filter(monkeypatch, capsys):
    server = FakeTailscale(device("n1", hostname="i-0abc"), device("n2", hostname="i-0abc-1"), honour_filters=False)
    result = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc")
    assert result["device"]["nodeId"] == "n1"


def test_duplicate_hostname_fails_or_takes_the_newest(monkeypatch, capsys):
    server = FakeTailscale(device("nOLD"), device("nNEW", created="2027-01-05T00:00:00Z"))
    result = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc", authorized=True)
    assert result["failed"] and "nOLD" in result["msg"] and "nNEW" in result["msg"] and writes(server) == []
    result = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc", authorized=True, duplicates="newest")
    assert result["device"]["nodeId"] == "nNEW" and writes(server) == [("POST", "/device/nNEW/authorized", "")]


def test_no_sleep_when_the_device_is_there(monkeypatch, capsys):
    clock = Clock()
    result = run(monkeypatch, capsys, tailscale_device, FakeTailscale(device("n1")), clock, hostname="i-0abc", wait=True)
    assert result["device"]["nodeId"] == "n1" and clock.sleeps == [] and result["waited"] == 0


def test_wait_polls_until_the_device_appears(monkeypatch, capsys):
    clock = Clock()
    server = FakeTailscale(device("n1"), appear_after=3)
    result = run(monkeypatch, capsys, tailscale_device, server, clock, hostname="i-0abc", wait=True, wait_timeout=60)
    assert result["device"]["nodeId"] == "n1"
    assert clock.sleeps == [2.0, 2.0, 2.0] and result["waited"] == 6.0


def test_wait_is_bounded(monkeypatch, capsys):
    clock = Clock()
    server = FakeTailscale(appear_after=1000)
    result = run(monkeypatch, capsys, tailscale_device, server, clock, hostname="i-0abc", wait=True, wait_timeout=5)
    assert result["failed"] and "after waiting 5 seconds" in result["msg"]
    assert sum(clock.sleeps) == 5 and clock.sleeps[-1] == 1.0


def test_missing_without_wait_fails_and_absent_is_a_noop(monkeypatch, capsys):
    server = FakeTailscale()
    result = run(monkeypatch, capsys, tailscale_device, server, hostname="i-0abc")
    assert result["failed"] and "set wait=true" in result["msg"]
    result = run(monkeypatch, capsys, tailscale_device, server, device_id="nGONE", state="absent")
    assert not result["changed"] and result["device"] is None


def test_delete_by_id(monkeypatch, capsys):
    server = FakeTailscale(device("n1"))
    result = run(monkeypatch, capsys, tailscale_device, server, device_id="n1", state="absent")
    assert result["changed"] and result["operation"] == "delete" and server.devices == {}


@pytest.mark.parametrize("args, fragment", [
    (dict(hostname=""), "must not be empty"),
    (dict(hostname="i-0abc", wait=True, wait_timeout=0), "wait_timeout must be a positive"),
])
def test_bad_input_fails_before_any_request(monkeypatch, capsys, args, fragment):
    server = FakeTailscale(device("n1"))
    result = run(monkeypatch, capsys, tailscale_device, server, **args)
    assert result["failed"] and fragment in result["msg"] and server.calls == []


def test_info_filters_and_orders(monkeypatch, capsys):
    server = FakeTailscale(device("nOLD"), device("nNEW", created="2027-01-05T00:00:00Z"),
                           device("nB", hostname="i-0b", tags=["tag:b"]), honour_filters=False)
    result = run(monkeypatch, capsys, tailscale_device_info, server, hostname="i-0abc")
    assert [d["nodeId"] for d in result["devices"]] == ["nNEW", "nOLD"] and not result["changed"]
    result = run(monkeypatch, capsys, tailscale_device_info, server, tags=["tag:b"])
    assert [d["nodeId"] for d in result["devices"]] == ["nB"]
    assert server.calls[-1][2] == "tags=tag%3Ab"
