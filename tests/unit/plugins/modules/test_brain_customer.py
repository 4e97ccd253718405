"""brain_customer: input validation (before any API call) and the lost-mint recovery loop."""

from __future__ import annotations

import pytest

from ansible_collections.m8trx.deployer.plugins.module_utils._http import Conflict, ServerError
from ansible_collections.m8trx.deployer.plugins.modules import brain_customer


@pytest.mark.parametrize("name, customer_id, expected", [
    ("acme", None, "cust_acme"),
    ("acme-west-2", None, "cust_acme_west_2"),
    ("acme", "cust_acme_legacy", "cust_acme_legacy"),
])
def test_valid_input_derives_the_customer_id(name, customer_id, expected):
    assert brain_customer.validate({"name": name, "customer_id": customer_id}) == (expected, None)


@pytest.mark.parametrize("name, customer_id, fragment", [
    ("Acme", None, "name 'Acme' is not valid"),
    ("ab", None, "name 'ab' is not valid"),
    ("acme-", None, "name 'acme-' is not valid"),
    ("1acme", None, "name '1acme' is not valid"),
    ("a" * 33, None, "is not valid"),
    ("acme", "cust_Acme", "customer_id 'cust_Acme' is not valid"),
    ("acme", "acme", "must match ^cust_[a-z0-9_]+$"),
])
def test_invalid_input_says_what_to_fix(name, customer_id, fragment):
    customer_id_out, error = brain_customer.validate({"name": name, "customer_id": customer_id})
    assert customer_id_out is None
    assert fragment in error


class FakeResponse:
    def __init__(self, body):
        self.json = body


class FakeClient:
    """Scripted brain: ``posts`` is a list of outcomes (an exception to raise or a body to return)."""

    def __init__(self, posts, exists_after_failure):
        self.posts = list(posts)
        self.exists_after_failure = exists_after_failure
        self.calls = []
        self.secrets = []

    def post(self, path, **kwargs):
        self.calls.append(("POST", path))
        outcome = self.posts.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return FakeResponse(outcome)

    def get(self, path, **kwargs):
        self.calls.append(("GET", path))
        return FakeResponse([]) if self.exists_after_failure else None

    def delete(self, path, **kwargs):
        self.calls.append(("DELETE", path))

    def add_secrets(self, values):
        self.secrets.extend(values)


def test_lost_mint_is_deleted_and_minted_again():
    client = FakeClient([ServerError("boom", status=502), {"api_key": "brk_new", "key_id": "k1"}], exists_after_failure=True)
    minted = brain_customer.Brain(client, "cust_acme", "acme").mint()
    assert minted["api_key"] == "brk_new"
    assert client.calls == [("POST", "/admin/customers"), ("GET", "/admin/customers/cust_acme/events"),
                            ("DELETE", "/admin/customers/cust_acme"), ("POST", "/admin/customers")]
    assert client.secrets == ["brk_new"]


def test_failed_mint_that_created_nothing_is_simply_retried():
    client = FakeClient([ServerError("boom", status=503), {"api_key": "brk_new"}], exists_after_failure=False)
    brain_customer.Brain(client, "cust_acme", "acme").mint()
    assert ("DELETE", "/admin/customers/cust_acme") not in client.calls
    assert [c for c in client.calls if c[0] == "POST"] == [("POST", "/admin/customers")] * 2


def test_gives_up_after_bounded_attempts():
    client = FakeClient([ServerError("boom", status=500)] * 3, exists_after_failure=False)
    with pytest.raises(ServerError):
        brain_customer.Brain(client, "cust_acme", "acme").mint()
    assert len([c for c in client.calls if c[0] == "POST"]) == brain_customer.LOST_MINT_ATTEMPTS


def test_conflict_is_never_adopted():
    client = FakeClient([Conflict("exists", status=409)], exists_after_failure=True)
    with pytest.raises(Conflict, match="refusing to adopt"):
        brain_customer.Brain(client, "cust_acme", "acme").mint()
    assert ("DELETE", "/admin/customers/cust_acme") not in client.calls
