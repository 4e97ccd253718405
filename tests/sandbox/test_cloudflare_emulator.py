"""Contract tests of the Cloudflare DNS emulator, over real HTTP against a real uvicorn process.

Every API answer is validated against Cloudflare's own OpenAPI schema (the DNS subset saved in
shared/specs/cloudflare-dns-openapi.json, see shared/specs/SOURCES.md). The emulator runs with
CF_EMU_PER_PAGE=5 (tests/sandbox/conftest.py), so 13 records span three pages.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / ".." / "shared" / "specs" / "cloudflare-dns-openapi.json"
SPEC_URI = "urn:cloudflare-dns-openapi"
RECORDS = "/zones/{zone_id}/dns_records"
RECORD = "/zones/{zone_id}/dns_records/{dns_record_id}"
OPS = {"list": (RECORDS, "get"), "create": (RECORDS, "post"), "details": (RECORD, "get"),
       "patch": (RECORD, "patch"), "put": (RECORD, "put"), "delete": (RECORD, "delete"),
       "verify": ("/user/tokens/verify", "get")}
FAILURE = "/components/schemas/dns-records_api-response-common-failure"
COMMON = "/components/schemas/dns-records_api-response-common"
MARKER = "m8trx-managed:customer"


# --- OpenAPI schema -----------------------------------------------------------------------------------------

def openapi_to_jsonschema(node):
    """OpenAPI 3.0 ``nullable: true`` is not JSON Schema: turn it into a ``null`` type / enum member."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: openapi_to_jsonschema(value) for key, value in node.items()}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    return out


def pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


class Spec:
    def __init__(self, doc: dict):
        self.doc = openapi_to_jsonschema(doc)
        self.registry = Registry().with_resource(SPEC_URI, DRAFT4.create_resource(self.doc))

    def validator(self, ref: str) -> Draft4Validator:
        return Draft4Validator({"$ref": SPEC_URI + "#" + ref}, registry=self.registry,
                               format_checker=Draft4Validator.FORMAT_CHECKER)

    def response_refs(self, op: str, status: int) -> list[str]:
        """Schemas an answer must satisfy. The published 4xx schemas are ``allOf: [<success schema>,
        <failure schema>]``, unsatisfiable as written (success enum [true] and [false], see
        test_published_error_schema_is_unsatisfiable); we check the failure branch(es) and skip the branch
        that is a success response."""
        if op not in OPS:  # zones, batch, unknown routes: not in the 2024-08 subset; check the envelope
            return [COMMON if status == 200 else FAILURE]
        path, method = OPS[op]
        base = ("paths", path, method, "responses")
        responses = self.doc["paths"][path][method]["responses"]
        if status == 200:
            return [pointer(*base, "200", "content", "application/json", "schema")]
        key = next((k for k in ("4xx", "4XX") if k in responses), None)
        if key is None or status >= 500 or status == 429:
            return [FAILURE]
        schema = responses[key]["content"]["application/json"]["schema"]
        where = (*base, key, "content", "application/json", "schema")
        return [pointer(*where, "allOf", str(i)) for i, branch in enumerate(schema["allOf"])
                if "failure" in branch.get("$ref", "failure")]

    def check(self, op: str, status: int, body: dict) -> None:
        for ref in self.response_refs(op, status):
            errors = sorted(self.validator(ref).iter_errors(body), key=str)
            assert not errors, "%s %s answer violates %s: %s\n%s" % (op, status, ref, errors[0].message,
                                                                     json.dumps(body, indent=1)[:2000])


@pytest.fixture(scope="module")
def spec():
    return Spec(json.loads(SPEC_PATH.read_text())) if SPEC_PATH.exists() else None


# --- helpers ------------------------------------------------------------------------------------------------

def bearer(token):
    return {"Authorization": "Bearer " + token}


def call(cf, spec, op, method, path, status=200, token=None, headers=None, **kwargs):
    """One API call; asserts the status, the envelope and the schema of ``op``; returns the body."""
    if headers is None:
        headers = bearer(token or cf.settings["CLOUDFLARE_API_TOKEN"])
    path = path.replace("{zone}", cf.settings["CLOUDFLARE_ZONE_ID"])
    resp = cf.client.request(method, "/client/v4" + path, headers=headers, **kwargs)
    assert resp.status_code == status, resp.text
    assert resp.headers.get("cf-ray") or status in (429, 500, 502, 503)
    body = resp.json()
    assert set(body) >= {"success", "errors", "messages", "result"} and "detail" not in body, body
    assert body["success"] is (status == 200) and body["messages"] == []
    if status != 200:
        assert body["result"] is None and body["errors"] and all(isinstance(e["code"], int) for e in body["errors"])
    if spec is not None:
        spec.check(op, status, body)
    return body


def create(cf, spec, status=200, zone="{zone}", **record):
    record.setdefault("type", "A")
    return call(cf, spec, "create", "POST", "/zones/%s/dns_records" % zone, status, json=record)


def listing(cf, spec, zone="{zone}", **params):
    return call(cf, spec, "list", "GET", "/zones/%s/dns_records" % zone, params=params)


def names(body):
    return sorted(r["name"] for r in body["result"])


def code(body):
    return body["errors"][0]["code"]


def chain_code(body):
    return body["errors"][0]["error_chain"][0]["code"]


def all_records(cf):
    return cf.client.get("/_emulator/cloudflare/records").json()


