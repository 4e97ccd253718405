#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: bcrypt_password
short_description: Hash a password with bcrypt on the managed host, keeping a stored hash that still matches
version_added: 0.1.0
description:
  - Returns a bcrypt hash (C($2b$), as Caddy's C(basic_auth) and C(caddy hash-password) accept) of O(password).
  - When O(hash) is a bcrypt hash of O(password) it is returned unchanged, so a file that stores the hash does
    not change on every run; only a missing, malformed or non-matching O(hash) gets a new hash with a new salt.
  - Runs on the managed host because the controller may have no bcrypt at all (Python 3.13 removed C(crypt), and
    passlib is not a dependency). It uses the C(bcrypt) library (Debian C(python3-bcrypt)) or else the C(crypt)
    module of Python 3.12 and older with libxcrypt (Debian 12, Ubuntu 22.04 and 24.04).
  - Computes only, it never writes anything, so it always reports C(changed=false); RV(rehashed) says whether
    the hash is new.
author: m8trx platform team (@m8trx)
attributes:
  check_mode:
    description: Computes the same hash in check mode (nothing is ever written).
    support: full
  diff_mode:
    description: Nothing is written, so there is nothing to diff.
    support: none
  platform:
    description: Any POSIX host with Python and a bcrypt backend.
    platforms: posix
    support: full
options:
  password:
    description:
      - The password. 1 to 72 bytes in UTF-8 (bcrypt ignores, and newer libraries refuse, anything longer).
    type: str
    required: true
  hash:
    description:
      - The stored hash to keep when it matches O(password). Empty or omitted means none is stored.
      - Give the hash itself, not a form escaped for a file format (for a compose C(.env), halve the doubled C($) first).
    type: str
    default: ""
  cost:
    description:
      - The bcrypt cost (log2 of the rounds) of a new hash. A stored hash of another cost that matches is kept.
    type: int
    default: 12
  backend:
    description:
      - Which implementation to use; V(auto) takes C(bcrypt), then C(crypt).
    type: str
    choices: [auto, bcrypt, crypt]
    default: auto
notes:
  - "Give the task C(no_log: true): the returned hash is offline-crackable material."
"""

EXAMPLES = r"""
- name: Hash the UI password, keeping the hash already in the .env when it still matches
  m8trx.deployer.bcrypt_password:
    password: "{{ agent_ui_password }}"
    hash: "{{ stored_hash | default('') }}"
  register: ui_hash
  no_log: true
"""

RETURN = r"""
hash:
  description: The bcrypt hash, the stored one when it matched.
  returned: success
  type: str
  sample: $2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW
rehashed:
  description: Whether RV(hash) is new (no stored hash, or it did not match).
  returned: success
  type: bool
  sample: false
backend:
  description: The implementation used, C(bcrypt) or C(crypt).
  returned: success
  type: str
  sample: crypt
"""

import hmac
import re
import warnings

from ansible.module_utils.basic import AnsibleModule

BCRYPT_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
MAX_BYTES = 72


class NoBackend(Exception):
    """No bcrypt implementation is importable on this host."""


class BcryptLib:
    """The bcrypt package (python3-bcrypt)."""

    name = "bcrypt"

    def __init__(self, lib):
        self._lib = lib

    def hash(self, password, cost):
        return self._lib.hashpw(password.encode("utf-8"), self._lib.gensalt(rounds=cost, prefix=b"2b")).decode("ascii")

    def verify(self, password, stored):
        return self._lib.checkpw(password.encode("utf-8"), stored.encode("ascii"))


class CryptLib:
    """The crypt module (Python <= 3.12) on a libc with bcrypt (libxcrypt)."""

    name = "crypt"

    def __init__(self, lib):
        self._lib = lib

    def hash(self, password, cost):
        result = self._lib.crypt(password, self._lib.mksalt(self._lib.METHOD_BLOWFISH, rounds=2 ** cost))
        if not result or not BCRYPT_RE.match(result):
            raise NoBackend("this host's crypt() does not support bcrypt")
        return result

    def verify(self, password, stored):
        result = self._lib.crypt(password, stored)
        return bool(result) and hmac.compare_digest(result, stored)


def load_backend(choice="auto"):
    """The first available implementation among those C(choice) allows."""
    if choice in ("auto", "bcrypt"):
        try:
            import bcrypt
            return BcryptLib(bcrypt)
        except ImportError:
            if choice == "bcrypt":
                raise NoBackend("the bcrypt library is not installed (Debian/Ubuntu: python3-bcrypt)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
    except ImportError:
        raise NoBackend("neither the bcrypt library nor Python's crypt module is available on this host; "
                        "install python3-bcrypt (Python 3.13 removed crypt)")
    if not hasattr(crypt, "METHOD_BLOWFISH"):
        raise NoBackend("this host's crypt() does not support bcrypt; install python3-bcrypt")
    return CryptLib(crypt)


def check_password(password):
    """An error message, or None when C(password) can be bcrypt-hashed without being truncated."""
    size = len(password.encode("utf-8"))
    if size == 0:
        return "password is empty"
    if size > MAX_BYTES:
        return "password is %d bytes in UTF-8; bcrypt takes at most %d" % (size, MAX_BYTES)
    return None


def ensure_hash(backend, password, stored, cost):
    """(hash, rehashed): C(stored) when it is a bcrypt hash of C(password), else a new hash."""
    if stored and BCRYPT_RE.match(stored) and backend.verify(password, stored):
        return stored, False
    return backend.hash(password, cost), True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            password=dict(type="str", required=True, no_log=True),
            hash=dict(type="str", default="", no_log=False),
            cost=dict(type="int", default=12),
            backend=dict(type="str", default="auto", choices=["auto", "bcrypt", "crypt"]),
        ),
        supports_check_mode=True,
    )
    password, stored, cost = module.params["password"], module.params["hash"] or "", module.params["cost"]
    if not 4 <= cost <= 31:
        module.fail_json(msg="cost must be between 4 and 31, got %d" % cost)
    problem = check_password(password)
    if problem:
        module.fail_json(msg=problem)
    try:
        backend = load_backend(module.params["backend"])
        result, rehashed = ensure_hash(backend, password, stored.strip(), cost)
    except NoBackend as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, hash=result, rehashed=rehashed, backend=backend.name)


if __name__ == "__main__":
    main()
