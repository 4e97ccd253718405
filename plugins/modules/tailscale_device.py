#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tailscale_device
short_description: Find a Tailscale device by exact hostname or id, approve it, set key expiry, or delete it
version_added: 0.1.0
description:
  - Finds one device by its exact O(hostname) (for an EC2 host, its instance id) or by O(device_id), optionally
    waiting for it to join, and sets whether it is authorized and whether its node key expires.
  - Several devices with one hostname (a host that joined twice, a stale node not yet reaped) are never resolved
    by taking the first; the module fails naming each with its creation time and last contact, unless
    O(duplicates=newest).
  - O(state=absent) deletes the device; a device that does not exist is a no-op.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - m8trx.deployer.tailscale
attributes:
  check_mode:
    description: Reads (and waits) only; predicts the changed device.
    support: full
  diff_mode:
    description: Shows the device before and after.
    support: full
options:
  hostname:
    description: The device's exact hostname (the machine name the node reported, not the MagicDNS name).
    type: str
  device_id:
    description: The device's node id (C(n...CNTRL), preferred) or legacy numeric id.
    type: str
  wait:
    description:
      - Wait for the device to appear (a node joins asynchronously). Polls every 2 seconds, at most O(wait_timeout)
        seconds; a device that is already there is returned at once.
      - Ignored with O(state=absent).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true) before failing.
    type: int
    default: 300
  authorized:
    description:
      - Whether the device is approved (meaningful when device approval is on). V(false) disconnects it until it is
        approved again. Not managed when unset.
    type: bool
  key_expiry_disabled:
    description:
      - Whether the device's node key never expires. Tagged devices join with expiry disabled. Not managed when unset.
    type: bool
  duplicates:
    description: What to do when several devices have O(hostname) - V(fail) naming them, or use the V(newest) (by creation).
    type: str
    choices: [fail, newest]
    default: fail
  state:
    description: V(absent) deletes the device.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: m8trx.deployer.tailscale_device_info
  - module: m8trx.deployer.tailscale_authkey
"""

EXAMPLES = r"""
- name: Wait for the customer's instance to join, approve it and keep its key from expiring
  m8trx.deployer.tailscale_device:
    hostname: i-0123456789abcdef0
    wait: true
    wait_timeout: 600
    authorized: true
    key_expiry_disabled: true
  register: ts_device

- name: Remove the device when the customer is destroyed
  m8trx.deployer.tailscale_device:
    hostname: i-0123456789abcdef0
    state: absent
"""

RETURN = r"""
device:
  description: The device after the run (predicted in check mode); null when it does not exist (any more).
  returned: always
  type: dict
  contains:
    id:
      description: Legacy numeric id.
      type: str
      sample: "123456789012345"
    nodeId:
      description: Node id (preferred).
      type: str
      sample: nAbCdEf1234CNTRL
    hostname:
      description: Hostname reported by the node.
      type: str
      sample: i-0123456789abcdef0
    name:
      description: MagicDNS name.
      type: str
      sample: i-0123456789abcdef0.tail1234.ts.net
    addresses:
      description: Tailscale IPv4 and IPv6 addresses.
      type: list
      elements: str
      sample: ["100.64.0.1", "fd7a:115c:a1e0::1"]
    authorized:
      description: Whether the device is approved.
      type: bool
      sample: true
    tags:
      description: The device's tags.
      type: list
      elements: str
      sample: ["tag:m8trx-cust-acme"]
    keyExpiryDisabled:
      description: Whether the node key never expires.
      type: bool
      sample: true
    lastSeen:
      description: Last contact (UTC); null while the node is connected.
      type: str
      sample: "2026-05-05T10:00:00Z"
    connectedToControl:
      description: Whether the node is connected now.
      type: bool
      sample: true
    created:
      description: When the device joined (UTC).
      type: str
      sample: "2026-05-05T09:58:00Z"
    expires:
      description: When the node key expires (UTC).
      type: str
      sample: "2026-11-01T09:58:00Z"
    isEphemeral:
      description: Whether the device is ephemeral.
      type: bool
      sample: true
    os:
      description: Operating system.
      type: str
      sample: linux
    user:
      description: Owner; C(tagged-devices) for tagged nodes.
      type: str
      sample: tagged-devices
waited:
  description: Seconds spent waiting for the device to appear (0 when it was there).
  returned: always
  type: float
  sample: 0
operation:
  description: V(update) or V(delete).
  returned: when changed
  type: str
  sample: update
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m8trx.deployer.plugins.module_utils._api import TAILSCALE_ARGSPEC, run_module, tailscale_client, tailscale_tailnet
from ansible_collections.m8trx.deployer.plugins.module_utils._reconcile import reconcile
from ansible_collections.m8trx.deployer.plugins.module_utils._tailscale_devices import Ambiguous, Devices, pick, summary

POLL_INTERVAL = 2.0


def main():
    argument_spec = dict(
        hostname=dict(type="str"),
        device_id=dict(type="str"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        authorized=dict(type="bool"),
        key_expiry_disabled=dict(type="bool"),
        duplicates=dict(type="str", choices=["fail", "newest"], default="fail"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    argument_spec.update(TAILSCALE_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("hostname", "device_id")], required_one_of=[("hostname", "device_id")])
    params = module.params
    what = "hostname %r" % params["hostname"] if params["hostname"] is not None else "id %r" % params["device_id"]
    if not (params["hostname"] or params["device_id"] or "").strip():
        module.fail_json(msg="hostname or device_id must not be empty")
    if params["wait"] and params["wait_timeout"] <= 0:
        module.fail_json(msg="wait_timeout must be a positive number of seconds, got %d" % params["wait_timeout"])

    def execute():
        devices = Devices(tailscale_client(params), tailscale_tailnet(params))

        def find():
            if params["device_id"]:
                found = devices.get(params["device_id"])
                return found if isinstance(found, dict) else None
            return pick(devices.list(hostname=params["hostname"]), params["hostname"], params["duplicates"])

        started = time.monotonic()
        deadline = started + params["wait_timeout"]
        try:
            device = find()
            while device is None and params["wait"] and params["state"] == "present" and time.monotonic() < deadline:
                time.sleep(max(0.0, min(POLL_INTERVAL, deadline - time.monotonic())))
                device = find()
        except Ambiguous as exc:
            module.fail_json(msg=str(exc))
        waited = round(time.monotonic() - started, 1) if params["wait"] else 0.0
        if device is None and params["state"] == "present":
            module.fail_json(msg="no device with %s in the tailnet%s" % (
                what, " after waiting %d seconds" % params["wait_timeout"] if params["wait"] else
                " (set wait=true to wait for it to join)"), waited=waited)
        current = summary(device) if device is not None else None
        node = (current or {}).get("nodeId") or (current or {}).get("id")

        def update(patch, _current):
            if "authorized" in patch:
                devices.set_authorized(node, patch["authorized"])
            if "keyExpiryDisabled" in patch:
                devices.set_key_expiry_disabled(node, patch["keyExpiryDisabled"])
            fresh = devices.get(node)
            return summary(fresh) if isinstance(fresh, dict) else None

        outcome = reconcile(current, dict(authorized=params["authorized"], keyExpiryDisabled=params["key_expiry_disabled"]),
                            check_mode=module.check_mode, state=params["state"], create=None, update=update,
                            delete=lambda _current: devices.delete(node))
        result = dict(changed=outcome["changed"], device=outcome["after"], waited=waited, diff=outcome["diff"])
        if outcome["changed"]:
            result["operation"] = outcome["operation"]
        return result

    run_module(module, execute)


if __name__ == "__main__":
    main()