def add_zone(cf, name, plan="free"):
    resp = cf.client.post("/_emulator/cloudflare/zones", json={"name": name, "plan": plan})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def add_token(cf, token, permissions, zones=None):
    resp = cf.client.post("/_emulator/cloudflare/tokens",
                          json={"token": token, "permissions": permissions, "zones": zones})
    assert resp.status_code == 201, resp.text


# --- tests --------------------------------------------------------------------------------------------------

def test_openapi_subset_is_available(spec):
    if spec is None:
        pytest.skip("Cloudflare OpenAPI subset not found at %s: answers are not schema-validated" % SPEC_PATH)
    for op, (path, method) in OPS.items():
        assert "200" in spec.doc["paths"][path][method]["responses"], op


def test_published_error_schema_is_unsatisfiable(spec):
    """Why Spec.response_refs checks only the failure branch of a 4xx allOf."""
    if spec is None:
        pytest.skip("Cloudflare OpenAPI subset not found at %s" % SPEC_PATH)
    body = {"success": False, "errors": [{"code": 81044, "message": "Record does not exist."}],
            "messages": [], "result": None}
    whole = pointer("paths", RECORD, "get", "responses", "4xx", "content", "application/json", "schema")
    assert not spec.validator(whole).is_valid(body)
    assert spec.validator(FAILURE).is_valid(body)


def test_verify_token(cloudflare, spec):
    body = call(cloudflare, spec, "verify", "GET", "/user/tokens/verify")
    assert body["result"]["status"] == "active" and len(body["result"]["id"]) == 32
    body = call(cloudflare, spec, "verify", "GET", "/user/tokens/verify", 403, token="not-a-token")
    assert body["errors"] == [{"code": 9109, "message": "Invalid access token"}]


def test_create_and_details_return_the_full_record(cloudflare, spec):
    zone_id, zone_name = cloudflare.settings["CLOUDFLARE_ZONE_ID"], cloudflare.settings["CLOUDFLARE_ZONE_NAME"]
    made = create(cloudflare, spec, name="Acme", content="203.0.113.10", comment=MARKER)["result"]
    assert made["name"] == "acme." + zone_name and made["zone_id"] == zone_id and made["zone_name"] == zone_name
    assert (made["type"], made["content"], made["proxied"], made["proxiable"], made["ttl"]) == \
        ("A", "203.0.113.10", False, True, 1)
    assert made["comment"] == MARKER and made["tags"] == [] and len(made["id"]) == 32
    assert made["created_on"] == made["modified_on"] and made["created_on"].endswith("Z")
    got = call(cloudflare, spec, "details", "GET", "/zones/{zone}/dns_records/" + made["id"])["result"]
    assert got == made
    assert all_records(cloudflare) == [made]


@pytest.mark.parametrize("given, stored", [("@", ""), ("example.com", ""), ("WWW.Example.COM.", "www."),
                                           ("www", "www."), ("a.b", "a.b."), ("x.other.org", "x.other.org.")])
def test_record_names_are_fqdns_in_the_zone(cloudflare, spec, given, stored):
    zone_name = cloudflare.settings["CLOUDFLARE_ZONE_NAME"]
    given = given.replace("example.com", zone_name).replace("Example.COM", zone_name.upper())
    made = create(cloudflare, spec, name=given, content="198.51.100.1")["result"]
    assert made["name"] == stored + zone_name  # a name outside the zone is relative (NewFuture/DDNS#21)


def test_absolute_name_outside_the_zone_is_refused(cloudflare, spec):
    body = create(cloudflare, spec, 400, name="x.other.org.", content="198.51.100.1")
    assert code(body) == 1004 and all_records(cloudflare) == []


def test_pagination_walks_three_pages(cloudflare, spec):
    ids = {create(cloudflare, spec, name="h%02d" % i, content="192.0.2.%d" % (i + 1))["result"]["id"]
           for i in range(13)}
    seen, counts = [], []
    for page in (1, 2, 3):
        body = listing(cloudflare, spec, page=page)
        assert body["result_info"] == {"page": page, "per_page": 5, "count": len(body["result"]),
                                       "total_count": 13, "total_pages": 3}
        counts.append(len(body["result"]))
        seen += [r["id"] for r in body["result"]]
    assert counts == [5, 5, 3] and len(seen) == len(set(seen)) == 13 and set(seen) == ids
    past = listing(cloudflare, spec, page=4)
    assert past["result"] == [] and past["result_info"]["count"] == 0 and past["result_info"]["total_pages"] == 3
    whole = listing(cloudflare, spec, per_page=100)
    assert [r["id"] for r in whole["result"]] == seen and whole["result_info"]["total_pages"] == 1


def test_page_overflow_quirk_replays_the_last_page(cloudflare, spec):
    for i in range(7):
        create(cloudflare, spec, name="q%d" % i, content="192.0.2.%d" % (i + 1))
    cloudflare.client.post("/_emulator/cloudflare/settings", json={"page_overflow": "last"}).raise_for_status()
    last, beyond = listing(cloudflare, spec, page=2), listing(cloudflare, spec, page=9)
    assert beyond["result"] == last["result"] and len(last["result"]) == 2
    assert beyond["result_info"]["page"] == 9 and beyond["result_info"]["total_pages"] == 2
    cloudflare.reset()
    assert listing(cloudflare, spec, page=9)["result"] == []


