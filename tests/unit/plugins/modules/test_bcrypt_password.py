# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bcrypt_password: a stored hash that matches is kept, anything else is re-hashed; passwords bcrypt would
truncate are refused; backends are chosen in order and a host without any says what to install.

The controller's Python (3.13) has neither crypt nor bcrypt, so the backends get fake libraries that
record their calls; the real hashing is checked by the agent_stack molecule scenario on Debian 12."""

from __future__ import annotations

import contextlib
import json
import sys
import types

import pytest

from ansible.module_utils import basic
from ansible_collections.m8trx.deployer.plugins.modules import bcrypt_password as mod

SALT = "R9h/cIPz0gi.URNNX3kh2O"
HASH = "$2b$12$" + SALT + "PST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"


class FakeCrypt:
    """crypt(3) with bcrypt: the 'hash' of pw under salt S is S + a digest of pw (53 chars)."""

    METHOD_BLOWFISH = object()

    def __init__(self):
        self.salts = []

    @staticmethod
    def _digest(pw):
        alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(alphabet[(ord(c) * 7 + i) % 64] for i, c in enumerate((pw * 31)[:31]))

    def mksalt(self, method, rounds):
        assert method is self.METHOD_BLOWFISH
        salt = "$2b$%02d$%s" % (rounds.bit_length() - 1, "N" * 21 + str(len(self.salts) % 10))
        self.salts.append(salt)
        return salt

    def crypt(self, pw, salt):
        prefix = salt[:29]
        return prefix + self._digest(pw)


class FakeBcrypt:
    def __init__(self):
        self.crypt = FakeCrypt()
        self.checked = []

    def gensalt(self, rounds, prefix):
        assert prefix == b"2b"
        return self.crypt.mksalt(FakeCrypt.METHOD_BLOWFISH, 2 ** rounds).encode()

    def hashpw(self, pw, salt):
        return self.crypt.crypt(pw.decode(), salt.decode()).encode()

    def checkpw(self, pw, stored):
        self.checked.append(stored)
        return self.crypt.crypt(pw.decode(), stored.decode()).encode() == stored


def fake_hash(pw, cost=12):
    return "$2b$%02d$%s%s" % (cost, SALT, FakeCrypt._digest(pw))


@pytest.fixture(params=["bcrypt", "crypt"])
def backend(request):
    return mod.BcryptLib(FakeBcrypt()) if request.param == "bcrypt" else mod.CryptLib(FakeCrypt())


def test_a_matching_stored_hash_is_kept(backend):
    stored = fake_hash("correct horse")
    assert mod.ensure_hash(backend, "correct horse", stored, 12) == (stored, False)


def test_a_matching_hash_of_another_cost_is_kept(backend):
    stored = fake_hash("correct horse", cost=10)
    assert mod.ensure_hash(backend, "correct horse", stored, 12) == (stored, False)


@pytest.mark.parametrize("stored", ["", fake_hash("old password"), "$1$notbcrypt$xyz", HASH[:-1], "plain-text"])
def test_a_missing_malformed_or_other_hash_is_replaced(backend, stored):
    new, rehashed = mod.ensure_hash(backend, "correct horse", stored, 12)
    assert rehashed is True
    assert new != stored
    assert mod.BCRYPT_RE.match(new) and new.startswith("$2b$12$")
    assert mod.ensure_hash(backend, "correct horse", new, 12) == (new, False)


def test_the_cost_of_a_new_hash_is_the_one_asked_for(backend):
    new = mod.ensure_hash(backend, "pw-with-$-in-it", "", 4)[0]
    assert new.startswith("$2b$04$")


@pytest.mark.parametrize("password, problem", [
    ("", "empty"),
    ("a" * 72, None),
    ("a" * 73, "73 bytes"),
    ("é" * 36, None),
    ("é" * 37, "74 bytes"),
])
def test_passwords_bcrypt_would_truncate_are_refused(password, problem):
    result = mod.check_password(password)
    assert (result is None) if problem is None else (problem in result)


def test_crypt_without_bcrypt_support_is_reported():
    class NoBlowfish(FakeCrypt):
        def crypt(self, pw, salt):
            return None

    with pytest.raises(mod.NoBackend, match="does not support bcrypt"):
        mod.CryptLib(NoBlowfish()).hash("pw", 12)


@contextlib.contextmanager
def fake_modules(**modules):
    """Make 'import name' give the fake (or fail, for None) while inside."""
    saved = {name: sys.modules.get(name) for name in modules}
    try:
        for name, value in modules.items():
            sys.modules[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value


def as_module(name, obj):
    module = types.ModuleType(name)
    for attr in ("METHOD_BLOWFISH", "mksalt", "crypt", "gensalt", "hashpw", "checkpw"):
        if hasattr(obj, attr):
            setattr(module, attr, getattr(obj, attr))
    return module


def test_auto_prefers_the_bcrypt_library_then_crypt():
    with fake_modules(bcrypt=as_module("bcrypt", FakeBcrypt()), crypt=as_module("crypt", FakeCrypt())):
        assert mod.load_backend("auto").name == "bcrypt"
        assert mod.load_backend("crypt").name == "crypt"
    with fake_modules(bcrypt=None, crypt=as_module("crypt", FakeCrypt())):
        assert mod.load_backend("auto").name == "crypt"


def test_no_backend_says_what_to_install():
    with fake_modules(bcrypt=None, crypt=None):
        with pytest.raises(mod.NoBackend, match="python3-bcrypt"):
            mod.load_backend("auto")
        with pytest.raises(mod.NoBackend, match="python3-bcrypt"):
            mod.load_backend("bcrypt")


def run_main(capsys, **args):
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        patch_module_args = None
    if patch_module_args is not None:
        ctx = patch_module_args(args)
    else:
        from ansible.module_utils.common.text.converters import to_bytes
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        ctx = contextlib.nullcontext()
    with ctx, pytest.raises(SystemExit):
        mod.main()
    return json.loads(capsys.readouterr().out)


def test_main_keeps_the_stored_hash_and_never_reports_a_change(capsys):
    stored = fake_hash("correct horse")
    with fake_modules(bcrypt=as_module("bcrypt", FakeBcrypt())):
        result = run_main(capsys, password="correct horse", hash=stored)
    assert result["hash"] == stored and result["rehashed"] is False
    assert result["changed"] is False and result["backend"] == "bcrypt"
    assert "correct horse" not in json.dumps(result)


def test_main_rehashes_a_changed_password(capsys):
    stored = fake_hash("old password")
    with fake_modules(bcrypt=None, crypt=as_module("crypt", FakeCrypt())):
        result = run_main(capsys, password="new password", hash=stored, cost=10)
    assert result["rehashed"] is True and result["hash"].startswith("$2b$10$") and result["hash"] != stored
    assert result["changed"] is False and result["backend"] == "crypt"


@pytest.mark.parametrize("args, message", [
    (dict(password="x" * 73), "73 bytes"),
    (dict(password="pw", cost=3), "cost must be between 4 and 31"),
])
def test_main_fails_with_what_to_fix(capsys, args, message):
    with fake_modules(bcrypt=as_module("bcrypt", FakeBcrypt())):
        result = run_main(capsys, **args)
    assert result["failed"] is True and message in result["msg"]
    assert "x" * 73 not in json.dumps(result)
