# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side action: validate the customers inventory and the selection, then (only then) read
the account id and the existing customer VPCs, and derive every deployment's identifiers."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.m8trx.deployer.plugins.module_utils._customers import plan, select

VARIABLES = ("m8trx_customer", "m8trx_template", "m8trx_instance_type", "m8trx_volume_size_gb", "m8trx_subdomain")
# the AWS connection options passed on to the amazon.aws modules that read the account
AWS_OPTIONS = dict(
    region=dict(type="str"), endpoint_url=dict(type="str"), profile=dict(type="str"),
    access_key=dict(type="str", no_log=True), secret_key=dict(type="str", no_log=True),
    session_token=dict(type="str", no_log=True), validate_certs=dict(type="bool"), aws_ca_bundle=dict(type="path"),
    aws_config=dict(type="dict"),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        _spec, args = self.validate_argument_spec(argument_spec=dict(
            group=dict(type="str", default="customers"),
            platform_domain=dict(type="str", required=True),
            customer=dict(type="raw"),
            hosts=dict(type="list", elements="str"),
            limited=dict(type="bool", default=False),
            allow_all=dict(type="bool", default=True),
            read_aws=dict(type="bool", default=False),
            brain_url=dict(type="str"),
            agent_fetch_pat=dict(type="str", no_log=True),
            destroy_confirm=dict(type="str"),
            taken_octets=dict(type="dict", default={}),
            **AWS_OPTIONS
        ))
        hostvars = task_vars.get("hostvars", {})
        members = task_vars.get("groups", {}).get(args["group"], [])
        deployments = dict((host, dict((name, hostvars[host][name]) for name in VARIABLES if name in hostvars[host]))
                           for host in members)
        result["changed"] = False
        plans, errors = plan(deployments, args["platform_domain"])
        if not members:
            errors.append("the inventory has no hosts in the group %r: add one host per deployment" % args["group"])
        if errors:
            return self._fail(result, "the inventory has %d problem(s); fix them before anything is deployed:\n- %s"
                              % (len(errors), "\n- ".join(errors)), errors=errors)
        try:
            selected = select(plans, customer=args["customer"], hosts=args["hosts"], limited=args["limited"],
                              allow_all=args["allow_all"])
        except ValueError as exc:
            return self._fail(result, str(exc))
        problem = self._check_settings(args, plans, selected)
        if problem:
            return self._fail(result, problem)

        taken = dict((int(octet), owner) for octet, owner in args["taken_octets"].items())
        account = {}
        if args["read_aws"]:
            account, taken, failure = self._read_account(args, task_vars)
            if failure:
                return self._fail(result, failure)
        if taken or account:  # the octets and the bucket depend on what AWS holds
            plans = plan(deployments, args["platform_domain"], taken_octets=taken, account_id=account.get("account_id"))[0]
        leads = {}
        for host in selected:
            leads.setdefault(plans[host]["customer"], host)
        for host, deployment in plans.items():
            deployment["lead"] = leads.get(deployment["customer"]) == host
        result.update(plans=plans, selected=selected, account=account)
        return result

    @staticmethod
    def _check_settings(args, plans, selected):
        """What the selected deployments need beyond the inventory, still before any API call."""
        agents = [h for h in selected if plans[h]["template"] == "m8trx_agent"]
        if agents and args["brain_url"] is not None and not (args["brain_url"] and args["agent_fetch_pat"]):
            return ("%s use%s the m8trx_agent template, which needs the brain URL (customer_brain_url or M8TRX_BRAIN_URL) "
                    "and the agent repository token (customer_agent_fetch_pat or M8TRX_AGENT_FETCH_PAT)"
                    % (", ".join(agents), "s" if len(agents) == 1 else ""))
        confirmed = [n.strip() for n in (args["destroy_confirm"] or "").split(",") if n.strip()]
        names = sorted(set(plans[h]["customer"] for h in selected))
        stray = [n for n in confirmed if n not in names]
        if stray:
            return ("destroy_confirm=%s does not name a selected customer (%s); type the customer's name (several: "
                    "comma-separated)" % (args["destroy_confirm"], ", ".join(names)))
        return None

    @staticmethod
    def _fail(result, msg, **extra):
        result.update(failed=True, msg=msg, **extra)
        return result

    def _read_account(self, args, task_vars):
        """The account id and partition, and the octets the existing customer VPCs hold: two reads."""
        connection = dict((k, args[k]) for k in AWS_OPTIONS if args.get(k) is not None)
        caller = self._execute_module(module_name="amazon.aws.aws_caller_info", module_args=dict(connection),
                                      task_vars=task_vars)
        if caller.get("failed"):
            return {}, {}, "reading the AWS account failed: %s" % caller.get("msg")
        vpcs = self._execute_module(module_name="amazon.aws.ec2_vpc_net_info",
                                    module_args=dict(connection, filters={"tag-key": "m8trx:customer"}), task_vars=task_vars)
        if vpcs.get("failed"):
            return {}, {}, "listing the customer VPCs failed: %s" % vpcs.get("msg")
        taken = {}
        for vpc in vpcs.get("vpcs", []):
            octets = vpc["cidr_block"].split(".")
            if octets[0] == "10" and vpc["cidr_block"].endswith(".0.0/16"):
                taken[int(octets[1])] = vpc.get("tags", {}).get("m8trx:customer")
        account = dict(account_id=caller["account"], partition=caller["arn"].split(":")[1])
        return account, taken, None