def hook(cf, status=201, **spec):
    spec.setdefault("zone_id", cf.settings["CLOUDFLARE_ZONE_ID"])
    resp = cf.client.post("/_emulator/cloudflare/listing_hooks", json=spec)
    assert resp.status_code == status, resp.text
    return resp.json()


def test_listing_hook_changes_the_zone_when_its_page_is_served(cloudflare, spec):
    ids = [create(cloudflare, spec, name="h%02d" % i, content="192.0.2.%d" % (i + 1))["result"]["id"] for i in range(13)]
    hook(cloudflare, page=2, delete=ids[:3], create=[{"type": "A", "name": "a-new", "content": "192.0.2.99"}])
    first = listing(cloudflare, spec, page=1)
    assert [r["id"] for r in first["result"]] == ids[:5] and first["result_info"]["total_count"] == 13
    assert len(all_records(cloudflare)) == 13  # page 1 fired nothing
    second = listing(cloudflare, spec, page=2)  # h00-h02 gone, a-new sorts first: offsets moved by two
    assert second["result_info"] == {"page": 2, "per_page": 5, "count": 5, "total_count": 11, "total_pages": 3}
    assert [r["name"].split(".")[0] for r in second["result"]] == ["h07", "h08", "h09", "h10", "h11"]
    again = listing(cloudflare, spec, page=2)  # one-shot
    assert again["result"] == second["result"] and again["result_info"]["total_count"] == 11
    hooks = cloudflare.client.get("/_emulator/cloudflare/listing_hooks").json()
    assert len(hooks) == 1 and hooks[0]["fired"] and hooks[0]["deleted"] == ids[:3] and len(hooks[0]["created"]) == 1
    assert hooks[0]["errors"] == []


def test_listing_hooks_fire_oldest_first_one_per_request_and_only_in_their_zone(cloudflare, spec):
    other = add_zone(cloudflare, "hooks.example")
    ids = [create(cloudflare, spec, name="k%d" % i, content="192.0.2.%d" % (i + 1))["result"]["id"] for i in range(4)]
    hook(cloudflare, page=1, delete=[ids[0]])
    hook(cloudflare, page=1, delete=[ids[1], "no-such-record"])
    hook(cloudflare, page=1, create=[{"type": "A", "name": "k2", "content": "192.0.2.3"},
                                       {"type": "A", "name": "k9", "content": "192.0.2.9"}])
    listing(cloudflare, spec, zone=other)
    assert listing(cloudflare, spec)["result_info"]["total_count"] == 3
    assert listing(cloudflare, spec, name="k2." + cloudflare.settings["CLOUDFLARE_ZONE_NAME"])["result_info"]["total_count"] == 1
    assert listing(cloudflare, spec)["result_info"]["total_count"] == 3  # 81057 for the identical k2, k9 created
    hooks = cloudflare.client.get("/_emulator/cloudflare/listing_hooks").json()
    assert [h["fired"] for h in hooks] == [True, True, True]
    assert hooks[1]["deleted"] == [ids[1]] and [e["code"] for e in hooks[2]["errors"]] == [81057]
    assert cloudflare.client.delete("/_emulator/cloudflare/listing_hooks").json() == {"removed": 3}


def test_listing_hook_validation_and_reset(cloudflare, spec):
    hook(cloudflare, 422, page=0)
    hook(cloudflare, 404, zone_id="0" * 32, page=1)
    hook(cloudflare, 422, page=1, create=[{"type": "A", "name": "x", "content": "not-an-ip"}])
    hook(cloudflare, page=3, delete=["x"])
    cloudflare.reset()
    assert cloudflare.client.get("/_emulator/cloudflare/listing_hooks").json() == []


def test_empty_listing(cloudflare, spec):
    body = listing(cloudflare, spec)
    assert body["result"] == [] and body["result_info"] == {"page": 1, "per_page": 5, "count": 0,
                                                            "total_count": 0, "total_pages": 0}


@pytest.mark.parametrize("params", [{"page": "0"}, {"per_page": "0"}, {"per_page": "abc"}, {"page": "-1"},
                                    {"per_page": "5000001"}, {"order": "comment"}, {"direction": "up"},
                                    {"match": "some"}, {"type": "BOGUS"}, {"proxied": "yes"}])
def test_list_parameter_validation(cloudflare, spec, params):
    body = call(cloudflare, spec, "list", "GET", "/zones/{zone}/dns_records", 400, params=params)
    assert code(body) == 1004


