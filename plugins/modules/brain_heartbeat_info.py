#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: brain_heartbeat_info
short_description: Read a customer's heartbeats from the brain telemetry service, optionally waiting for one
version_added: 0.1.0
description:
  - Lists the C(heartbeat) events the brain stored for a customer (C(GET /admin/customers/{id}/events)),
    newest last, optionally only those of one host.
  - With O(wait=true) it polls until at least one matching heartbeat exists or O(wait_timeout) passes;
    it then returns what it has (possibly nothing, with RV(timed_out=true)) instead of failing, so the
    caller decides whether a silent host is an error.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - m8trx.deployer.brain
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
options:
  customer_id:
    description: The brain's customer id, matching C(^cust_[a-z0-9_]+$).
    type: str
    required: true
  hostname:
    description: Only heartbeats whose payload names this host (for a customer host, its instance id).
    type: str
  since:
    description: Only heartbeats the brain received at or after this time (ISO 8601, UTC, for example V(2026-11-25T10:00:00Z)).
    type: str
  limit:
    description: How many of the newest events to read (1-1000).
    type: int
    default: 100
  wait:
    description: Poll until a matching heartbeat exists.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 120
  poll_interval:
    description: Seconds between polls with O(wait=true).
    type: float
    default: 2
seealso:
  - module: m8trx.deployer.brain_customer
"""

EXAMPLES = r"""
- name: Wait for the first heartbeat of a new host
  m8trx.deployer.brain_heartbeat_info:
    customer_id: cust_acme
    hostname: i-0123456789abcdef0
    wait: true
    wait_timeout: 90
  register: beat

- name: Show it
  ansible.builtin.debug:
    msg: "{{ beat.last.received | default('no heartbeat yet') }}"
"""

RETURN = r"""
heartbeats:
  description: The matching heartbeat events, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The brain's event id.
      type: int
    hostname:
      description: The host that sent it.
      type: str
    received:
      description: When the brain received it (ISO 8601, UTC).
      type: str
    payload:
      description: The heartbeat payload (hostname, customer_id, uptime_s, load, tailscale).
      type: dict
last:
  description: The newest matching heartbeat; omitted when there is none.
  returned: when there is one
  type: dict
timed_out:
  description: Whether O(wait=true) ended without a matching heartbeat.
  returned: always
  type: bool
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
"""

import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m8trx.deployer.plugins.module_utils._api import BRAIN_ARGSPEC, brain_client, run_module

CUSTOMER_ID = re.compile(r"^cust_[a-z0-9_]+$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def matching(events, hostname, since):
    found = []
    for event in events or []:
        payload = event.get("payload") or {}
        host = event.get("hostname") or payload.get("hostname")
        if hostname and host != hostname:
            continue
        if since and (event.get("received") or "") < since:
            continue
        found.append(dict(id=event.get("id"), hostname=host, received=event.get("received"), payload=payload))
    return found


def main():
    argument_spec = dict(
        customer_id=dict(type="str", required=True),
        hostname=dict(type="str"),
        since=dict(type="str"),
        limit=dict(type="int", default=100),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=120),
        poll_interval=dict(type="float", default=2),
    )
    argument_spec.update(BRAIN_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if not CUSTOMER_ID.match(params["customer_id"]):
        module.fail_json(msg="customer_id %r is not valid: it must match ^cust_[a-z0-9_]+$" % params["customer_id"])
    if not 1 <= params["limit"] <= 1000:
        module.fail_json(msg="limit must be between 1 and 1000, not %d" % params["limit"])
    if params["since"] and not ISO.match(params["since"]):
        module.fail_json(msg="since %r is not an ISO 8601 UTC time such as 2026-11-25T10:00:00Z" % params["since"])
    if params["wait_timeout"] < 0 or params["poll_interval"] <= 0:
        module.fail_json(msg="wait_timeout must be >= 0 and poll_interval > 0")
    # the brain stores milliseconds ("…:05.055Z"): compare without the zone letter so both forms order right
    since = params["since"].rstrip("Z") if params["since"] else None

    def execute():
        client = brain_client(params)
        start = time.monotonic()
        while True:
            events = client.get("/admin/customers/%s/events" % params["customer_id"],
                                query={"event_type": "heartbeat", "limit": params["limit"]}).json
            found = matching(events, params["hostname"], since)
            waited = time.monotonic() - start
            if found or not params["wait"] or waited >= params["wait_timeout"]:
                break
            time.sleep(min(params["poll_interval"], max(params["wait_timeout"] - waited, 0.1)))
        result = dict(changed=False, heartbeats=found, timed_out=bool(params["wait"] and not found),
                      waited=round(time.monotonic() - start, 1))
        if found:
            result["last"] = found[-1]
        return result

    run_module(module, execute, heartbeats=[], timed_out=False)


if __name__ == "__main__":
    main()
