# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Tailscale devices for ``tailscale_device`` and ``tailscale_device_info``: a thin client over the
``ApiClient``, the documented device view, and the choice among several devices with one hostname
(fail, naming them, unlike clients that silently take ``devices[0]``)."""

from __future__ import annotations

from urllib.parse import quote

from ansible_collections.m8trx.deployer.plugins.module_utils._tailscale_keys import parse_time

FIELDS = ("id", "nodeId", "hostname", "name", "addresses", "authorized", "tags", "keyExpiryDisabled", "lastSeen",
          "connectedToControl", "created", "expires", "isEphemeral", "os", "user")


class Ambiguous(ValueError):
    """Several devices answer to one hostname."""


def summary(device):
    """The documented view of a device (lists default to empty, flags to false, the rest to None)."""
    out = dict((name, device.get(name)) for name in FIELDS)
    for name in ("addresses", "tags"):
        out[name] = list(out[name] or [])
    for name in ("authorized", "keyExpiryDisabled", "connectedToControl", "isEphemeral"):
        out[name] = bool(out[name])
    return out


def newest_first(devices):
    return sorted(devices, key=lambda d: (parse_time(d.get("created")) or 0, d.get("nodeId") or ""), reverse=True)


def _contact(device):
    return "connected" if device.get("connectedToControl") else "last seen %s" % (device.get("lastSeen") or "never")


def pick(devices, hostname, duplicates="fail"):
    """The one device with this hostname: None when there is none; the newest (by ``created``) with
    ``duplicates="newest"``; else ``Ambiguous`` listing every candidate."""
    if not devices:
        return None
    if len(devices) == 1 or duplicates == "newest":
        return newest_first(devices)[0]
    described = ", ".join("%s (created %s, %s)" % (d.get("nodeId") or d.get("id"), d.get("created") or "?", _contact(d))
                          for d in newest_first(devices))
    raise Ambiguous("%d devices have the hostname %r: %s. Delete the stale ones (state=absent with device_id) or set "
                    "duplicates=newest" % (len(devices), hostname, described))


def has_tags(device, tags):
    return all(tag in (device.get("tags") or []) for tag in tags)


class Devices(object):
    def __init__(self, client, tailnet):
        self.client, self.tailnet = client, quote(tailnet, safe="")

    def list(self, hostname=None, tags=()):
        """Devices filtered on the server (exact ``hostname``, every tag) and checked again here."""
        query = {"hostname": hostname, "tags": list(tags) or None}
        body = self.client.get("/tailnet/%s/devices" % self.tailnet, query=query).json or {}
        return [d for d in body.get("devices") or [] if isinstance(d, dict)
                and (hostname is None or d.get("hostname") == hostname) and has_tags(d, tags)]

    def get(self, device_id):
        response = self.client.get("/device/" + quote(device_id, safe=""), allow_404=True)
        return response.json if response is not None else None

    def set_authorized(self, device_id, value):
        self.client.post("/device/%s/authorized" % quote(device_id, safe=""), json={"authorized": value}, idempotent=True)

    def set_key_expiry_disabled(self, device_id, value):
        self.client.post("/device/%s/key" % quote(device_id, safe=""), json={"keyExpiryDisabled": value}, idempotent=True)

    def delete(self, device_id):
        self.client.delete("/device/" + quote(device_id, safe=""), allow_404=True)