def test_list_filters(cloudflare, spec):
    zone_name = cloudflare.settings["CLOUDFLARE_ZONE_NAME"]
    create(cloudflare, spec, name="web", content="192.0.2.1")
    create(cloudflare, spec, name="web", content="192.0.2.2")
    create(cloudflare, spec, name="webmail", content="192.0.2.3", proxied=True)
    create(cloudflare, spec, name="api", type="CNAME", content="Web.%s" % zone_name)
    create(cloudflare, spec, name="web", type="TXT", content="Hello World")
    web = "web." + zone_name
    assert names(listing(cloudflare, spec, name=web.upper())) == [web] * 3
    assert names(listing(cloudflare, spec, **{"name.exact": web, "type": "A"})) == [web] * 2
    assert names(listing(cloudflare, spec, **{"name.startswith": "WEB"})) == [web] * 3 + ["webmail." + zone_name]
    assert names(listing(cloudflare, spec, **{"name.contains": "mail"})) == ["webmail." + zone_name]
    assert names(listing(cloudflare, spec, **{"name.endswith": "api." + zone_name})) == ["api." + zone_name]
    assert names(listing(cloudflare, spec, name="@")) == []
    assert [r["content"] for r in listing(cloudflare, spec, content="192.0.2.2")["result"]] == ["192.0.2.2"]
    assert listing(cloudflare, spec, **{"content.exact": "hello world"})["result"][0]["type"] == "TXT"
    assert listing(cloudflare, spec, **{"content.contains": "WEB."})["result"][0]["type"] == "CNAME"
    assert names(listing(cloudflare, spec, proxied="true")) == ["webmail." + zone_name]
    assert len(listing(cloudflare, spec, proxied="false", type="A")["result"]) == 2
    anyof = listing(cloudflare, spec, match="any", type="CNAME", content="192.0.2.3")
    assert sorted(r["type"] for r in anyof["result"]) == ["A", "CNAME"]
    assert listing(cloudflare, spec, type="A", content="192.0.2.3", match="all")["result_info"]["total_count"] == 1


def test_comment_filters_are_case_insensitive(cloudflare, spec):
    exact = create(cloudflare, spec, name="a1", content="192.0.2.1", comment=MARKER)["result"]["id"]
    shouty = create(cloudflare, spec, name="a2", content="192.0.2.2", comment=MARKER.upper())["result"]["id"]
    longer = create(cloudflare, spec, name="a3", content="192.0.2.3", comment=MARKER + "-x")["result"]["id"]
    bare = create(cloudflare, spec, name="a4", content="192.0.2.4")["result"]["id"]

    def ids(**params):
        return {r["id"] for r in listing(cloudflare, spec, **params)["result"]}

    assert ids(comment=MARKER) == {exact, shouty}  # the trap: the server filter also matches the UPPER one
    assert ids(**{"comment.exact": MARKER.title()}) == {exact, shouty}
    assert ids(**{"comment.startswith": "M8TRX"}) == {exact, shouty, longer}
    assert ids(**{"comment.contains": "MANAGED:cust"}) == {exact, shouty, longer}
    assert ids(**{"comment.endswith": "-X"}) == {longer}
    assert ids(**{"comment.present": ""}) == {exact, shouty, longer}
    assert ids(**{"comment.absent": ""}) == {bare}
    owned = [r for r in listing(cloudflare, spec, comment=MARKER)["result"] if r["comment"] == MARKER]
    assert [r["id"] for r in owned] == [exact]


def test_tags_and_tag_filters_on_a_paid_zone(cloudflare, spec):
    zone = add_zone(cloudflare, "paid.example", plan="pro")
    one = create(cloudflare, spec, zone=zone, name="t1", content="192.0.2.1", tags=["owner:DNS-team", "env:prod"])
    two = create(cloudflare, spec, zone=zone, name="t2", content="192.0.2.2", tags=["owner:web"])
    create(cloudflare, spec, zone=zone, name="t3", content="192.0.2.3")
    one, two = one["result"]["id"], two["result"]["id"]

    def ids(**params):
        return {r["id"] for r in listing(cloudflare, spec, zone=zone, **params)["result"]}

    assert ids(tag="owner:dns-team") == {one} and ids(tag="OWNER") == {one, two}
    assert ids(**{"tag.present": "env"}) == {one} and len(ids(**{"tag.absent": "owner"})) == 1
    assert ids(**{"tag.startswith": "owner:DNS"}) == {one} and ids(**{"tag.contains": "owner:e"}) == {one, two}
    assert ids(**{"tag.exact": "owner:web", "tag.present": "env"}) == set()
    assert ids(**{"tag.exact": "owner:web", "tag.present": "env", "tag_match": "any"}) == {one, two}
    body = create(cloudflare, spec, 400, name="t4", content="192.0.2.4", tags=["owner:x"])  # Free zone: no tags
    assert code(body) == 1004 and "quota" in body["errors"][0]["error_chain"][0]["message"]


def test_order_and_direction(cloudflare, spec):
    for i, ttl in enumerate((300, 120, 3600)):
        create(cloudflare, spec, name="o%d" % i, content="192.0.2.%d" % (9 - i), ttl=ttl)
    create(cloudflare, spec, name="o0", type="TXT", content="text")
    assert [r["type"] for r in listing(cloudflare, spec, per_page=10)["result"]] == ["A", "A", "A", "TXT"]
    by_ttl = listing(cloudflare, spec, type="A", order="ttl", direction="desc")["result"]
    assert [r["ttl"] for r in by_ttl] == [3600, 300, 120]
    by_content = listing(cloudflare, spec, type="A", order="content")["result"]
    assert [r["content"] for r in by_content] == ["192.0.2.7", "192.0.2.8", "192.0.2.9"]


def test_identical_record_is_81057_but_round_robin_is_allowed(cloudflare, spec):
    create(cloudflare, spec, name="rr", content="192.0.2.1", comment=MARKER)
    body = create(cloudflare, spec, 400, name="RR", content="192.0.2.1", ttl=300)
    assert body["errors"] == [{"code": 81057, "message": "Record already exists."}]
    create(cloudflare, spec, name="rr", content="192.0.2.2")
    assert len(all_records(cloudflare)) == 2


