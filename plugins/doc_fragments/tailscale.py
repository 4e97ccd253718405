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
      - Base URL of the Tailscale API, without C(/api/v2).
      - If not set, the environment variable E(TAILSCALE_BASE_URL) is used, else V(https://api.tailscale.com).
    type: str
  api_key:
    description:
      - A Tailscale API access token (C(tskey-api-...)).
      - If not set, the environment variable E(TAILSCALE_API_KEY) is used.
      - Give either O(api_key) or O(oauth_client_id) with O(oauth_client_secret); O(api_key) wins when both are set.
    type: str
  oauth_client_id:
    description:
      - ID of a Tailscale OAuth client; exchanged with O(oauth_client_secret) for a short-lived access token.
      - If not set, the environment variable E(TAILSCALE_OAUTH_CLIENT_ID) is used.
    type: str
  oauth_client_secret:
    description:
      - Secret of the Tailscale OAuth client (C(tskey-client-...)).
      - If not set, the environment variable E(TAILSCALE_OAUTH_CLIENT_SECRET) is used.
    type: str
  tailnet:
    description:
      - The tailnet (organization name or tailnet ID).
      - If not set, the environment variable E(TAILSCALE_TAILNET) is used, else V(-), the credential's own tailnet.
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
  - Set the connection options once for every Tailscale module with
    C(module_defaults) and the action group C(group/m8trx.deployer.tailscale).
"""
