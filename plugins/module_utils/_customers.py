# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Customers as inventory: validate every deployment and derive its identifiers (no API calls).

An inventory host is one deployment. Its variables (defaults in brackets):
``m8trx_customer`` [the host name], ``m8trx_template`` (baseline | m8trx_agent),
``m8trx_instance_type`` [t3.medium], ``m8trx_volume_size_gb`` [30], ``m8trx_subdomain`` [the host name].
``plan(deployments, platform_domain)`` returns ``(plans, errors)``: every problem of every host at
once, each message naming the host, the variable and what to fix.
"""

from __future__ import annotations

import hashlib
import re

NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
TEMPLATES = {
    "baseline": {"ports": [8080]},
    "m8trx_agent": {"ports": [80, 443]},
}
INSTANCE_TYPES = ("t3.small", "t3.medium", "t3.large", "t3.xlarge", "t3a.medium", "t3a.large",
                  "m6i.large", "m6i.xlarge", "c6i.large", "c6i.xlarge")
DEFAULTS = {"m8trx_instance_type": "t3.medium", "m8trx_volume_size_gb": 30}
VOLUME_RANGE = (20, 500)
# 10.<octet>.0.0/16 per customer; 0 and 255 are kept out, and 1-15 are left for the platform itself
OCTET_RANGE = (16, 254)
NAME_RULE = ("3-32 characters of lowercase letters, digits and hyphens, starting with a letter and ending "
             "with a letter or digit")


def customer_id(customer):
    return "cust_" + customer.replace("-", "_")


def customer_tag(customer):
    return "tag:m8trx-cust-" + customer


def vpc_octet(customer, taken=()):
    """The customer's stable second octet: a hash of the name, probing upward past octets ``taken``."""
    low, high = OCTET_RANGE
    size = high - low + 1
    start = int(hashlib.sha256(customer.encode("utf-8")).hexdigest(), 16) % size
    for step in range(size):
        octet = low + (start + step) % size
        if octet not in taken:
            return octet
    raise ValueError("no free VPC octet left for %s" % customer)


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _check_host(host, hostvars):
    """Return (deployment, errors) for one inventory host."""
    errors = []
    customer = hostvars.get("m8trx_customer") or host
    template = hostvars.get("m8trx_template")
    instance_type = hostvars.get("m8trx_instance_type", DEFAULTS["m8trx_instance_type"])
    volume = hostvars.get("m8trx_volume_size_gb", DEFAULTS["m8trx_volume_size_gb"])
    subdomain = hostvars.get("m8trx_subdomain") or host

    def bad(var, value, rule):
        errors.append("%s: %s=%r is not valid: %s" % (host, var, value, rule))

    if not isinstance(host, str) or not NAME.match(host):
        bad("inventory host name", host, NAME_RULE)
    if "m8trx_customer" in hostvars and (not isinstance(customer, str) or not NAME.match(customer)):
        bad("m8trx_customer", customer, NAME_RULE)
    if template not in TEMPLATES:
        bad("m8trx_template", template, "set it to one of %s" % ", ".join(sorted(TEMPLATES)))
    if instance_type not in INSTANCE_TYPES:
        bad("m8trx_instance_type", instance_type, "use one of %s" % ", ".join(INSTANCE_TYPES))
    size = _int(volume)
    if size is None or not VOLUME_RANGE[0] <= size <= VOLUME_RANGE[1]:
        bad("m8trx_volume_size_gb", volume, "an integer from %d to %d" % VOLUME_RANGE)
    if "m8trx_subdomain" in hostvars and (not isinstance(subdomain, str) or not LABEL.match(subdomain)):
        bad("m8trx_subdomain", subdomain, "a DNS label: up to 63 lowercase letters, digits and hyphens, no dots, "
            "not starting or ending with a hyphen")
    deployment = dict(host=host, customer=customer, template=template, instance_type=instance_type,
                      volume_size_gb=size, subdomain=subdomain)
    return deployment, errors


def plan(deployments, platform_domain, taken_octets=None):
    """Validate ``deployments`` ({host: hostvars}) and derive each one's identifiers.

    ``taken_octets`` maps octets already used by existing customer VPCs to the customer that owns
    them (from AWS); a customer keeps an octet it already owns. Returns ``(plans, errors)``."""
    errors, plans, by_customer, by_subdomain = [], {}, {}, {}
    for host in sorted(deployments):
        deployment, host_errors = _check_host(host, deployments[host] or {})
        errors.extend(host_errors)
        plans[host] = deployment
        by_customer.setdefault(deployment["customer"], []).append(host)
        by_subdomain.setdefault(deployment["subdomain"], []).append(host)
    for subdomain, hosts in sorted(by_subdomain.items()):
        if len(hosts) > 1:
            errors.append("%s: m8trx_subdomain %r is used by %d deployments; every deployment needs its own "
                          "(set m8trx_subdomain, e.g. %s-2)" % (", ".join(hosts), subdomain, len(hosts), subdomain))
    for customer, hosts in sorted(by_customer.items()):
        templates = sorted(set(str(plans[h]["template"]) for h in hosts))
        if len(templates) > 1:
            errors.append("customer %s: its deployments %s mix templates %s; a customer name is unique across "
                          "both templates" % (customer, ", ".join(hosts), " and ".join(templates)))
        if customer in plans and plans[customer]["customer"] != customer:
            errors.append("%s: the host name is also the name of customer %s (deployments %s); rename the host"
                          % (customer, customer, ", ".join(hosts)))
    taken = dict(taken_octets or {})
    octets = {}
    for customer in sorted(by_customer):
        owned = [o for o, owner in taken.items() if owner == customer]
        octets[customer] = owned[0] if owned else vpc_octet(customer, taken=set(taken) | set(octets.values()))
    for host, deployment in plans.items():
        customer = deployment["customer"]
        if not isinstance(customer, str) or not NAME.match(customer):
            continue
        deployment.update(
            customer_id=customer_id(customer),
            tag=customer_tag(customer),
            ssm_path="/m8trx/%s/" % customer,
            fqdn="%s.%s" % (deployment["subdomain"], platform_domain),
            resource_prefix="m8trx-%s" % host,
            vpc_cidr="10.%d.0.0/16" % octets[customer],
            subnet_cidr="10.%d.1.0/24" % octets[customer],
            ports=list(TEMPLATES.get(deployment["template"], {}).get("ports", [])),
            agents=len(by_customer[customer]),
        )
    return plans, errors


def select(plans, customer=None, hosts=None):
    """The deployments to act on: all of ``customer``'s, or ``hosts``. Raises ValueError for a customer
    the inventory does not know."""
    if customer:
        chosen = sorted(h for h, p in plans.items() if p["customer"] == customer)
        if not chosen:
            raise ValueError("customer %r is not in the inventory: add a host for it to the group 'customers' "
                             "(e.g. inventories/<env>/hosts.yml) with m8trx_template set" % customer)
        return chosen
    return sorted(hosts if hosts is not None else plans)
