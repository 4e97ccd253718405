#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: customer_plan
short_description: Validate the customers inventory and derive every deployment's identifiers
version_added: 0.1.0
description:
  - Customers are inventory hosts; one host is one deployment. This action runs on the controller,
    reads the variables of every host in O(group), checks them all and derives the identifiers the
    roles use. It makes no API call, so bad input fails before anything is touched.
  - "Host variables: C(m8trx_customer) (default: the host name), C(m8trx_template) (V(baseline) or
    V(m8trx_agent)), C(m8trx_instance_type) (allow-list, default V(t3.medium)), C(m8trx_volume_size_gb)
    (20-500, default 30), C(m8trx_subdomain) (a DNS label, default: the host name)."
  - "Rules: host and customer names are 3-32 lowercase letters, digits and hyphens, starting with a
    letter and ending with a letter or digit; subdomains are unique across the inventory; all
    deployments of a customer share one template; a host may not be named after another customer."
  - Every problem of every host is reported at once, each naming the host, the variable and the fix.
author: m8trx platform team (@m8trx)
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
options:
  group:
    description: The inventory group whose hosts are the deployments.
    type: str
    default: customers
  platform_domain:
    description: The DNS zone the subdomains live in.
    type: str
    required: true
  customer:
    description: Select every deployment of this customer (fails if the inventory has none).
    type: str
  hosts:
    description: Select these deployments (when O(customer) is not given); default all.
    type: list
    elements: str
  taken_octets:
    description:
      - Second octets of existing customer VPCs (C(10.<octet>.0.0/16)) mapped to the customer that owns
        each; a customer keeps its own, and no new customer gets a taken one.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Validate the inventory and select customer acme
  m8trx.deployer.customer_plan:
    platform_domain: m8trx.example
    customer: "{{ customer }}"
  run_once: true
  register: plan
"""

RETURN = r"""
plans:
  description:
    - Every deployment with its derived identifiers, by host.
    - C(lead) marks the first selected deployment of each customer, the one that manages the customer-wide
      resources (brain customer, Tailscale entries, SSM parameters, KMS key, network, bucket, role).
  returned: always
  type: dict
  sample:
    acme:
      host: acme
      customer: acme
      customer_id: cust_acme
      tag: "tag:m8trx-cust-acme"
      ssm_path: /m8trx/acme/
      subdomain: acme
      fqdn: acme.m8trx.example
      resource_prefix: m8trx-acme
      vpc_cidr: 10.131.0.0/16
      subnet_cidr: 10.131.1.0/24
      template: m8trx_agent
      ports: [80, 443]
      instance_type: t3.medium
      volume_size_gb: 30
      agents: 1
      lead: true
selected:
  description: The hosts selected by O(customer) or O(hosts).
  returned: success
  type: list
  elements: str
  sample: [acme]
errors:
  description: Every problem found.
  returned: failure
  type: list
  elements: str
"""
