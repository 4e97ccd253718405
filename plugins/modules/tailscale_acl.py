#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tailscale_acl
short_description: Add or remove customers' tagOwners entries and isolation rules in the Tailscale policy file
version_added: 0.1.0
description:
  - Manages, for each customer in O(customers), the entries of the tailnet policy file that belong to its tag
    C(<tag_prefix><name>) - and nothing else. Every other byte of the file (comments, key order, trailing commas,
    other rules) is left exactly as it was.
  - "Owned entries, per customer tag C(T): C(tagOwners[T]) (value O(tag_owners)); the intra-customer rule
    C({action: accept, src: [T], dst: [T:*]}); the customer to brain rule C({src: [T], dst: [<brain_tag>:<brain_port>]});
    the operator rule C({src: [<operator_tags>, <brain_tag>], dst: [T:*]})."
  - An C(acls) rule is owned when it has exactly one of those shapes (C(src)/C(dst) compared as sets, no other key),
    or when it carries the trailing comment C(// m8trx-managed) (which this module adds to the rules it writes) and
    names C(T); so rules written for an earlier O(brain_port) or O(brain_tag) are replaced rather than left behind.
    The namespace O(tag_prefix) belongs to this module.
  - The operator and brain tags get a C(tagOwners) entry (O(tag_owners)) when they have none; existing entries for
    them are never changed or removed, since they are shared.
  - One call for many customers reads the policy once (C(GET), as HuJSON) and writes it at most once (C(POST) as
    C(application/hujson), so comments survive) with C(If-Match) set to the ETag that was read, after
    C(POST /acl/validate) accepted the edited text (a C(200) answer carrying a message is a refusal). When the write
    fails with C(412) (someone else changed the file), the module reads again, re-applies its entries, validates and
    writes again, up to O(max_retries) times.
  - "Isolation guard: before writing, the module checks the resulting policy and fails, naming each offending rule
    (section, index, line and content), when any C(acls), C(grants) or C(ssh) rule lets one customer tag reach
    another: a rule between two different customer tags, or a wildcard on one side and a customer tag or wildcard
    on the other. Wildcards are C(*), C(autogroup:tagged), C(autogroup:danger-all) and addresses inside the
    tailnet ranges C(100.64.0.0/10) and C(fd7a:115c:a1e0::/48) (also through C(hosts) aliases)."
  - "The default Tailscale policy allows everything (C({action: accept, src: [*], dst: [*:*]})), which breaks
    isolation, so the module refuses to run against it until that rule is removed from the file, or
    O(remove_allow_all=true) lets the module drop exactly that rule (and the grant C({src: [*], dst: [*], ip: [*]}))
    in the same write."
  - "A policy with neither an C(acls) nor a C(grants) section is allow-all too: Tailscale lets every device reach
    every other when both keys are absent (by design, U(https://github.com/tailscale/tailscale/issues/2799)),
    whereas once either key is present, even as an empty list (C(\"acls\": []), C(\"grants\": [])), whatever no
    rule allows is denied. Writing this module's C(acls) section would
    therefore silently make the tailnet default-deny and cut off every device no rule covers, so the module refuses
    such a policy, like the explicit allow-all rule, unless O(remove_allow_all=true); then it writes its rules (an
    empty C(acls) section with O(state=absent)) and the result is default-deny plus those rules. A policy with only
    a C(grants) section, or with C(\"acls\": []), is not allow-all and needs no O(remove_allow_all)."
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - m8trx.deployer.tailscale
attributes:
  check_mode:
    description: Reads the policy once and predicts the result (isolation guard included); no C(POST) at all,
      not even the validation call.
    support: full
  diff_mode:
    description: Shows the policy file text before and after the edit (the policy holds no secrets).
    support: full
options:
  customers:
    description:
      - The customer names, 3-32 lowercase letters, digits and hyphens, starting with a letter and ending with a
        letter or digit. All of them are handled in one read and at most one write.
    type: list
    elements: str
    required: true
  state:
    description: Whether the customers' entries are in the policy file.
    type: str
    choices: [present, absent]
    default: present
  tag_prefix:
    description:
      - Prefix of the customer tags; the tag of customer C(acme) is V(tag:m8trx-cust-acme).
      - Tailscale tags are C(tag:) followed by letters, digits and dashes only.
    type: str
    default: "tag:m8trx-cust-"
  tag_owners:
    description: Who may apply a customer tag (the value of its C(tagOwners) entry).
    type: list
    elements: str
    default: [autogroup:admin]
  operator_tags:
    description:
      - Tags of the operator devices (the dashboard host) that reach every customer on every port.
      - Must not start with O(tag_prefix).
    type: list
    elements: str
    default: ["tag:mgmt"]
  brain_tag:
    description:
      - Tag of the brain telemetry service. It reaches every customer on every port (with the operator tags),
        and every customer reaches it on O(brain_port) only.
      - Must not start with O(tag_prefix).
    type: str
    default: "tag:m8trx-brain"
  brain_port:
    description:
      - The port customers reach the brain on. The brain's telemetry API (C(POST /v1/events)) is served over
        HTTPS on the tailnet (C(brain_url) without a port), hence V(443).
    type: int
    default: 443
  remove_allow_all:
    description:
      - "Drop the allow-all rule C({action: accept, src: [*], dst: [*:*]}) (and the allow-all grant
        C({src: [*], dst: [*], ip: [*]})) in the same write. Only those exact rules; any other rule that breaks
        isolation still fails the module."
      - On a policy with neither an C(acls) nor a C(grants) section (implicitly allow-all), accept that the write
        adds an C(acls) section and so turns the tailnet default-deny plus this module's rules; other devices keep
        only the access that rules in the policy give them.
      - When V(false), a policy that contains them, or has neither section, fails with a message saying so.
    type: bool
    default: false
  max_retries:
    description:
      - How many times to read, re-apply and write again after a C(412 precondition failed).
      - Each 412 means another writer's change landed in between; with N calls writing at the same time, a call
        is refused at most N-1 times.
    type: int
    default: 5
  validate:
    description: Validate the edited policy with C(POST /acl/validate) before writing it.
    type: bool
    default: true
notes:
  - A customer's rules are written on lines of their own, each with a trailing C(// m8trx-managed) comment. Editing a
    marked rule by hand is pointless (the module puts back its own shape); to keep a hand-written rule, leave the
    marker off.
  - The isolation guard does not expand C(ipset:) selectors, posture conditions or C(via) routes; keep customer
    traffic rules tag-based.
  - With O(state=absent) the module refuses to remove a tag that other parts of the policy (rules, grants, tests,
    C(autoApprovers), other tags' owners) still refer to, and names them.
  - "Order with other modules: add the customers' entries before minting auth keys for their tags
    (M(m8trx.deployer.tailscale_authkey) needs the tag in C(tagOwners)); remove them after revoking the keys."
seealso:
  - module: m8trx.deployer.tailscale_authkey
"""

EXAMPLES = r"""
- name: Isolate three customers on the tailnet (one read, one write)
  m8trx.deployer.tailscale_acl:
    customers: [acme, bigco, initech]
    remove_allow_all: true

- name: A brain that listens on 8443, operators tagged tag:ops
  m8trx.deployer.tailscale_acl:
    customers: [acme]
    brain_port: 8443
    operator_tags: ["tag:ops"]

- name: Remove a decommissioned customer's entries
  m8trx.deployer.tailscale_acl:
    customers: [initech]
    state: absent
"""

RETURN = r"""
tags:
  description: The customer tags handled by the call.
  returned: always
  type: list
  elements: str
  sample: ["tag:m8trx-cust-acme", "tag:m8trx-cust-bigco"]
policy_etag:
  description: The policy file's ETag after the write (the one read when nothing was written).
  returned: always
  type: str
  sample: '"9b3c0e4d..."'
customers:
  description: What was done per customer.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The customer name.
      type: str
      sample: acme
    tag:
      description: Its tag.
      type: str
      sample: tag:m8trx-cust-acme
    operation:
      description: V(create), V(update), V(delete), or null when its entries were already as wanted.
      type: str
      sample: create
removed_allow_all:
  description:
    - The allow-all rules dropped because of O(remove_allow_all) (section, index and line in the file read).
    - V(no "acls" or "grants" section (implicit allow-all)) when the policy read had neither section and the
      module wrote an C(acls) section.
  returned: always
  type: list
  elements: str
  sample: ["acls[0] (line 21)"]
retries:
  description: How many times the write was refused with 412 and redone.
  returned: always
  type: int
  sample: 0
operation:
  description: V(create) (only new customers' entries added), V(update) or V(delete).
  returned: when changed
  type: str
  sample: create
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m8trx.deployer.plugins.module_utils import _tailscale_policy as policy
from ansible_collections.m8trx.deployer.plugins.module_utils._api import TAILSCALE_ARGSPEC, run_module, tailscale_client, tailscale_tailnet
from ansible_collections.m8trx.deployer.plugins.module_utils._customers import TAG_PREFIX


def main():
    argument_spec = dict(
        customers=dict(type="list", elements="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        tag_prefix=dict(type="str", default=TAG_PREFIX),
        tag_owners=dict(type="list", elements="str", default=["autogroup:admin"]),
        operator_tags=dict(type="list", elements="str", default=["tag:mgmt"]),
        brain_tag=dict(type="str", default="tag:m8trx-brain"),
        brain_port=dict(type="int", default=443),
        remove_allow_all=dict(type="bool", default=False),
        max_retries=dict(type="int", default=5),
        validate=dict(type="bool", default=True),
    )
    argument_spec.update(TAILSCALE_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        cfg = policy.validate(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    def execute():
        api = policy.PolicyFile(tailscale_client(params), tailscale_tailnet(params))
        try:
            return policy.apply(api, cfg, check_mode=module.check_mode, validate_first=params["validate"],
                                max_retries=params["max_retries"])
        except policy.PolicyError as exc:
            module.fail_json(msg=str(exc), changed=False, tags=cfg["tags"])

    run_module(module, execute, changed=False, tags=cfg["tags"])


if __name__ == "__main__":
    main()
