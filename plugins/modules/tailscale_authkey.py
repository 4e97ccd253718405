#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tailscale_authkey
short_description: Mint, rotate ahead of expiry, or revoke a tag-bound Tailscale auth key
version_added: 0.1.0
description:
  - Keeps one valid Tailscale auth key per O(description) with the wanted capabilities, and returns its
    secret once, on the run that mints it.
  - The API never returns a key's secret again, so a key is identified by O(description) and matched on its
    capabilities (O(tags) as a set, O(reusable), O(ephemeral), O(preauthorized)). It reads every key of the
    tailnet (C(GET /keys?all=true), details where the listing lacks them) and keeps the newest valid
    matching key while it has more than O(rotate_before) left; otherwise it mints a new key and, with
    O(revoke_replaced), revokes the keys it supersedes.
  - Before minting, the tags are checked against the policy file's C(tagOwners) (one read of the policy), so
    a missing tag fails naming it instead of the API's opaque C(requested tags are invalid or not permitted).
  - Time left is measured on the control plane's clock (the C(Date) header of the listing), so a skewed
    controller clock neither churns keys nor misses a rotation.
  - If the answer to the mint is lost (server error or dropped connection), the keys with this description
    that appeared meanwhile are revoked (their secret is lost) and the mint is repeated, at most 3 times.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - m8trx.deployer.tailscale
attributes:
  check_mode:
    description: Reads only; predicts the key that would be minted and the keys that would be revoked.
    support: full
  diff_mode:
    description: Shows the valid keys with this description before and after; the secret is always C([redacted]).
    support: full
options:
  description:
    description:
      - The key's identity, 1-50 letters, digits, dashes and spaces. Keep it unique per purpose,
        for example V(m8trx acme agent).
    type: str
    required: true
  tags:
    description:
      - Tags every device joining with the key gets, each C(tag:) followed by letters, digits and dashes.
      - Each must exist in the policy's C(tagOwners). Required with OAuth client credentials (tailnet-owned keys
        must be tagged).
    type: list
    elements: str
    default: []
  reusable:
    description: Whether the key can join more than one device.
    type: bool
    default: false
  ephemeral:
    description: Whether devices joining with the key are removed automatically once they go offline.
    type: bool
    default: false
  preauthorized:
    description:
      - Whether devices joining with the key are approved without review when device approval is on.
      - Off by default like the API; approve devices with M(m8trx.deployer.tailscale_device) instead, or set it.
    type: bool
    default: false
  expiry:
    description:
      - How long a newly minted key is valid, at most 90 days.
      - Seconds (an integer) or a number with a unit C(s), C(m), C(h), C(d) or C(w), for example V(90d) or V(12h).
    type: raw
    default: 90d
  rotate_before:
    description:
      - Mint a replacement when the matching key has this long or less left; same format as O(expiry) and shorter
        than it. V(0) replaces a key only once it has expired.
    type: raw
    default: 7d
  revoke_replaced:
    description:
      - After minting, revoke the other valid keys with this O(description) (the one being rotated out and any with
        other capabilities). Devices that already joined with them stay joined.
    type: bool
    default: true
  state:
    description: V(absent) revokes every valid key with this O(description).
    type: str
    choices: [present, absent]
    default: present
notes:
  - The secret is in RV(auth_key) only on the run that mints it. Run the task with C(no_log=true) and store the
    secret right away (for example with M(m8trx.deployer.ssm_bundle)); on the node, prefer
    C(tailscale up --auth-key=file:/path) so it stays out of the process list.
seealso:
  - module: m8trx.deployer.tailscale_acl
  - module: m8trx.deployer.tailscale_device
"""

EXAMPLES = r"""
- name: Tag-bound, ephemeral, preauthorized 90-day key for one customer, renewed a week before expiry
  m8trx.deployer.tailscale_authkey:
    description: m8trx acme agent
    tags: [tag:m8trx-cust-acme]
    ephemeral: true
    preauthorized: true
    expiry: 90d
    rotate_before: 7d
  register: ts_key
  no_log: true

- name: Revoke the customer's keys
  m8trx.deployer.tailscale_authkey:
    description: m8trx acme agent
    state: absent
"""

RETURN = r"""
auth_key:
  description: The key's secret (C(tskey-auth-...)). Returned once, on the run that mints it; use C(no_log).
  returned: when a key was minted (not in check mode)
  type: str
