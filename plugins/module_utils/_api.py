# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Connection options and thin clients of the three SaaS control planes (brain, Tailscale, Cloudflare).

Each API has an ``*_ARGSPEC`` (merged into a module's argument_spec; the matching doc fragment is
``m8trx.deployer.<api>``) and a ``*_client(params)`` that builds the one ``_http.ApiClient`` from the
module's parameters. Credentials fall back to the environment variables the ecosystem already uses,
so ``.sandbox/env`` and a user's real credentials work the same way. ``run_module()`` turns API
errors into a ``fail_json`` that carries status and request id (never a secret).
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

from ansible_collections.m8trx.deployer.plugins.module_utils._http import (
    ApiClient,
    ApiError,
    brain_error_message,
    cloudflare_error_message,
    tailscale_error_message,
)

COMMON_ARGSPEC = dict(
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
)

BRAIN_ARGSPEC = dict(
    brain_url=dict(type="str", fallback=(env_fallback, ["M8TRX_BRAIN_URL"])),
    brain_admin_token=dict(type="str", no_log=True, fallback=(env_fallback, ["M8TRX_BRAIN_ADMIN_TOKEN"])),
    **COMMON_ARGSPEC
)

TAILSCALE_ARGSPEC = dict(
    api_base_url=dict(type="str", fallback=(env_fallback, ["TAILSCALE_BASE_URL"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["TAILSCALE_API_KEY"])),
    oauth_client_id=dict(type="str", fallback=(env_fallback, ["TAILSCALE_OAUTH_CLIENT_ID"])),
    oauth_client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["TAILSCALE_OAUTH_CLIENT_SECRET"])),
    tailnet=dict(type="str", fallback=(env_fallback, ["TAILSCALE_TAILNET"])),
    **COMMON_ARGSPEC
)

CLOUDFLARE_ARGSPEC = dict(
    api_base_url=dict(type="str", fallback=(env_fallback, ["CLOUDFLARE_BASE_URL"])),
    api_token=dict(type="str", no_log=True, fallback=(env_fallback, ["CLOUDFLARE_API_TOKEN"])),
    **COMMON_ARGSPEC
)

TAILSCALE_DEFAULT_URL = "https://api.tailscale.com"
CLOUDFLARE_DEFAULT_URL = "https://api.cloudflare.com/client/v4"


class ConfigError(ValueError):
    """A connection option is missing or wrong; the message says which option or variable to set."""


def _require(params, name, env):
    value = params.get(name)
    if not value:
        raise ConfigError("%s is required: set the option or the %s environment variable" % (name, env))
    return value


def brain_client(params, retry=None):
    url = _require(params, "brain_url", "M8TRX_BRAIN_URL")
    token = _require(params, "brain_admin_token", "M8TRX_BRAIN_ADMIN_TOKEN")
    return ApiClient(url, headers={"Authorization": "Bearer " + token}, secrets=[token], timeout=params["timeout"],
                     validate_certs=params["validate_certs"], retry=retry, error_parser=brain_error_message)


def tailscale_tailnet(params):
    """The tailnet path segment: the option, else ``-`` (the credential's own tailnet)."""
    return params.get("tailnet") or "-"


def tailscale_client(params, retry=None):
    """API key (bearer) or OAuth client credentials (exchanged for an access token on first use)."""
    base = (params.get("api_base_url") or TAILSCALE_DEFAULT_URL).rstrip("/")
    api_key, client_id, client_secret = params.get("api_key"), params.get("oauth_client_id"), params.get("oauth_client_secret")
    common = dict(timeout=params["timeout"], validate_certs=params["validate_certs"], retry=retry,
                  error_parser=tailscale_error_message)
    if api_key:
        return ApiClient(base + "/api/v2", headers={"Authorization": "Bearer " + api_key}, secrets=[api_key], **common)
    if not (client_id and client_secret):
        raise ConfigError("Tailscale credentials are required: set api_key (TAILSCALE_API_KEY), or oauth_client_id and "
                          "oauth_client_secret (TAILSCALE_OAUTH_CLIENT_ID, TAILSCALE_OAUTH_CLIENT_SECRET)")
    token_client = ApiClient(base + "/api/v2", secrets=[client_secret], **common)
    cache = {}

    def oauth_header():
        if "token" not in cache:
            response = token_client.post("/oauth/token", data="grant_type=client_credentials&client_id=%s&client_secret=%s"
                                         % (client_id, client_secret), content_type="application/x-www-form-urlencoded",
                                         idempotent=True)
            cache["token"] = (response.json or {}).get("access_token")
            if not cache["token"]:
                raise ConfigError("the Tailscale OAuth token endpoint returned no access_token")
            client.add_secrets([cache["token"]])
        return {"Authorization": "Bearer " + cache["token"]}

    client = ApiClient(base + "/api/v2", auth=oauth_header, secrets=[client_secret], **common)
    return client


def cloudflare_client(params, retry=None):
    token = _require(params, "api_token", "CLOUDFLARE_API_TOKEN")
    base = params.get("api_base_url") or CLOUDFLARE_DEFAULT_URL
    return ApiClient(base, headers={"Authorization": "Bearer " + token}, secrets=[token], timeout=params["timeout"],
                     validate_certs=params["validate_certs"], retry=retry, error_parser=cloudflare_error_message)


def run_module(module, func, **result):
    """Call ``func()`` (which returns the result dict) and exit; API and configuration errors fail the
    module with a message that says what went wrong, plus ``status`` and ``request_id`` when known."""
    try:
        outcome = func()
    except ConfigError as exc:
        module.fail_json(msg=str(exc), **result)
    except ApiError as exc:
        module.fail_json(msg=str(exc), status=exc.status, request_id=exc.request_id, **result)
    module.exit_json(**outcome)
