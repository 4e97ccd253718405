#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tailscale_device_info
short_description: List Tailscale devices, filtered by exact hostname and tags
version_added: 0.1.0
description:
  - Lists the tailnet's devices (C(GET /tailnet/{tailnet}/devices)), filtered on the server and checked again here,
    so O(hostname) matches exactly and every device carries all of O(tags).
  - Several devices with one hostname are all returned, newest first.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - m8trx.deployer.tailscale
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
options:
  hostname:
    description: Only the devices with exactly this hostname.
    type: str
  tags:
    description: Only the devices that carry every one of these tags.
    type: list
    elements: str
    default: []
seealso:
  - module: m8trx.deployer.tailscale_device
"""

EXAMPLES = r"""
- name: Every device of one customer
  m8trx.deployer.tailscale_device_info:
    tags: [tag:m8trx-cust-acme]
  register: ts_devices

- name: The devices that answer to an instance id
  m8trx.deployer.tailscale_device_info:
    hostname: i-0123456789abcdef0
  register: ts_same_host
"""

RETURN = r"""
devices:
  description: The matching devices, newest first.
  returned: always
  type: list
  elements: dict
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
      sample: tagged-devices"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m8trx.deployer.plugins.module_utils._api import TAILSCALE_ARGSPEC, run_module, tailscale_client, tailscale_tailnet
from ansible_collections.m8trx.deployer.plugins.module_utils._tailscale_devices import Devices, newest_first, summary
from ansible_collections.m8trx.deployer.plugins.module_utils._tailscale_keys import TAG


def main():
    argument_spec = dict(
        hostname=dict(type="str"),
        tags=dict(type="list", elements="str", default=[]),
    )
    argument_spec.update(TAILSCALE_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    bad = [tag for tag in params["tags"] if not TAG.match(tag)]
    if bad:
        module.fail_json(msg="tags %s are not valid: each tag is tag: followed by letters, digits and dashes" % ", ".join(bad))
    if params["hostname"] is not None and not params["hostname"].strip():
        module.fail_json(msg="hostname must not be empty; leave it unset to list every device")

    def execute():
        devices = Devices(tailscale_client(params), tailscale_tailnet(params))
        found = devices.list(hostname=params["hostname"], tags=params["tags"])
        return dict(changed=False, devices=[summary(d) for d in newest_first(found)])

    run_module(module, execute, devices=[])


if __name__ == "__main__":
    main()
