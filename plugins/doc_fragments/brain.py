# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  brain_url:
    description:
      - Base URL of the brain telemetry service, for example V(https://brain.m8trx.example).
      - If not set, the environment variable E(M8TRX_BRAIN_URL) is used.
    type: str
  brain_admin_token:
    description:
      - The brain's admin bearer token.
      - If not set, the environment variable E(M8TRX_BRAIN_ADMIN_TOKEN) is used.
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
  - Set the connection options once for every brain module with
    C(module_defaults) and the action group C(group/m8trx.deployer.brain).
"""
