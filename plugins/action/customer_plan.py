# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side action: validate the customers inventory and derive identifiers (no API calls)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.m8trx.deployer.plugins.module_utils._customers import plan, select

VARIABLES = ("m8trx_customer", "m8trx_template", "m8trx_instance_type", "m8trx_volume_size_gb", "m8trx_subdomain")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        _spec, args = self.validate_argument_spec(argument_spec=dict(
            group=dict(type="str", default="customers"),
            platform_domain=dict(type="str", required=True),
            customer=dict(type="str"),
            hosts=dict(type="list", elements="str"),
            taken_octets=dict(type="dict", default={}),
        ))
        hostvars = task_vars.get("hostvars", {})
        members = task_vars.get("groups", {}).get(args["group"], [])
        deployments = {}
        for host in members:
            values = hostvars[host]
            deployments[host] = dict((name, values[name]) for name in VARIABLES if name in values)
        taken = dict((int(octet), owner) for octet, owner in args["taken_octets"].items())
        plans, errors = plan(deployments, args["platform_domain"], taken_octets=taken)
        result.update(changed=False, plans=plans)
        if not members:
            errors.append("the inventory has no hosts in the group %r: add one host per deployment" % args["group"])
        if errors:
            result.update(failed=True, errors=errors,
                          msg="the inventory has %d problem(s); fix them before anything is deployed:\n- %s"
                          % (len(errors), "\n- ".join(errors)))
            return result
        try:
            result["selected"] = select(plans, customer=args["customer"], hosts=args["hosts"])
        except ValueError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        leads = {}
        for host in result["selected"]:
            leads.setdefault(plans[host]["customer"], host)
        for host, deployment in plans.items():
            deployment["lead"] = leads.get(deployment["customer"]) == host
        return result
