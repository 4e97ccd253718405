# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  api_base_url:
    description:
      - Base URL of the Cloudflare v4 API.
      - If not set, the environment variable E(CLOUDFLARE_BASE_URL) is used, else V(https://api.cloudflare.com/client/v4).
    type: str
  api_token:
    description:
      - A Cloudflare API token with C(DNS:Edit) on the zone (C(Zone:Read) too when the zone is given by name).
      - If not set, the environment variable E(CLOUDFLARE_API_TOKEN) is used.
    type: str
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each HTTP response.
    type: int
    default: 30
notes:
  - Set the connection options once for every Cloudflare module with
    C(module_defaults) and the action group C(group/m8trx.deployer.cloudflare).
"""