def test_update_into_an_identical_record_is_81058(cloudflare, spec):
    create(cloudflare, spec, name="dup", content="192.0.2.1")
    other = create(cloudflare, spec, name="dup", content="192.0.2.2")["result"]
    path = "/zones/{zone}/dns_records/" + other["id"]
    body = call(cloudflare, spec, "patch", "PATCH", path, 400, json={"content": "192.0.2.1"})
    assert body["errors"] == [{"code": 81058, "message": "An identical record already exists."}]
    body = call(cloudflare, spec, "put", "PUT", path, 400, json={"type": "A", "name": "dup", "content": "192.0.2.1"})
    assert code(body) == 81058
    assert call(cloudflare, spec, "patch", "PATCH", path, json={"content": "192.0.2.2"})["result"] == other


def test_cname_conflicts_with_a_and_aaaa(cloudflare, spec):
    create(cloudflare, spec, name="host", content="192.0.2.1")
    body = create(cloudflare, spec, 400, name="host", type="CNAME", content="target.example.net")
    assert body["errors"] == [{"code": 81053, "message": "An A, AAAA, or CNAME record with that host already exists."}]
    create(cloudflare, spec, name="alias", type="CNAME", content="target.example.net")
    for rtype, content in (("A", "192.0.2.1"), ("AAAA", "2001:db8::1")):
        body = create(cloudflare, spec, 400, name="alias", type=rtype, content=content)
        assert body["errors"] == [{"code": 81054, "message": "A CNAME record with that host already exists."}]
    assert code(create(cloudflare, spec, 400, name="alias", type="CNAME", content="other.example.net")) == 81053
    a_id = [r for r in all_records(cloudflare) if r["type"] == "A"][0]["id"]
    body = call(cloudflare, spec, "patch", "PATCH", "/zones/{zone}/dns_records/" + a_id, 400, json={"name": "alias"})
    assert code(body) == 81054 and len(all_records(cloudflare)) == 2


@pytest.mark.parametrize("op, method, body", [("details", "GET", None), ("patch", "PATCH", {"content": "192.0.2.9"}),
                                              ("put", "PUT", {"type": "A", "name": "x", "content": "192.0.2.9"}),
                                              ("delete", "DELETE", None)])
def test_missing_record_is_81044(cloudflare, spec, op, method, body):
    kwargs = {} if body is None else {"json": body}
    answer = call(cloudflare, spec, op, method, "/zones/{zone}/dns_records/" + "0" * 32, 404, **kwargs)
    assert answer["errors"] == [{"code": 81044, "message": "Record does not exist."}]


def test_delete_returns_the_id_and_a_second_delete_is_81044(cloudflare, spec):
    made = create(cloudflare, spec, name="gone", content="192.0.2.1")["result"]
    path = "/zones/{zone}/dns_records/" + made["id"]
    assert call(cloudflare, spec, "delete", "DELETE", path)["result"] == {"id": made["id"]}
    assert code(call(cloudflare, spec, "delete", "DELETE", path, 404)) == 81044
    assert all_records(cloudflare) == []


@pytest.mark.parametrize("record, top, chained", [
    ({"content": "192.0.2.256"}, 1004, 9005),
    ({"content": "not-an-ip"}, 1004, 9005),
    ({"content": "2001:db8::1"}, 1004, 9005),
    ({"content": "192.0.2.1", "ttl": 59}, 1004, 9021),
    ({"content": "192.0.2.1", "ttl": 30}, 1004, 9021),  # 30 is for Enterprise zones only
    ({"content": "192.0.2.1", "ttl": 86401}, 1004, 9021),
    ({"content": "192.0.2.1", "ttl": "300"}, 1004, 9021),
    ({"content": "192.0.2.1", "ttl": True}, 1004, 9021),
    ({"type": "TXT", "content": "hello", "proxied": True}, 1004, 9041),
    ({"content": "192.0.2.1", "proxied": "false"}, 1004, 1004),
    ({"content": "192.0.2.1", "comment": "c" * 101}, 9313, None),
    ({"content": "192.0.2.1", "comment": "line\nbreak"}, 1004, 1004),
    ({"content": "192.0.2.1", "comment": 7}, 1004, 1004),
    ({"type": "AAAA", "content": "192.0.2.1"}, 1004, 9006),
    ({"type": "BOGUS", "content": "192.0.2.1"}, 1004, 1004),
    ({"type": None, "content": "192.0.2.1"}, 1004, 1004),
    ({"content": None}, 1004, 1004),
    ({"name": "", "content": "192.0.2.1"}, 1004, 1004),
    ({"name": "l" * 64, "content": "192.0.2.1"}, 1004, 1004),
    ({"type": "CNAME", "name": "loop", "content": "LOOP.{zone}."}, 1004, 1004),
])
def test_validation_errors(cloudflare, spec, record, top, chained):
    record = {"name": "v", **record}
    if isinstance(record["content"], str):
        record["content"] = record["content"].replace("{zone}", cloudflare.settings["CLOUDFLARE_ZONE_NAME"])
    body = create(cloudflare, spec, 400, **record)
    assert code(body) == top
    if chained is None:
        assert body["errors"][0]["message"] == "DNS record comment exceeds the maximum length of 100 characters."
    else:
        assert body["errors"][0]["message"] == "DNS Validation Error" and chain_code(body) == chained
    assert all_records(cloudflare) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"A"'])
