"""Contract tests of the brain emulator, over real HTTP against a real uvicorn process."""

from __future__ import annotations

import json

import httpx
import pytest


def admin(brain):
    return {"Authorization": "Bearer " + brain.settings["M8TRX_BRAIN_ADMIN_TOKEN"]}


def bearer(key):
    return {"Authorization": "Bearer " + key}


def mint(brain, customer_id="cust_acme", name="acme", expect=201):
    resp = brain.client.post("/admin/customers", json={"customer_id": customer_id, "name": name},
                             headers=admin(brain))
    assert resp.status_code == expect, resp.text
    return resp.json()


def send(brain, key, event_type="heartbeat", payload=None, expect=201):
    payload = {"hostname": "ip-10-0-0-1"} if payload is None else payload
    resp = brain.client.post("/v1/events", json={"event_type": event_type, "payload": payload}, headers=bearer(key))
    assert resp.status_code == expect, resp.text
    return resp.json()


def events(brain, customer_id, **params):
    resp = brain.client.get("/admin/customers/%s/events" % customer_id, params=params, headers=admin(brain))
    assert resp.status_code == 200, resp.text
    return resp.json()


def customers(brain):
    return {c["customer_id"]: c for c in brain.client.get("/_emulator/brain/customers").json()}


def test_mint_returns_key_and_id(brain):
    body = mint(brain)
    assert body["customer_id"] == "cust_acme"
    assert body["api_key"].startswith("brk_") and len(body["api_key"]) > 20
    assert body["key_id"].startswith("key_")
    assert customers(brain)["cust_acme"]["key_ids"] == [body["key_id"]]
    assert "api_key" not in json.dumps(customers(brain))


@pytest.mark.parametrize("bad_id", ["acme", "cust_", "cust_Acme", "cust-acme", "cust_acme!", "CUST_acme",
                                    "cust_acme\n", "cust_" + "a" * 80, ""])
def test_mint_rejects_bad_customer_id(brain, bad_id):
    resp = brain.client.post("/admin/customers", json={"customer_id": bad_id, "name": "x"}, headers=admin(brain))
    assert resp.status_code == 422
    assert "customer_id" in resp.json()["detail"] and "cust_" in resp.json()["detail"]
    assert customers(brain) == {}


@pytest.mark.parametrize("name", ["", "n" * 65])
def test_mint_rejects_bad_name(brain, name):
    resp = brain.client.post("/admin/customers", json={"customer_id": "cust_ok", "name": name}, headers=admin(brain))
    assert resp.status_code == 422 and resp.json()["detail"].startswith("name:")


def test_mint_duplicate_is_409_and_keeps_first_key(brain):
    first = mint(brain)
    assert mint(brain, name="other", expect=409) == {"detail": "customer cust_acme already exists"}
    assert customers(brain)["cust_acme"]["key_ids"] == [first["key_id"]]
    send(brain, first["api_key"])


def test_admin_auth(brain):
    key = mint(brain)["api_key"]
    body = {"customer_id": "cust_x", "name": "x"}
    assert brain.client.post("/admin/customers", json=body).status_code == 401
    resp = brain.client.post("/admin/customers", json=body, headers={"Authorization": "Basic abc"})
    assert resp.status_code == 401 and resp.json() == {"detail": "malformed Authorization header"}
    assert brain.client.post("/admin/customers", json=body, headers=bearer("wrong")).status_code == 403
    assert brain.client.post("/admin/customers", json=body, headers=bearer(key)).status_code == 403
    assert brain.client.get("/admin/customers/cust_acme/events", headers=bearer(key)).status_code == 403
    assert brain.client.delete("/admin/customers/cust_acme", headers=bearer(key)).status_code == 403
    assert set(customers(brain)) == {"cust_acme"}


def test_event_auth(brain):
    assert brain.client.post("/v1/events", json={"event_type": "heartbeat", "payload": {}}).status_code == 401
    assert send(brain, "brk_not_a_key", expect=401) == {"detail": "invalid or revoked api key"}
    send(brain, brain.settings["M8TRX_BRAIN_ADMIN_TOKEN"], expect=401)


def test_event_validation(brain):
    key = mint(brain)["api_key"]
    assert "hostname" in send(brain, key, payload={}, expect=422)["detail"]
    assert "event_type" in send(brain, key, event_type="Heart beat!", expect=422)["detail"]
    assert "unknown event type" in send(brain, key, event_type="no_such_type", expect=422)["detail"]
    assert "payload" in send(brain, key, event_type="login", payload=["not", "an", "object"], expect=422)["detail"]
    assert events(brain, "cust_acme") == []