key:
  description: The kept, minted or (check mode) predicted key; never the secret.
  returned: when O(state=present)
  type: dict
  contains:
    id:
      description: The key id (null when predicted in check mode).
      type: str
      sample: kAbCdEf123CNTRL
    description:
      description: The key's description.
      type: str
      sample: m8trx acme agent
    created:
      description: When the key was minted (UTC).
      type: str
      sample: "2026-05-05T10:00:00Z"
    expires:
      description: When the key expires (UTC).
      type: str
      sample: "2026-08-03T10:00:00Z"
    invalid:
      description: Whether the key is revoked or expired.
      type: bool
      sample: false
    tags:
      description: The tags, sorted.
      type: list
      elements: str
      sample: ["tag:m8trx-cust-acme"]
    reusable:
      description: Whether the key can join several devices.
      type: bool
      sample: false
    ephemeral:
      description: Whether its devices are ephemeral.
      type: bool
      sample: true
    preauthorized:
      description: Whether its devices are preauthorized.
      type: bool
      sample: true
duplicates:
  description: Other valid keys with this description when one was kept (same shape as RV(key)); revoke them with
    O(state=absent) or let the next rotation with O(revoke_replaced) do it.
  returned: always
  type: list
  elements: dict
replaced:
  description: The valid keys with this description that the minted key supersedes (same shape as RV(key)).
  returned: always
  type: list
  elements: dict
revoked:
  description: Ids of the keys revoked (predicted in check mode).
  returned: always
  type: list
  elements: str
operation:
  description: V(create) (no key had the description), V(rotate) (the matching key was due),
    V(replace) (only keys with other capabilities existed) or V(delete).
  returned: when changed
  type: str
  sample: rotate
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m8trx.deployer.plugins.module_utils import _tailscale_keys as keys
from ansible_collections.m8trx.deployer.plugins.module_utils._api import TAILSCALE_ARGSPEC, run_module, tailscale_client, tailscale_tailnet
from ansible_collections.m8trx.deployer.plugins.module_utils._reconcile import REDACTED


def main():
    argument_spec = dict(
        description=dict(type="str", required=True),
        tags=dict(type="list", elements="str", default=[]),
        reusable=dict(type="bool", default=False),
        ephemeral=dict(type="bool", default=False),
        preauthorized=dict(type="bool", default=False),
        expiry=dict(type="raw", default="90d"),
        rotate_before=dict(type="raw", default="7d"),
        revoke_replaced=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    argument_spec.update(TAILSCALE_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        wanted = keys.validate(params, oauth=not params.get("api_key") and bool(params.get("oauth_client_id")))
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    def execute():
        api = keys.Keys(tailscale_client(params), tailscale_tailnet(params))
        listed, now = api.list(wanted["description"])
        decision = keys.plan(listed, wanted, now)
        before = [keys.summary(k) for k in decision["valid"]]
        result = dict(changed=False, duplicates=[keys.summary(k) for k in decision["duplicates"]],
                      replaced=[keys.summary(k) for k in decision["replaced"]], revoked=[])
        if decision["keep"] is not None:
            result["key"] = keys.summary(decision["keep"])
            if result["duplicates"]:
                module.warn("%d other valid key(s) share the description %r: %s; the newest matching key (%s) is kept"
                            % (len(result["duplicates"]), wanted["description"],
                               ", ".join(d["id"] for d in result["duplicates"]), result["key"]["id"]))
        operation = decision["operation"]
        if operation is None:
            result["diff"] = dict(before=dict(keys=before), after=dict(keys=before))
            return result
        to_revoke = [k["id"] for k in result["replaced"]] if operation == "delete" or params["revoke_replaced"] else []
        after = [k for k in before if k["id"] not in to_revoke]
        result.update(changed=True, operation=operation, revoked=to_revoke)
        if operation != "delete":
            missing = api.tags_missing_from_policy(wanted["tags"], module.warn)
            if missing:
                module.fail_json(msg="tags %s are not in the policy file's tagOwners: add them (for example with "
                                     "m8trx.deployer.tailscale_acl) before minting a key for them" % ", ".join(missing),
                                 changed=False)
            result["key"] = keys.predicted(wanted, now)
            if not module.check_mode:
                minted = api.mint(wanted, set(k.get("id") for k in listed))
                result.update(key=keys.summary(minted), auth_key=minted.get("key"))
            after.insert(0, dict(result["key"], secret=REDACTED))
        if not module.check_mode:
            for key_id in to_revoke:
                api.revoke(key_id)
        result["diff"] = dict(before=dict(keys=before), after=dict(keys=after))
        return result

    run_module(module, execute)


if __name__ == "__main__":
    main()