def test_invalid_bodies_are_1004(cloudflare, spec, raw):
    body = call(cloudflare, spec, "create", "POST", "/zones/{zone}/dns_records", 400, content=raw,
                headers={**bearer(cloudflare.settings["CLOUDFLARE_API_TOKEN"]), "content-type": "application/json"})
    assert code(body) == 1004 and all_records(cloudflare) == []


def test_plan_limits(cloudflare, spec):
    create(cloudflare, spec, name="c100", content="192.0.2.1", comment="c" * 100)
    zone = add_zone(cloudflare, "big.example", plan="enterprise")
    assert create(cloudflare, spec, zone=zone, name="c500", content="192.0.2.1", comment="c" * 500, ttl=30)
    body = create(cloudflare, spec, 400, zone=zone, name="c501", content="192.0.2.1", comment="c" * 501)
    assert body["errors"][0] == {"code": 9313,
                                 "message": "DNS record comment exceeds the maximum length of 500 characters."}


def test_proxied_records_get_auto_ttl(cloudflare, spec):
    made = create(cloudflare, spec, name="cdn", content="192.0.2.1", proxied=True, ttl=3600)["result"]
    assert made["proxied"] is True and made["ttl"] == 1
    path = "/zones/{zone}/dns_records/" + made["id"]
    patched = call(cloudflare, spec, "patch", "PATCH", path, json={"proxied": False, "ttl": 300})["result"]
    assert (patched["proxied"], patched["ttl"]) == (False, 300)


def test_patch_changes_only_the_given_fields(cloudflare, spec):
    made = create(cloudflare, spec, name="keep", content="192.0.2.1", ttl=300, comment=MARKER)["result"]
    path = "/zones/{zone}/dns_records/" + made["id"]
    patched = call(cloudflare, spec, "patch", "PATCH", path, json={"content": "192.0.2.7"})["result"]
    changed = {k for k in made if made[k] != patched.get(k)}
    assert patched["content"] == "192.0.2.7" and changed == {"content", "modified_on"}
    assert patched["modified_on"] >= made["modified_on"] and patched["created_on"] == made["created_on"]
    same = call(cloudflare, spec, "patch", "PATCH", path, json={"ttl": 300})["result"]
    assert same == patched  # a no-op PATCH keeps modified_on
    cleared = call(cloudflare, spec, "patch", "PATCH", path, json={"comment": None})["result"]
    assert "comment" not in cleared and cleared["ttl"] == 300
    assert call(cloudflare, spec, "details", "GET", path)["result"] == cleared


def test_put_overwrites_and_resets_unspecified_fields(cloudflare, spec):
    made = create(cloudflare, spec, name="over", content="192.0.2.1", ttl=300, proxied=True, comment=MARKER)["result"]
    path = "/zones/{zone}/dns_records/" + made["id"]
    put = call(cloudflare, spec, "put", "PUT", path, json={"type": "A", "name": "over", "content": "192.0.2.2"})
    put = put["result"]
    assert (put["id"], put["created_on"], put["content"]) == (made["id"], made["created_on"], "192.0.2.2")
    assert put["proxied"] is False and put["ttl"] == 1 and "comment" not in put  # the PUT trap (reference §1.4)
    body = call(cloudflare, spec, "put", "PUT", path, 400, json={"content": "192.0.2.3"})
    assert code(body) == 1004 and call(cloudflare, spec, "details", "GET", path)["result"] == put


AUTH_ERROR = {"code": 10000, "message": "Authentication error"}


@pytest.mark.parametrize("headers, status, error", [
    ({}, 403, AUTH_ERROR),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 400, None),
    ({"Authorization": "Bearer"}, 400, None),
    ({"Authorization": "Bearer wrong-token"}, 403, {"code": 9109, "message": "Invalid access token"}),
    ({"X-Auth-Email": "a@example.com", "X-Auth-Key": "k" * 37}, 403, AUTH_ERROR),  # legacy keys: not emulated
])
def test_auth_errors(cloudflare, spec, headers, status, error):
    record = {"type": "A", "name": "x", "content": "192.0.2.1"}
    for op, method, kwargs in (("list", "GET", {}), ("create", "POST", {"json": record})):
        body = call(cloudflare, spec, op, method, "/zones/{zone}/dns_records", status, headers=headers, **kwargs)
        if error is None:
            assert code(body) == 6003 and chain_code(body) == 6111
        else:
            assert body["errors"] == [error]
    assert all_records(cloudflare) == []


def test_zone_lookup(cloudflare, spec):
    zone_id, zone_name = cloudflare.settings["CLOUDFLARE_ZONE_ID"], cloudflare.settings["CLOUDFLARE_ZONE_NAME"]
    other = add_zone(cloudflare, "other.example")
    body = call(cloudflare, spec, "zones", "GET", "/zones", params={"name": zone_name.upper()})
    assert [z["id"] for z in body["result"]] == [zone_id] and body["result_info"]["total_count"] == 1
    assert {z["id"] for z in call(cloudflare, spec, "zones", "GET", "/zones")["result"]} == {zone_id, other}
    body = call(cloudflare, spec, "zones", "GET", "/zones/{zone}")
    assert body["result"]["name"] == zone_name and body["result"]["status"] == "active"
    for path in ("/zones/" + "f" * 32, "/zones/" + "f" * 32 + "/dns_records"):
        assert code(call(cloudflare, spec, "list", "GET", path, 404)) == 7003