def test_events_are_isolated_per_customer(brain):
    acme, beta = mint(brain)["api_key"], mint(brain, "cust_beta", "beta")["api_key"]
    a1 = send(brain, acme, payload={"hostname": "acme-1"})["event_id"]
    b1 = send(brain, beta, "tool_call", {"tool": "grep", "customer_id": "cust_acme"})["event_id"]
    a2 = send(brain, acme, "login", {"user": "ops"})["event_id"]
    assert [e["id"] for e in events(brain, "cust_acme")] == [a1, a2]
    beta_events = events(brain, "cust_beta")
    assert [(e["id"], e["customer_id"], e["event_type"]) for e in beta_events] == [(b1, "cust_beta", "tool_call")]
    assert beta_events[0]["payload"] == {"tool": "grep", "customer_id": "cust_acme"}
    assert [e["id"] for e in events(brain, "cust_acme", event_type="login")] == [a2]
    assert [e["id"] for e in events(brain, "cust_acme", limit=1)] == [a2]
    assert "brk_" not in json.dumps(events(brain, "cust_acme"))
    resp = brain.client.get("/admin/customers/cust_nope/events", headers=admin(brain))
    assert resp.status_code == 404 and "cust_nope" in resp.json()["detail"]


def test_heartbeat_upserts_agent(brain):
    key = mint(brain)["api_key"]
    send(brain, key, payload={"hostname": "host-a"})
    first = customers(brain)["cust_acme"]["agents"]
    send(brain, key, payload={"hostname": "host-a", "uptime": 5})
    send(brain, key, payload={"hostname": "host-b"})
    send(brain, key, "tool_call", {"hostname": "host-c"})
    agents = {a["hostname"]: a for a in customers(brain)["cust_acme"]["agents"]}
    assert set(agents) == {"host-a", "host-b"}
    assert agents["host-a"]["first_seen"] == first[0]["first_seen"]
    assert agents["host-a"]["last_seen"] >= first[0]["last_seen"]
    assert customers(brain)["cust_acme"]["event_count"] == 4


def test_delete_cascades_and_revokes_key(brain):
    acme, beta = mint(brain)["api_key"], mint(brain, "cust_beta", "beta")["api_key"]
    send(brain, acme)
    send(brain, beta)
    resp = brain.client.delete("/admin/customers/cust_acme", headers=admin(brain))
    assert resp.status_code == 204 and resp.content == b""
    assert set(customers(brain)) == {"cust_beta"}
    assert brain.client.get("/admin/customers/cust_acme/events", headers=admin(brain)).status_code == 404
    send(brain, acme, expect=401)
    send(brain, beta)
    new = mint(brain)  # the id is free again, with a fresh key and no old events
    assert new["api_key"] != acme and events(brain, "cust_acme") == []
    assert customers(brain)["cust_acme"]["agents"] == []


def test_delete_missing_is_404(brain):
    resp = brain.client.delete("/admin/customers/cust_ghost", headers=admin(brain))
    assert resp.status_code == 404 and resp.json() == {"detail": "customer cust_ghost not found"}


def test_state_survives_restart(brain):
    try:
        minted = mint(brain)
        event_id = send(brain, minted["api_key"], payload={"hostname": "persist-1"})["event_id"]
        brain.restart(brain.tmp_dir)
        assert [e["id"] for e in events(brain, "cust_acme")] == [event_id]
        assert customers(brain)["cust_acme"]["key_ids"] == [minted["key_id"]]
        assert send(brain, minted["api_key"])["event_id"] > event_id
        mint(brain, expect=409)
    finally:
        brain.reset()
    assert customers(brain) == {}


def test_database_holds_no_plaintext_key(brain):
    key = mint(brain)["api_key"]
    send(brain, key)
    files = list(brain.tmp_dir.glob("brain.sqlite3*"))
    assert brain.tmp_dir / "brain.sqlite3" in files
    blob = b"".join(path.read_bytes() for path in files)
    assert b"cust_acme" in blob  # the file is the live state...
    assert key.encode() not in blob and key[4:].encode() not in blob  # ...but holds only the key's hash


def test_request_log_holds_no_secrets(brain):
    key = mint(brain)["api_key"]
    send(brain, key)
    events(brain, "cust_acme", limit=5)
    brain.client.get("/admin/customers/cust_acme/events", params={"token": key}, headers=admin(brain))
    log = brain.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log[:2]] == [
        ("POST", "/admin/customers", 201), ("POST", "/v1/events", 201)]
    dumped = json.dumps(log)
    assert key not in dumped and brain.settings["M8TRX_BRAIN_ADMIN_TOKEN"] not in dumped
    assert log[-1]["query"] == "token=[redacted]"


def test_fault_503_by_count_then_success(brain):
    brain.fault(route=r"^POST /admin/customers$", kind="503", count=2, retry_after=1)
    for _ in range(2):
        resp = brain.client.post("/admin/customers", json={"customer_id": "cust_acme", "name": "acme"},
                                 headers=admin(brain))
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
        assert resp.json() == {"detail": "injected server error"}
    assert customers(brain) == {}
    mint(brain)
    assert [e["fault"] for e in brain.requests()] == ["503", "503", None]


def test_fault_drop_raises_transport_error(brain):
    key = mint(brain)["api_key"]
    brain.fault(route=r"^POST /v1/events$", kind="drop", count=1)
    with pytest.raises(httpx.TransportError):
        brain.client.post("/v1/events", json={"event_type": "heartbeat", "payload": {"hostname": "h"}},
                          headers=bearer(key))
    assert events(brain, "cust_acme") == []
    send(brain, key)
    assert len(events(brain, "cust_acme")) == 1
