#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: brain_customer
short_description: Mint or delete a customer (and its API key) in the brain telemetry service
version_added: 0.1.0
description:
  - Creates a customer in the brain (C(POST /admin/customers)) and returns its API key once, or deletes
    it (C(DELETE /admin/customers/{id}), which cascades its events, keys and agents).
  - The brain has no read endpoint for a customer; existence is probed with
    C(GET /admin/customers/{id}/events?limit=1) (200 exists, 404 missing), so check mode and a re-run
    never mint.
  - A customer that already exists is never adopted silently - the brain cannot hand out its key again,
    and taking over an id could give a new deployment another tenant's events. It is reported as
    existing (no key returned) unless O(recreate=true).
  - If the response to the mint is lost (server error or dropped connection after the request was sent)
    and the customer exists afterwards, the module knows it is its own half-finished mint from this
    very run (the probe said missing just before), deletes it and mints again, a bounded number of times.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - m8trx.deployer.brain
attributes:
  check_mode:
    description: Probes only; predicts the mint or delete.
    support: full
  diff_mode:
    description: Shows whether the customer exists before and after; never the key.
    support: full
options:
  name:
    description:
      - The deployer (customer) name, 3-32 lowercase letters, digits and hyphens, starting with a letter.
      - Sent to the brain as the customer's display name.
    type: str
    required: true
  customer_id:
    description:
      - The brain's customer id, matching C(^cust_[a-z0-9_]+$).
      - Defaults to V(cust_) + O(name) with C(-) replaced by C(_).
    type: str
  state:
    description: Whether the customer exists.
    type: str
    choices: [present, absent]
    default: present
  recreate:
    description:
      - When the customer already exists, delete it (with its events, keys and agents) and mint it again,
        returning a new key.
      - For recovering a deployment's own half-finished mint whose key was lost before it was stored;
        see the intent-marker protocol in the notes. Never set it for a customer you do not own.
    type: bool
    default: false
notes:
  - "Intent-marker protocol (what the deploy role does): before calling this module it writes the
    parameter C(/m8trx/<name>/brain-mint-intent); right after it stores the returned key as
    C(/m8trx/<name>/brain-key) and removes the marker. On a re-run the role decides from that state:
    key stored - nothing to do; customer exists, no key stored, marker present - the deployment's own
    mint died before storing, so it calls this module with O(recreate=true); customer exists, no key,
    no marker - somebody else's customer, so it stops with an error."
  - The minted key is in RV(api_key) only on the run that minted it; run the task with C(no_log=true)
    and store the key (for example with M(m8trx.deployer.ssm_bundle)) in the next task.
seealso:
  - module: m8trx.deployer.ssm_bundle
"""

EXAMPLES = r"""
- name: Mint the brain customer for acme
  m8trx.deployer.brain_customer:
    name: acme
  register: brain
  no_log: true

- name: Delete it (cascades events, keys and agents)
  m8trx.deployer.brain_customer:
    name: acme
    state: absent
"""

RETURN = r"""
customer:
  description: The customer.
  returned: always
  type: dict
  contains:
    customer_id:
      description: The brain's customer id.
      type: str
      sample: cust_acme
    name:
      description: The display name.
      type: str
      sample: acme
    exists:
      description: Whether the customer exists after the run (predicted in check mode).
      type: bool
      sample: true
api_key:
  description: The customer's bearer for C(POST /v1/events). Returned once, on the run that minted it.
  returned: when a customer was minted (not in check mode)
  type: str
key_id:
  description: The id of the minted key (not secret).
  returned: when a customer was minted (not in check mode)
  type: str
  sample: key_3f2a9c
operation:
  description: What was done.
  returned: when changed
  type: str
  sample: create
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m8trx.deployer.plugins.module_utils._api import BRAIN_ARGSPEC, brain_client, run_module
from ansible_collections.m8trx.deployer.plugins.module_utils._customers import NAME, NAME_RULE, customer_id as derive_id
from ansible_collections.m8trx.deployer.plugins.module_utils._http import Conflict, NotFound, ServerError, TransportError

CUSTOMER_ID = re.compile(r"^cust_[a-z0-9_]+$")
LOST_MINT_ATTEMPTS = 3


def validate(params):
    """Return the customer id, or an error message saying what to fix (before any API call)."""
    if not NAME.match(params["name"]):
        return None, "name %r is not valid: use %s" % (params["name"], NAME_RULE)
    customer_id = params["customer_id"] or derive_id(params["name"])
    if not CUSTOMER_ID.match(customer_id):
        return None, "customer_id %r is not valid: it must match ^cust_[a-z0-9_]+$" % customer_id
    return customer_id, None


class Brain(object):
    def __init__(self, client, customer_id, name):
        self.client, self.customer_id, self.name = client, customer_id, name

    def exists(self):
        return self.client.get("/admin/customers/%s/events" % self.customer_id, query={"limit": 1}, allow_404=True) is not None

    def delete(self):
        try:
            self.client.delete("/admin/customers/%s" % self.customer_id)
        except NotFound:
            pass

    def mint(self):
        """POST; when the answer is lost (5xx, dropped connection), re-read: a customer that exists now was
        created by this very call (the probe said missing just before) and its key never reached us, so it
        is deleted; then mint again, a bounded number of times. Never leaves a customer nobody has a key for."""
        attempt = 1
        while True:
            try:
                minted = self.client.post("/admin/customers", json={"customer_id": self.customer_id, "name": self.name},
                                          expected=(201,)).json
            except Conflict:
                raise Conflict("customer %s appeared in the brain while this run was creating it; refusing to adopt "
                               "an identity this run did not mint" % self.customer_id, status=409)
            except (ServerError, TransportError):
                if attempt >= LOST_MINT_ATTEMPTS:
                    raise
                attempt += 1
                if self.exists():
                    self.delete()
                continue
            self.client.add_secrets([minted.get("api_key")])
            return minted


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        customer_id=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        recreate=dict(type="bool", default=False),
    )
    argument_spec.update(BRAIN_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    customer_id, error = validate(params)
    if error:
        module.fail_json(msg=error)
    customer = dict(customer_id=customer_id, name=params["name"], exists=False)

    def execute():
        brain = Brain(brain_client(params), customer_id, params["name"])
        existed = brain.exists()
        want = params["state"] == "present"
        result = dict(changed=False, customer=dict(customer, exists=existed))
        if want and existed and params["recreate"]:
            operation = "recreate"
        elif want and not existed:
            operation = "create"
        elif not want and existed:
            operation = "delete"
        else:
            return result
        result.update(changed=True, operation=operation, customer=dict(customer, exists=want),
                      diff=dict(before=dict(customer, exists=existed), after=dict(customer, exists=want)))
        if module.check_mode:
            return result
        if existed:
            brain.delete()
        if want:
            minted = brain.mint()
            result.update(api_key=minted["api_key"], key_id=minted.get("key_id"))
        return result

    run_module(module, execute, customer=customer)


if __name__ == "__main__":
    main()