def test_dns_only_zone_scoped_token(cloudflare, spec):
    zone_id = cloudflare.settings["CLOUDFLARE_ZONE_ID"]
    other = add_zone(cloudflare, "other.example")
    add_token(cloudflare, "cfut_dns-only-token", ["dns_records:edit"], zones=[zone_id])
    dns_only = "cfut_dns-only-token"
    for path in ("/zones", "/zones/{zone}"):
        body = call(cloudflare, spec, "zones", "GET", path, 403, token=dns_only, params={"name": "x"})
        assert body["errors"] == [{"code": 9109, "message": "Unauthorized to access requested resource"}]
    made = create(cloudflare, spec, name="scoped", content="192.0.2.1")["result"]
    assert listing(cloudflare, spec)["result"] == [made]
    call(cloudflare, spec, "list", "GET", "/zones/{zone}/dns_records", token=dns_only)
    body = call(cloudflare, spec, "create", "POST", "/zones/{zone}/dns_records", token=dns_only,
                json={"type": "A", "name": "scoped2", "content": "192.0.2.2"})
    assert body["result"]["name"].startswith("scoped2.")
    body = call(cloudflare, spec, "list", "GET", "/zones/%s/dns_records" % other, 403, token=dns_only)
    assert code(body) == 10000
    assert code(call(cloudflare, spec, "list", "GET", "/zones/%s/dns_records" % ("e" * 32), 403, token=dns_only)) \
        == 10000  # a zone outside the token's scope looks the same whether or not it exists


def test_read_only_and_zone_read_tokens(cloudflare, spec):
    zone_id, zone_name = cloudflare.settings["CLOUDFLARE_ZONE_ID"], cloudflare.settings["CLOUDFLARE_ZONE_NAME"]
    add_zone(cloudflare, "other.example")
    add_token(cloudflare, "reader", ["dns_records:read", "zone:read"], zones=[zone_id])
    made = create(cloudflare, spec, name="ro", content="192.0.2.1")["result"]
    assert call(cloudflare, spec, "list", "GET", "/zones/{zone}/dns_records", token="reader")["result"] == [made]
    body = call(cloudflare, spec, "patch", "PATCH", "/zones/{zone}/dns_records/" + made["id"], 403, token="reader",
                json={"content": "192.0.2.2"})
    assert body["errors"] == [{"code": 10000, "message": "PATCH method not allowed for the api_token authentication "
                                                         "scheme"}]
    zones = call(cloudflare, spec, "zones", "GET", "/zones", token="reader")["result"]
    assert [z["name"] for z in zones] == [zone_name]  # a zone-scoped token sees only its zones
    assert call(cloudflare, spec, "zones", "GET", "/zones", token="reader", params={"name": zone_name})["result"]


def test_unknown_route_and_method_keep_the_envelope(cloudflare, spec):
    assert call(cloudflare, spec, "x", "GET", "/nowhere", 404)["errors"][0]["code"] == 7000
    assert call(cloudflare, spec, "x", "DELETE", "/zones/{zone}/dns_records", 405)["errors"][0]["code"] == 7001


def test_batch_applies_in_order(cloudflare, spec):
    zone_name = cloudflare.settings["CLOUDFLARE_ZONE_NAME"]
    old = create(cloudflare, spec, name="swap", content="192.0.2.1")["result"]
    patch_me = create(cloudflare, spec, name="p", content="192.0.2.2", comment=MARKER, ttl=300)["result"]
    put_me = create(cloudflare, spec, name="u", content="192.0.2.3", comment=MARKER)["result"]
    body = call(cloudflare, spec, "batch", "POST", "/zones/{zone}/dns_records/batch", json={
        "posts": [{"type": "CNAME", "name": "swap", "content": "target.example.net"},  # legal: deletes run first
                  {"type": "A", "name": "new", "content": "192.0.2.9", "comment": MARKER}],
        "puts": [{"id": put_me["id"], "type": "A", "name": "u", "content": "192.0.2.4"}],
        "patches": [{"id": patch_me["id"], "content": "192.0.2.5"}],
        "deletes": [{"id": old["id"]}]})
    result = body["result"]
    assert [r["id"] for r in result["deletes"]] == [old["id"]]
    assert result["patches"][0]["content"] == "192.0.2.5" and result["patches"][0]["comment"] == MARKER
    assert result["puts"][0]["content"] == "192.0.2.4" and "comment" not in result["puts"][0]
    assert [r["name"] for r in result["posts"]] == ["swap." + zone_name, "new." + zone_name]
    state = {r["name"]: r for r in all_records(cloudflare)}
    assert state["swap." + zone_name]["type"] == "CNAME" and len(state) == 4
    assert state["p." + zone_name]["ttl"] == 300


