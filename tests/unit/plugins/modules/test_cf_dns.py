# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cf_dns: validation, the ownership-safe planner (table-driven and property-based), and converge()
against an in-memory Cloudflare behind the real ``_http.ApiClient`` (pagination, retries, races)."""

from __future__ import annotations

import copy
import itertools
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.m8trx.deployer.plugins.module_utils._cloudflare_dns import (
    OWNER_COMMENT,
    DnsConflictError,
    DnsInputError,
    DnsZone,
    converge,
    plan,
    validate,
)
from ansible_collections.m8trx.deployer.plugins.module_utils._http import ApiClient, AuthError, PaginationError, RetryPolicy

ZONE = "example.com"
ZONE_ID = "z" * 32
WRONG_CASE = "M8TRX-managed:customer"


def params(**kwargs):
    base = dict(zone_id=ZONE_ID, zone=None, records=None, name=None, content=None, ttl=1, proxied=False,
                comment=OWNER_COMMENT, comment_max_length=100, state="present", per_page=100, max_pages=50)
    base.update(kwargs)
    return base


def record(name, content="192.0.2.1", rtype="A", comment=OWNER_COMMENT, ttl=1, proxied=False, rid=None, **extra):
    out = {"id": rid or "id-%s-%s" % (name.split(".")[0], content.replace(".", "")), "name": name, "type": rtype,
           "content": content, "ttl": ttl, "proxied": proxied, "zone_name": ZONE}
    if comment is not None:
        out["comment"] = comment
    out.update(extra)
    return out


# -- validation ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("given_name, zone, fqdn", [
    ("acme", ZONE, "acme.example.com"),
    ("Acme.Example.COM.", ZONE, "acme.example.com"),
    ("acme", None, None),  # zone by id alone: resolved once the zone's name is known
    ("bücher", ZONE, "xn--bcher-kva.example.com"),
    ("a" * 63, ZONE, "a" * 63 + ".example.com"),
])
def test_names_are_labels_or_fqdns_in_the_zone(given_name, zone, fqdn):
    spec = validate(params(zone=zone, name=given_name, content="192.0.2.1"))
    assert spec["desired"][0]["name"] == fqdn


@pytest.mark.parametrize("overrides, fragment", [
    (dict(name="-acme", content="192.0.2.1"), "not a valid DNS name"),
    (dict(name="ac_me", content="192.0.2.1"), "not a valid DNS name"),
    (dict(name="a" * 64, content="192.0.2.1"), "not a valid DNS name"),
    (dict(name="acme.other.org", content="192.0.2.1", zone=ZONE), "is not inside the zone example.com"),
    (dict(name="acme", content="192.0.2.300"), "is not an IPv4 address"),
    (dict(name="acme", content="2001:db8::1"), "is not an IPv4 address"),
    (dict(name="acme"), "content (the IPv4 address) is required"),
    (dict(name="acme", content="192.0.2.1", ttl=59), "ttl 59 is invalid"),
    (dict(name="acme", content="192.0.2.1", ttl=86401), "ttl 86401 is invalid"),
    (dict(name="acme", content="192.0.2.1", ttl=300, proxied=True), "set ttl: 1"),
    (dict(name="acme", content="192.0.2.1", comment="x" * 101), "more than comment_max_length=100"),
    (dict(name="acme", content="192.0.2.1", comment="a\nb"), "one line"),
    (dict(name="acme", content="192.0.2.1", comment=""), "must not be empty"),
    (dict(records=[{"name": "a", "content": "192.0.2.1"}, {"name": "A", "content": "192.0.2.2"}]), "one A record per name"),
    (dict(records=[]), "records is empty"),
    (dict(name="acme", content="192.0.2.1", zone_id="not/an/id"), "is not a Cloudflare zone id"),
    (dict(name="acme", content="192.0.2.1", per_page=0), "per_page must be between 1 and 5000"),
])
def test_bad_input_says_what_to_fix(overrides, fragment):
    with pytest.raises(DnsInputError, match=None) as info:
        validate(params(**overrides))
    assert fragment in str(info.value)


def test_comment_limit_is_an_option_and_absent_needs_no_content():
    assert validate(params(name="acme", content="192.0.2.1", comment="x" * 300, comment_max_length=500))["comment"] == "x" * 300
    assert validate(params(name="acme", state="absent"))["desired"][0]["content"] is None


def test_record_defaults_come_from_the_top_level_options():
    spec = validate(params(zone=ZONE, ttl=300, records=[{"name": "a", "content": "192.0.2.1"},
                                                        {"name": "b", "content": "192.0.2.2", "ttl": 1, "proxied": True}]))
    assert [(w["ttl"], w["proxied"]) for w in spec["desired"]] == [(300, False), (1, True)]


# -- planning (table) ------------------------------------------------------------------------------------------
def want(name="acme", content="192.0.2.1", ttl=1, proxied=False):
    return {"name": "%s.%s" % (name, ZONE), "label": name, "content": content, "ttl": ttl, "proxied": proxied}


def ops(result):
    return [(a["operation"], a["id"], a["body"]) for a in result["actions"]]


def test_plan_creates_a_missing_record_with_the_marker_and_proxied_false():
    result = plan([want()], [], OWNER_COMMENT, "present")
    assert ops(result) == [("create", None, {"name": "acme.example.com", "type": "A", "content": "192.0.2.1", "ttl": 1,
                                             "proxied": False, "comment": OWNER_COMMENT})]


def test_plan_leaves_an_equal_owned_record_alone():
    result = plan([want()], [record("acme.example.com")], OWNER_COMMENT, "present")
    assert result["actions"] == [] and result["conflicts"] == [] and len(result["unchanged"]) == 1


@pytest.mark.parametrize("desired, body", [
    (want(content="192.0.2.9"), {"content": "192.0.2.9"}),
    (want(ttl=300), {"ttl": 300}),
    (want(content="192.0.2.9", ttl=600), {"content": "192.0.2.9", "ttl": 600}),
    (want(proxied=True), {"proxied": True}),
])
def test_plan_patches_only_the_changed_fields(desired, body):
    existing = record("acme.example.com", tags=["owner:ops"], created_on="2026-01-01")
    assert ops(plan([desired], [existing], OWNER_COMMENT, "present")) == [("update", existing["id"], body)]


@pytest.mark.parametrize("foreign", [
    record("acme.example.com", comment=None),
    record("acme.example.com", comment=WRONG_CASE),
    record("acme.example.com", comment=OWNER_COMMENT + " "),
    record("acme.example.com", comment="someone-else"),
    record("acme.example.com", content="lb.example.net", rtype="CNAME"),
    record("acme.example.com", content="lb.example.net", rtype="CNAME", comment=OWNER_COMMENT),
])
def test_plan_reports_records_it_does_not_own_and_never_writes_that_name(foreign):
    result = plan([want(content="192.0.2.9")], [record("acme.example.com", rid="mine"), foreign], OWNER_COMMENT, "present")
    assert result["actions"] == []
    assert [(c["id"], c["type"], c["comment"]) for c in result["conflicts"]] == [(foreign["id"], foreign["type"], foreign.get("comment"))]


def test_plan_ignores_other_types_and_other_names():
    existing = [record("acme.example.com", content="v=spf1", rtype="TXT", comment=None),
                record("other.example.com", comment=None)]
    assert [a["operation"] for a in plan([want()], existing, OWNER_COMMENT, "present")["actions"]] == ["create"]


def test_plan_converges_several_owned_records_to_one():
    existing = [record("acme.example.com", content="192.0.2.7", rid="old"),
                record("acme.example.com", content="192.0.2.1", rid="keep")]
    assert ops(plan([want()], existing, OWNER_COMMENT, "present")) == [("delete", "old", None)]


def test_plan_absent_deletes_only_owned_records():
    existing = [record("acme.example.com", rid="mine"), record("acme.example.com", content="192.0.2.2", comment=WRONG_CASE, rid="x")]
    result = plan([want(content=None)], existing, OWNER_COMMENT, "absent")
    assert ops(result) == [("delete", "mine", None)]
    assert [c["id"] for c in result["conflicts"]] == ["x"]


# -- planning (property) ---------------------------------------------------------------------------------------
NAMES = ["a", "b", "c", "d"]
COMMENTS = [OWNER_COMMENT, WRONG_CASE, OWNER_COMMENT.upper(), OWNER_COMMENT + " ", None, "", "ops"]
IPS = ["192.0.2.1", "192.0.2.2", "198.51.100.3"]


@st.composite
def zones(draw):
    existing = []
    for index in range(draw(st.integers(0, 10))):
        rtype = draw(st.sampled_from(["A", "A", "A", "CNAME", "TXT"]))
        content = draw(st.sampled_from(IPS)) if rtype == "A" else "target.example.net"
        existing.append(record("%s.%s" % (draw(st.sampled_from(NAMES)), ZONE), content=content, rtype=rtype,
                               comment=draw(st.sampled_from(COMMENTS)), ttl=draw(st.sampled_from([1, 300])),
                               rid="r%d" % index))
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    desired = [want(n, content=draw(st.sampled_from(IPS)), ttl=draw(st.sampled_from([1, 300]))) for n in names]
    return existing, desired, draw(st.sampled_from(["present", "absent"]))


def apply(existing, actions):
    """The store after ``actions``, as the API would do them."""
    out = dict((r["id"], copy.deepcopy(r)) for r in existing)
    for number, action in enumerate(actions):
        if action["operation"] == "delete":
            del out[action["id"]]
        elif action["operation"] == "update":
            out[action["id"]].update(action["body"])
        else:
            out["new%d" % number] = dict(action["body"], id="new%d" % number)
    return list(out.values())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones())
def test_property_no_write_ever_touches_a_record_without_the_exact_marker(case):
    existing, desired, state = case
    by_id = dict((r["id"], r) for r in existing)
    result = plan(desired, existing, OWNER_COMMENT, state)
    for action in result["actions"]:
        if action["operation"] in ("update", "delete"):
            target = by_id[action["id"]]
            assert target["type"] == "A" and target.get("comment") == OWNER_COMMENT
        if action["operation"] == "update":
            assert set(action["body"]) <= {"content", "ttl", "proxied"}
        if action["operation"] == "create":
            assert action["body"]["comment"] == OWNER_COMMENT and action["body"]["proxied"] is False
            assert not [r for r in existing if r["name"] == action["name"] and r["type"] in ("A", "CNAME")
                        and r.get("comment") != OWNER_COMMENT]
    # every unowned A and every CNAME at a managed name is reported, and nothing else is
    managed = set(w["name"] for w in desired)
    foreign = sorted(r["id"] for r in existing if r["name"] in managed and
                     (r["type"] == "CNAME" or (r["type"] == "A" and r.get("comment") != OWNER_COMMENT)))
    assert sorted(c["id"] for c in result["conflicts"]) == foreign
    # the records the plan leaves untouched are exactly the ones it does not own, plus owned ones it keeps
    after = apply(existing, result["actions"])
    assert [r for r in existing if r.get("comment") != OWNER_COMMENT or r["type"] != "A"] == \
        [r for r in after if r["id"] in by_id and (r.get("comment") != OWNER_COMMENT or r["type"] != "A")]
    # applying the plan converges: planning again finds nothing to do
    assert plan(desired, after, OWNER_COMMENT, state)["actions"] == []
    if state == "present":
        for w in desired:
            if w["name"] not in set(c["name"] for c in result["conflicts"]):
                mine = [r for r in after if r["name"] == w["name"] and r["type"] == "A"]
                assert [(r["content"], r["ttl"], r["comment"]) for r in mine] == [(w["content"], w["ttl"], OWNER_COMMENT)]


# -- converge against an in-memory Cloudflare ------------------------------------------------------------------
class FakeCloudflare:
    """Enough of the v4 DNS API for the module: list (name filter, pages), create, PATCH, DELETE, batch.
    ``hooks[(method, kind)]`` is a list of callables run before the request (may mutate, may return an
    error tuple ``(status, code)``); ``lose[(method, kind)]`` answers 502 after applying the request."""

    def __init__(self, records=(), per_page=100, zone_name=ZONE):
        self.records = dict((r["id"], copy.deepcopy(r)) for r in records)
        self.per_page, self.zone_name, self.log, self.hooks, self.lose = per_page, zone_name, [], {}, {}
        self.ids = itertools.count(1)

    def answer(self, status, result=None, code=None, info=None):
        body = {"success": status < 400, "errors": [{"code": code, "message": "error %s" % code}] if code else [],
                "messages": [], "result": result}
        if info:
            body["result_info"] = info
        return status, [("cf-ray", "fake")], json.dumps(body).encode()

    def __call__(self, method, url, headers, body, timeout):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        path = parts.path.split("/client/v4", 1)[1]
        kind = "batch" if path.endswith("/batch") else ("zones" if path.startswith("/zones?") or path == "/zones" else
                                                        ("record" if path.count("/") == 4 else "list"))
        self.log.append((method, kind, query))
        for hook in self.hooks.get((method, kind), []):
            error = hook(self)
            if error:
                return self.answer(error[0], code=error[1])
        data = json.loads(body) if body else None
        outcome = self.handle(method, kind, path, query, data)
        if self.lose.get((method, kind)):
            self.lose[(method, kind)] -= 1
            return self.answer(502, code=1000)
        return outcome

    def new(self, data):
        name = data["name"] if "." in data["name"] else "%s.%s" % (data["name"], self.zone_name)
        if any(r["name"] == name and r["type"] == data["type"] and r["content"] == data["content"] for r in self.records.values()):
            raise ValueError(81057)
        rec = dict(data, id="new%d" % next(self.ids), name=name, zone_name=self.zone_name, tags=[])
        self.records[rec["id"]] = rec
        return rec

    def handle(self, method, kind, path, query, data):
        if kind == "zones":
            return self.answer(200, [{"id": ZONE_ID, "name": self.zone_name}])
        try:
            if kind == "list" and method == "GET":
                found = [r for r in self.records.values() if "name" not in query or r["name"] == query["name"]]
                per_page, page = int(query.get("per_page", self.per_page)), int(query.get("page", 1))
                pages = -(-len(found) // per_page)
                return self.answer(200, found[(page - 1) * per_page: page * per_page],
                                   info={"page": page, "per_page": per_page, "total_pages": pages, "total_count": len(found)})
            if kind == "batch":
                work = copy.deepcopy(self.records)
                out = {"deletes": [], "patches": [], "posts": []}
                for item in data.get("deletes", []):
                    out["deletes"].append(self.records.pop(item["id"]))
                for item in data.get("patches", []):
                    self.records[item["id"]].update(item)
                    out["patches"].append(self.records[item["id"]])
                try:
                    for item in data.get("posts", []):
                        out["posts"].append(self.new(item))
                except ValueError:
                    self.records = work
                    raise
                return self.answer(200, out)
            if method == "POST":
                return self.answer(200, self.new(data))
            rid = path.rsplit("/", 1)[1]
            if rid not in self.records:
                return self.answer(404, code=81044)
            if method == "DELETE":
                return self.answer(200, {"id": self.records.pop(rid)["id"]})
            self.records[rid].update(data)
            return self.answer(200, self.records[rid])
        except ValueError as exc:
            return self.answer(400, code=exc.args[0])

    def calls(self, method=None, kind=None):
        return [c for c in self.log if (method is None or c[0] == method) and (kind is None or c[1] == kind)]


def make_zone(fake, zone_name=ZONE, per_page=100, max_pages=50):
    client = ApiClient("https://api.example.test/client/v4", headers={"Authorization": "Bearer t0ken-secret"},
                       retry=RetryPolicy(max_attempts=3, sleep=lambda s: None), transport=fake)
    return DnsZone(client, ZONE_ID, zone_name, per_page=per_page, max_pages=max_pages)


def run(fake, records, state="present", zone=ZONE, check_mode=False, bulk=False, batch_size=200, per_page=100, max_pages=50):
    spec = validate(params(zone=zone, records=[dict(r) for r in records], state=state))
    return converge(make_zone(fake, zone, per_page, max_pages), spec, state, check_mode=check_mode, bulk=bulk,
                    batch_size=batch_size)


def owned_records(fake):
    return sorted((r["name"], r["content"]) for r in fake.records.values() if r.get("comment") == OWNER_COMMENT)


def test_one_name_is_one_filtered_read_and_one_create():
    fake = FakeCloudflare()
    result = run(fake, [{"name": "acme", "content": "192.0.2.1"}])
    assert result["changed"] and result["operation"] == "create"
    assert [call[:2] for call in fake.log] == [("GET", "list"), ("POST", "list")]
    assert fake.log[0][2]["name"] == "acme.example.com"
    assert run(fake, [{"name": "acme", "content": "192.0.2.1"}])["changed"] is False


def test_many_names_read_the_zone_once_across_three_pages():
    fake = FakeCloudflare([record("n%02d.%s" % (i, ZONE), comment=None) for i in range(12)])
    wanted = [{"name": "w%d" % i, "content": "192.0.2.1"} for i in range(4)]
    run(fake, wanted, per_page=5, check_mode=True)
    assert [call[2].get("page") for call in fake.calls("GET")] == ["1", "2", "3"]
    assert all("name" not in call[2] for call in fake.calls("GET"))


def test_few_names_in_a_big_zone_are_read_one_by_one():
    fake = FakeCloudflare([record("n%02d.%s" % (i, ZONE), comment=None) for i in range(12)])
    run(fake, [{"name": "w1", "content": "192.0.2.1"}, {"name": "w2", "content": "192.0.2.1"}], per_page=5, check_mode=True)
    gets = fake.calls("GET")
    assert len(gets) == 3  # the zone listing would take 3 pages; the probe saw that, then 2 filtered reads
    assert [call[2].get("name") for call in gets[1:]] == ["w1.example.com", "w2.example.com"]


def test_a_listing_longer_than_max_pages_fails_instead_of_truncating():
    fake = FakeCloudflare([record("acme.%s" % ZONE, content="192.0.2.%d" % i, comment=None, rid="r%d" % i) for i in range(12)])
    with pytest.raises(PaginationError, match="max_pages=2"):
        run(fake, [{"name": "acme", "content": "192.0.2.1"}], per_page=5, max_pages=2)


def test_check_mode_predicts_and_writes_nothing():
    fake = FakeCloudflare([record("acme.%s" % ZONE)])
    result = run(fake, [{"name": "acme", "content": "192.0.2.9"}, {"name": "new", "content": "192.0.2.2"}], check_mode=True)
    assert [c for c in fake.log if c[0] != "GET"] == []
    assert result["operation"] == "mixed"
    assert [(r["name"], r["content"], r["id"]) for r in result["records"]] == [
        ("acme.example.com", "192.0.2.9", "id-acme-192021"), ("new.example.com", "192.0.2.2", None)]


def test_conflict_fails_before_any_write_naming_id_and_comment():
    fake = FakeCloudflare([record("acme.%s" % ZONE, comment=WRONG_CASE, rid="theirs")])
    with pytest.raises(DnsConflictError) as info:
        run(fake, [{"name": "acme", "content": "192.0.2.9"}, {"name": "free", "content": "192.0.2.2"}])
    assert "theirs" in str(info.value) and WRONG_CASE in str(info.value)
    assert info.value.conflicts[0]["id"] == "theirs"
    assert [c for c in fake.log if c[0] != "GET"] == []


def test_concurrent_identical_create_81057_is_reread_and_adopted_when_owned():
    fake = FakeCloudflare()
    fake.hooks[("POST", "list")] = [lambda f: f.records.setdefault("racer", record("acme.%s" % ZONE, rid="racer")) and None]
    result = run(fake, [{"name": "acme", "content": "192.0.2.1"}])
    assert owned_records(fake) == [("acme.example.com", "192.0.2.1")]
    assert result["records"][0]["id"] == "racer"
    assert len(fake.calls("POST")) == 1


def test_concurrent_unowned_create_is_a_conflict_not_an_overwrite():
    fake = FakeCloudflare()
    fake.hooks[("POST", "list")] = [lambda f: f.records.setdefault("racer", record("acme.%s" % ZONE, comment=None, rid="racer"))
                                    and None]
    with pytest.raises(DnsConflictError, match="racer"):
        run(fake, [{"name": "acme", "content": "192.0.2.1"}])
    assert "comment" not in fake.records["racer"]


def test_lost_create_response_is_reread_not_posted_twice():
    fake = FakeCloudflare()
    fake.lose[("POST", "list")] = 1  # applied, but the answer is a 502 (not retried for a POST)
    result = run(fake, [{"name": "acme", "content": "192.0.2.1"}])
    assert owned_records(fake) == [("acme.example.com", "192.0.2.1")]
    assert len(fake.calls("POST")) == 1 and result["changed"]


def test_patch_racing_into_an_identical_record_81058_is_resolved_by_rereading():
    fake = FakeCloudflare([record("acme.%s" % ZONE, content="192.0.2.7", rid="mine")])

    def racer(f):
        if "twin" not in f.records:
            f.records["twin"] = record("acme.%s" % ZONE, content="192.0.2.1", rid="twin")
            return 400, 81058
        return None
    fake.hooks[("PATCH", "record")] = [racer]
    run(fake, [{"name": "acme", "content": "192.0.2.1"}])
    assert owned_records(fake) == [("acme.example.com", "192.0.2.1")]  # the owned duplicate was deleted


def test_delete_of_a_record_already_gone_81044_is_fine():
    fake = FakeCloudflare([record("acme.%s" % ZONE, rid="mine")])
    fake.hooks[("DELETE", "record")] = [lambda f: f.records.pop("mine") and None]
    result = run(fake, [{"name": "acme"}], state="absent")
    assert result["changed"] and result["operation"] == "delete" and fake.records == {}


def test_bulk_sends_one_batch_per_batch_size_with_deletes_patches_posts():
    fake = FakeCloudflare([record("a.%s" % ZONE, content="192.0.2.7", rid="a"), record("b.%s" % ZONE, rid="b1"),
                           record("b.%s" % ZONE, content="192.0.2.8", rid="b2")])
    wanted = [{"name": n, "content": "192.0.2.1"} for n in ("a", "b", "c", "d", "e")]
    result = run(fake, wanted, bulk=True, batch_size=3)
    assert [call[:2] for call in fake.log if call[0] != "GET"] == [("POST", "batch"), ("POST", "batch")]
    assert owned_records(fake) == [("%s.example.com" % n, "192.0.2.1") for n in "abcde"]
    assert result["operation"] == "mixed" and len(result["actions"]) == 5


def test_zone_id_alone_learns_the_zone_name_from_the_records():
    fake = FakeCloudflare()
    result = run(fake, [{"name": "acme", "content": "192.0.2.1"}, {"name": "beta", "content": "192.0.2.2"}], zone=None)
    assert fake.calls(kind="zones") == []
    assert [a["name"] for a in result["actions"]] == ["acme.example.com", "beta.example.com"]
    assert [r["name"] for r in result["records"]] == ["acme.example.com", "beta.example.com"]
    assert run(fake, [{"name": "acme", "content": "192.0.2.1"}], zone=None)["changed"] is False


def test_zone_by_name_without_zone_read_says_to_use_zone_id():
    def forbidden(method, url, headers, body, timeout):
        return 403, [], json.dumps({"success": False, "errors": [{"code": 9109, "message": "Unauthorized"}]}).encode()
    client = ApiClient("https://api.example.test/client/v4", transport=forbidden, retry=RetryPolicy(sleep=lambda s: None))
    with pytest.raises(AuthError, match="give zone_id"):
        DnsZone.lookup_zone_id(client, ZONE)


def test_lost_create_of_a_label_before_the_zone_name_was_known_is_reread():
    fake = FakeCloudflare()
    fake.lose[("POST", "list")] = 1  # the first create (zone name still unknown) is applied, its answer lost
    result = run(fake, [{"name": "acme", "content": "192.0.2.1"}, {"name": "beta", "content": "192.0.2.2"}], zone=None,
                 per_page=1)
    assert owned_records(fake) == [("acme.example.com", "192.0.2.1"), ("beta.example.com", "192.0.2.2")]
    assert len(fake.calls("POST")) == 2  # acme was found by re-reading its FQDN, not posted again
    assert [r["name"] for r in result["records"]] == ["acme.example.com", "beta.example.com"]