def test_batch_is_all_or_nothing(cloudflare, spec):
    keep = create(cloudflare, spec, name="keep", content="192.0.2.1")["result"]
    before = all_records(cloudflare)
    failing = [
        ({"deletes": [{"id": keep["id"]}], "posts": [{"type": "A", "name": "ok", "content": "192.0.2.2"},
                                                      {"type": "A", "name": "bad", "content": "300.0.0.1"}]},
         400, 1004, "/posts/1"),
        ({"patches": [{"id": keep["id"], "ttl": 600}, {"id": "0" * 32, "ttl": 600}]}, 404, 81044, "/patches/1"),
        ({"posts": [{"type": "A", "name": "twice", "content": "192.0.2.3"},
                    {"type": "A", "name": "twice", "content": "192.0.2.3"}]}, 400, 81057, "/posts/1"),
        ({"deletes": [{"id": keep["id"]}, {"id": keep["id"]}]}, 404, 81044, "/deletes/1"),
        ({"posts": "not a list"}, 400, 1004, None),
        ({"posts": [{"type": "A", "name": "b%d" % i, "content": "192.0.2.1"} for i in range(201)]}, 400, 1004, None),
    ]
    for payload, status, error_code, where in failing:
        body = call(cloudflare, spec, "batch", "POST", "/zones/{zone}/dns_records/batch", status, json=payload)
        assert code(body) == error_code and body["errors"][0].get("source", {}).get("pointer") == where
        assert all_records(cloudflare) == before
    body = call(cloudflare, spec, "batch", "POST", "/zones/{zone}/dns_records/batch", 403, token="nope",
                json={"deletes": [{"id": keep["id"]}]})
    assert code(body) == 9109 and all_records(cloudflare) == before


def test_concurrent_identical_creates_make_one_record(cloudflare, spec):
    statuses = []

    def worker():
        with httpx.Client(base_url=cloudflare.url, timeout=10) as client:
            resp = client.post("/client/v4/zones/%s/dns_records" % cloudflare.settings["CLOUDFLARE_ZONE_ID"],
                               headers=bearer(cloudflare.settings["CLOUDFLARE_API_TOKEN"]),
                               json={"type": "A", "name": "race", "content": "192.0.2.1"})
            statuses.append((resp.status_code, resp.json()["errors"][:1]))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(s for s, _ in statuses) == [200] + [400] * 11
    assert all(e[0]["code"] == 81057 for s, e in statuses if s == 400) and len(all_records(cloudflare)) == 1


def test_request_log_never_holds_the_token(cloudflare, spec):
    token = cloudflare.settings["CLOUDFLARE_API_TOKEN"]
    create(cloudflare, spec, name="logged", content="192.0.2.1")
    listing(cloudflare, spec, comment=MARKER)
    cloudflare.client.get("/client/v4/zones", params={"api_token": token}, headers=bearer(token))
    log = cloudflare.requests()
    assert [(e["method"], e["status"]) for e in log] == [("POST", 200), ("GET", 200), ("GET", 200)]
    assert token not in json.dumps(log) and log[2]["query"] == "api_token=[redacted]"


def test_injected_429_keeps_the_envelope_and_retry_after(cloudflare, spec):
    cloudflare.fault(route=r"^GET /client/v4/zones/[^/]+/dns_records$", kind="429", count=1, retry_after=7)
    body = call(cloudflare, spec, "list", "GET", "/zones/{zone}/dns_records", 429)
    assert body["errors"] == [{"code": 10100, "message": "More than 1200 requests per 300 seconds reached. "
                                                         "Please wait and consider throttling your request speed"}]
    assert cloudflare.requests()[-1]["fault"] == "429"
    assert listing(cloudflare, spec)["success"] is True  # count=1: the retry goes through
    assert [e["fault"] for e in cloudflare.requests()] == ["429", None]
    cloudflare.fault(route="dns_records", kind="429", count=1, retry_after=3)
    resp = cloudflare.client.get("/client/v4/zones/x/dns_records")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"


def test_rate_limit_code_971_is_below_the_schema_minimum(cloudflare, spec):
    """971 is a real 429 code (reference §1.7) that the schema's ``code >= 1000`` does not allow: clients must
    not rely on the schema's range."""
    cloudflare.client.post("/_emulator/cloudflare/settings", json={"rate_limit_code": 971}).raise_for_status()
    cloudflare.fault(route="dns_records", kind="429", count=1)
    body = call(cloudflare, None, "list", "GET", "/zones/{zone}/dns_records", 429)
    assert body["errors"] == [{"code": 971, "message": "Please wait and consider throttling your request speed"}]
    if spec is not None:
        assert not spec.validator(FAILURE).is_valid(body)


def test_injected_5xx_keeps_the_envelope(cloudflare, spec):
    cloudflare.fault(route=r"^POST /client/v4/zones/[^/]+/dns_records$", kind="503", count=1)
    body = create(cloudflare, spec, 503, name="later", content="192.0.2.1")
    assert code(body) == 1000 and all_records(cloudflare) == []
    assert create(cloudflare, spec, name="later", content="192.0.2.1")["success"]


def test_records_helper_spans_zones_and_reset_restores_the_sandbox(cloudflare, spec):
    other = add_zone(cloudflare, "orphans.example", plan="pro")
    add_token(cloudflare, "temp-token", ["zone:read"])
    create(cloudflare, spec, name="mine", content="192.0.2.1")
    create(cloudflare, spec, zone=other, name="stray", content="192.0.2.2")
    assert sorted(r["name"] for r in all_records(cloudflare)) == [
        "mine." + cloudflare.settings["CLOUDFLARE_ZONE_NAME"], "stray.orphans.example"]
    assert cloudflare.client.post("/_emulator/cloudflare/zones", json={"name": "orphans.example"}).status_code == 409
    cloudflare.reset()
    assert all_records(cloudflare) == []
    zones = call(cloudflare, spec, "zones", "GET", "/zones")["result"]
    assert [z["id"] for z in zones] == [cloudflare.settings["CLOUDFLARE_ZONE_ID"]]
    assert code(call(cloudflare, spec, "zones", "GET", "/zones", 403, token="temp-token")) == 9109
