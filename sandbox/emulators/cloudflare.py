"""Emulator of the Cloudflare v4 DNS-records API (``/client/v4``), faithful to shared/reference/cloudflare-api.md.

Configuration (environment, see ``sandbox.launcher.emulator_env``):

* ``CF_EMU_API_TOKEN`` (required): a token with Zone:Read + DNS:Edit on every zone.
* ``CF_EMU_ZONE_ID`` / ``CF_EMU_ZONE_NAME`` (required): the sandbox zone (Free plan), present after every reset.
* ``CF_EMU_PER_PAGE``: default ``per_page`` of the records list (the real API's is 100).
* ``CF_EMU_SCOPED_TOKEN`` (optional): a DNS-only token (``dns_records:edit``, no ``zone:read``) on the sandbox zone.

API (all under ``/client/v4``; every answer is the envelope ``{success, errors, messages, result[, result_info]}``
with a ``cf-ray`` header): ``GET /user/tokens/verify``; ``GET /zones?name=``, ``GET /zones/{id}``;
``GET|POST /zones/{id}/dns_records``, ``GET|PATCH|PUT|DELETE /zones/{id}/dns_records/{rid}``,
``POST /zones/{id}/dns_records/batch`` (deletes → patches → puts → posts, all-or-nothing).

Errors (codes of the reference §1.7; "uncited" = not in the reference, chosen to look like the real API):
no Authorization → 403/10000 "Authentication error"; malformed → 400/6003 (chain 6111, uncited text); unknown
token → 403/9109 "Invalid access token"; no zone:read → 403/9109 "Unauthorized to access requested resource";
zone outside the token's scope or missing DNS permission → 403/10000; unknown zone → 404/7003; unknown route →
404/7000, wrong method → 405/7001 (uncited); DNS validation → 400/1004 "DNS Validation Error" with an
``error_chain`` (9005 bad IPv4, 9021 TTL, 9041 cannot be proxied; 1004 where no code is cited); comment too long
→ 400/9313; POST of an identical record (name+type+content) → 400/81057 "Record already exists."; PATCH/PUT that
makes a record identical to another → 400/81058 "An identical record already exists."; A/AAAA beside a CNAME →
400/81054; CNAME beside A/AAAA/CNAME → 400/81053; missing record → 404/81044 "Record does not exist."; injected
429 → 10100 (or 971, see settings), injected 5xx → 1000 (uncited). Injected faults carry no ``cf-ray``.

Plans (per zone; the sandbox zone is ``free``): comment ≤100 chars (500 paid), tags only on paid plans, batch ≤200
operations (3,500 paid), TTL 1 or 60–86400 (30–86400 enterprise). Proxied records get TTL 1 (auto).

Test helpers (not part of the real API, never logged): ``POST /_emulator/cloudflare/zones`` ``{name, id?, plan?}``,
``POST /_emulator/cloudflare/tokens`` ``{token, zones: [ids] | null, permissions: [...]}``,
``GET /_emulator/cloudflare/records`` (every zone's records), ``POST /_emulator/cloudflare/settings``
``{page_overflow?: "empty" | "last", rate_limit_code?: 10100 | 971}``: a page past the end answers an empty page
(default) or replays the last page (the /accounts quirk of cloudflare-python#2584); the code of injected 429s.
``POST /_emulator/cloudflare/listing_hooks`` ``{zone_id, page, delete?: [record ids], create?: [record bodies]}``:
another writer racing a paginated read. The next ``GET /zones/{zone_id}/dns_records`` asking for ``page`` (any
filters) first deletes and creates those records, then answers from the changed zone, so its ``result_info`` and
its offsets differ from the earlier pages'. One-shot, oldest first, at most one per request; ``GET`` lists every
hook with ``fired``, ``deleted`` and ``created`` (ids) and ``errors`` (a create refused then), ``DELETE`` removes them; reset empties the list.
"""

from __future__ import annotations

import copy
import ipaddress
import math
import os
import re
import secrets
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.emulators import _common

PREFIX = "/client/v4"
RECORD_TYPES = ("A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX", "NAPTR", "NS",
                "OPENPGPKEY", "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA", "TXT", "URI")
PROXIABLE = ("A", "AAAA", "CNAME")
HOSTNAME_CONTENT = ("CNAME", "NS", "MX", "PTR")
PLANS = {  # name, comment limit, batch limit, minimum TTL, tags allowed
    "free": ("Free Website", 100, 200, 60, False),
    "pro": ("Pro Website", 500, 3500, 60, True),
    "business": ("Business Website", 500, 3500, 60, True),
    "enterprise": ("Enterprise Website", 500, 3500, 30, True),
}
PERMISSIONS = ("zone:read", "dns_records:read", "dns_records:edit")
BATCH_ORDER = ("deletes", "patches", "puts", "posts")
FIELDS = ("name", "type", "content", "ttl", "proxied", "comment", "tags", "priority", "data", "settings")
TAG = re.compile(r"[A-Za-z0-9_-]+:.*", re.S)
MAX_PER_PAGE = 5_000_000


class CFError(Exception):
    """An API error answered as the Cloudflare envelope."""

    def __init__(self, status: int, code: int, message: str, chain: Optional[list] = None):
        super().__init__(message)
        self.status = status
        self.error = {"code": code, "message": message}
        if chain:
            self.error["error_chain"] = chain


def invalid(detail: str, code: int = 1004) -> CFError:
    return CFError(400, 1004, "DNS Validation Error", [{"code": code, "message": detail}])


def envelope(result: Any = None, errors: Optional[list] = None, info: Optional[dict] = None) -> dict:
    body = {"success": not errors, "errors": errors or [], "messages": [], "result": result}
    if info is not None:
        body["result_info"] = info
    return body


RATE_LIMITS = {  # cited 429 bodies (reference §1.7); 971 is below the schema's `code: minimum 1000`
    10100: "More than 1200 requests per 300 seconds reached. Please wait and consider throttling your request speed",
    971: "Please wait and consider throttling your request speed",
}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def int_param(params, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]+", raw) or not 1 <= int(raw) <= maximum:
        raise CFError(400, 1004, "Invalid '%s': must be an integer between 1 and %d" % (name, maximum))
    return int(raw)


def choice_param(params, name: str, choices: tuple, default: str) -> str:
    value = params.get(name, default)
    if value not in choices:
        raise CFError(400, 1004, "Invalid '%s': must be one of %s" % (name, ", ".join(choices)))
    return value


# --- record validation -------------------------------------------------------------------------------------

def fqdn(zone: dict, name: Any) -> str:
    """Punycode FQDN under the zone: '@' is the apex, a name not ending in the zone is relative (real behaviour:
    NewFuture/DDNS#21 got 'mail.wangjihe.cf.cnproxy.tk'); an absolute 'x.other.' (trailing dot) is refused."""
    if not isinstance(name, str) or not name.strip():
        raise invalid("DNS record name is required.")
    name = name.strip().lower()
    absolute = name.endswith(".") and name != "."
    name = name.rstrip(".")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise invalid("DNS record name %r cannot be converted to Punycode." % name) from None
    apex = zone["name"]
    if name in ("@", ""):
        name = apex
    elif name != apex and not name.endswith("." + apex):
        if absolute:
            raise invalid("DNS record name %s. is not within the zone %s." % (name, apex))
        name = name + "." + apex
    if len(name) > 255 or any(not 0 < len(label) <= 63 for label in name.split(".")):
        raise invalid("DNS record name %s is invalid." % name)
    return name


def normal_content(rtype: str, content: Any, name: str) -> str:
    if not isinstance(content, str) or not content:
        raise invalid("DNS record content is required.")
    if rtype == "A":
        try:
            return str(ipaddress.IPv4Address(content))
        except ValueError:
            raise invalid("Content for A record is invalid. Must be a valid IPv4 address", 9005) from None
    if rtype == "AAAA":
        try:
            return ipaddress.IPv6Address(content).compressed
        except ValueError:  # code 9006 is uncited
            raise invalid("Content for AAAA record is invalid. Must be a valid IPv6 address", 9006) from None
    if rtype in HOSTNAME_CONTENT:
        host = content.strip().rstrip(".").lower()
        if not host or any(c.isspace() for c in host):
            raise invalid("Content for %s record is invalid. Must be a valid hostname" % rtype)
        if rtype == "CNAME" and host == name:
            raise invalid("Content for CNAME record is invalid. It must not match the record's name")
        return host
    return content


def build_record(zone: dict, body: Any, base: Optional[dict] = None) -> dict:
    """Validate a POST/PUT body (``base`` None: unspecified fields take defaults) or a PATCH over ``base``."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    src = {k: base[k] for k in FIELDS if base and k in base}
    src.update({k: body[k] for k in FIELDS if k in body})
    _, comment_max, _, ttl_min, tags_ok = PLANS[zone["_plan"]]
    rtype = src.get("type")
    if not isinstance(rtype, str) or rtype.upper() not in RECORD_TYPES:
        raise invalid("DNS record type is required and must be one of %s." % ", ".join(RECORD_TYPES))
    rtype = rtype.upper()
    name = fqdn(zone, src.get("name"))
    content = normal_content(rtype, src.get("content"), name)
    ttl = 1 if src.get("ttl") is None else src["ttl"]
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl != int(ttl) or \
            (ttl != 1 and not ttl_min <= ttl <= 86400):
        raise invalid("TTL must be between %d and 86400 seconds, or 1 for Automatic." % ttl_min, 9021)
    proxied = False if src.get("proxied") is None else src["proxied"]
    if not isinstance(proxied, bool):
        raise invalid("proxied must be a boolean.")
    if proxied and rtype not in PROXIABLE:
        raise invalid("Invalid proxied mode. Record cannot be proxied", 9041)
    record = {"name": name, "type": rtype, "content": content, "proxiable": rtype in PROXIABLE,
              "proxied": proxied, "ttl": 1 if proxied else int(ttl), "settings": src.get("settings") or {}}
    comment = src.get("comment")
    if comment not in (None, ""):
        if not isinstance(comment, str):
            raise invalid("DNS record comment must be a string.")
        if len(comment) > comment_max:
            raise CFError(400, 9313, "DNS record comment exceeds the maximum length of %d characters." % comment_max)
        if "\n" in comment or "\r" in comment:
            raise invalid("DNS record comment cannot contain newline or carriage return characters.")
        record["comment"] = comment  # omitted when empty: the 2024-08 schema types comment as a non-null string
    tags = src.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and TAG.fullmatch(t) for t in tags):
        raise invalid("DNS record tags must be a list of 'name:value' strings.")
    if tags and not tags_ok:
        raise invalid("DNS record has %d tags, exceeding the quota of 0." % len(tags))
    record["tags"] = list(dict.fromkeys(tags))
    for key in ("priority", "data"):
        if src.get(key) is not None:
            record[key] = src[key]
    return record


def check_conflicts(records: dict, record: dict, skip_id: Optional[str], creating: bool) -> None:
    same = [r for r in records.values() if r["id"] != skip_id and r["name"] == record["name"]]
    for other in same:
        if other["type"] == record["type"] and other["content"] == record["content"]:
            if creating:
                raise CFError(400, 81057, "Record already exists.")
            raise CFError(400, 81058, "An identical record already exists.")
    types = {r["type"] for r in same}
    if record["type"] in ("A", "AAAA") and "CNAME" in types:
        raise CFError(400, 81054, "A CNAME record with that host already exists.")
    if record["type"] == "CNAME" and types & {"A", "AAAA", "CNAME"}:
        raise CFError(400, 81053, "An A, AAAA, or CNAME record with that host already exists.")
    if (record["type"] == "NS" and types - {"NS"}) or (record["type"] != "NS" and "NS" in types):
        raise invalid("NS records cannot exist on the same name as any other record type.")


# --- list filters -------------------------------------------------------------------------------------------

STRING_OPS = {"exact": lambda v, q: v == q, "contains": lambda v, q: q in v,
              "startswith": lambda v, q: v.startswith(q), "endswith": lambda v, q: v.endswith(q)}


def field_filter(field: str, op: str, query: str):
    query = query.lower()

    def pred(record):
        value = record.get(field)
        return isinstance(value, str) and STRING_OPS[op](value.lower(), query)
    return pred


def tag_filter(op: str, query: str):
    """``present``/``absent``: a tag name; ``pair`` (the bare ``tag`` param): name or name:value; else name:value."""
    tag_name, sep, tag_value = query.lower().partition(":")

    def pred(record):
        pairs = [t.lower().partition(":")[::2] for t in record.get("tags", [])]
        named = [value for name, value in pairs if name == tag_name]
        if op == "present" or (op == "pair" and not sep):
            return bool(named)
        if op == "absent":
            return not named
        return any(STRING_OPS["exact" if op == "pair" else op](value, tag_value) for value in named)
    return pred


def record_predicate(params, zone: dict):
    """One predicate for the filters of the list call (match/tag_match combine them, as the schema says)."""
    preds, tag_preds = [], []
    for key, value in params.multi_items():
        field, _, op = key.partition(".")
        if field == "name" and op in ("", *STRING_OPS):
            value = value.strip().lower().rstrip(".")
            value = zone["name"] if value == "@" else value
            preds.append(field_filter("name", op or "exact", value))
        elif field in ("content", "comment") and op in ("", *STRING_OPS):
            preds.append(field_filter(field, op or "exact", value))
        elif field == "comment" and op in ("present", "absent"):
            preds.append((lambda r: bool(r.get("comment"))) if op == "present" else (lambda r: not r.get("comment")))
        elif key == "type":
            if value.upper() not in RECORD_TYPES:
                raise CFError(400, 1004, "Invalid 'type': must be one of %s" % ", ".join(RECORD_TYPES))
            preds.append(lambda r, t=value.upper(): r["type"] == t)
        elif key == "proxied":
            if value not in ("true", "false"):
                raise CFError(400, 1004, "Invalid 'proxied': must be true or false")
            preds.append(lambda r, p=value == "true": r["proxied"] is p)
        elif field == "tag" and op in ("", "present", "absent", *STRING_OPS):
            tag_preds.append(tag_filter(op or "pair", value))
    match = choice_param(params, "match", ("all", "any"), "all")
    tag_match = choice_param(params, "tag_match", ("all", "any"), "all")
    if tag_preds:
        combine_tags = all if tag_match == "all" else any
        preds.append(lambda r: combine_tags(p(r) for p in tag_preds))
    search = params.get("search", "").lower()  # "intentionally left unspecified": substring of name/content/comment

    def predicate(record):
        if search and not any(search in (record.get(f) or "").lower() for f in ("name", "content", "comment")):
            return False
        if not preds:
            return True
        return (all if match == "all" else any)(p(record) for p in preds)
    return predicate


# --- state --------------------------------------------------------------------------------------------------

class Store:
    """Zones, records (``records[zone_id][record_id]``) and tokens; every change under one lock."""

    def __init__(self, config: dict):
        self.config = config
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.zones, self.records, self.tokens = {}, {}, {}
            self.seq = 0
            self.page_overflow, self.rate_limit_code = "empty", 10100
            self.hooks = []
            self.add_zone(self.config["zone_name"], self.config["zone_id"], "free")
            self.add_token(self.config["token"], None, PERMISSIONS)
            if self.config.get("scoped_token"):
                self.add_token(self.config["scoped_token"], [self.config["zone_id"]], ["dns_records:edit"])

    def add_zone(self, name: str, zone_id: Optional[str] = None, plan: str = "free") -> dict:
        with self.lock:
            stamp = now()
            zone = {"id": zone_id or uuid.uuid4().hex, "name": name.lower().rstrip("."), "status": "active",
                    "paused": False, "type": "full", "development_mode": 0,
                    "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
                    "plan": {"id": plan, "name": PLANS[plan][0], "legacy_id": plan, "is_subscribed": plan != "free"},
                    "account": {"id": "0" * 32, "name": "m8trx sandbox"}, "meta": {},
                    "created_on": stamp, "modified_on": stamp, "activated_on": stamp, "_plan": plan}
            self.zones[zone["id"]] = zone
            self.records[zone["id"]] = {}
            return zone

    def add_token(self, token: str, zones: Optional[list], permissions) -> dict:
        with self.lock:
            entry = {"id": uuid.uuid4().hex, "zones": None if zones is None else set(zones),
                     "permissions": set(permissions)}
            self.tokens[token] = entry
            return entry

    def stored(self, zone: dict, record: dict, old: Optional[dict] = None) -> dict:
        """The full stored record for validated ``record`` fields (keeps id/created_on of ``old``)."""
        stamp = now()
        out = {"id": old["id"] if old else uuid.uuid4().hex, "zone_id": zone["id"], "zone_name": zone["name"],
               **record, "locked": False, "meta": {"auto_added": False, "source": "primary"},
               "created_on": old["created_on"] if old else stamp, "modified_on": stamp}
        if old and all(old.get(k) == out.get(k) for k in FIELDS):
            out["modified_on"] = old["modified_on"]
        for field in ("comment", "tags"):
            if out.get(field):
                same = old and old.get(field) == out[field] and old.get(field + "_modified_on")
                out[field + "_modified_on"] = old[field + "_modified_on"] if same else stamp
        if old:
            out["_seq"] = old["_seq"]
        else:
            self.seq += 1
            out["_seq"] = self.seq
        return out

    # Operations on a records dict (the live one, or a batch's working copy); the caller holds the lock.
    def create(self, zone: dict, records: dict, body: Any) -> dict:
        record = build_record(zone, body)
        check_conflicts(records, record, None, creating=True)
        out = self.stored(zone, record)
        records[out["id"]] = out
        return out

    def update(self, zone: dict, records: dict, record_id: Any, body: Any, patch: bool) -> dict:
        old = self.existing(records, record_id)
        record = build_record(zone, body, old if patch else None)
        check_conflicts(records, record, old["id"], creating=False)
        records[old["id"]] = out = self.stored(zone, record, old)
        return out

    def delete(self, records: dict, record_id: Any) -> dict:
        return records.pop(self.existing(records, record_id)["id"])

    @staticmethod
    def existing(records: dict, record_id: Any) -> dict:
        if not isinstance(record_id, str) or record_id not in records:
            raise CFError(404, 81044, "Record does not exist.")
        return records[record_id]

    def batch(self, zone: dict, body: Any) -> dict:
        if not isinstance(body, dict) or not all(isinstance(body.get(k) or [], list) for k in BATCH_ORDER):
            raise invalid("The batch body must be an object of deletes, patches, puts and posts lists.")
        ops = {k: body.get(k) or [] for k in BATCH_ORDER}
        if not all(isinstance(item, dict) for items in ops.values() for item in items):
            raise invalid("Every batch operation must be a JSON object.")
        total, limit = sum(len(items) for items in ops.values()), PLANS[zone["_plan"]][2]
        if total > limit:  # code uncited: the reference gives the limit, not the error
            raise invalid("The batch has %d operations; the limit for this zone's plan is %d." % (total, limit))
        with self.lock:
            work = copy.deepcopy(self.records[zone["id"]])
            result = {k: [] for k in BATCH_ORDER}
            for key in BATCH_ORDER:
                for index, item in enumerate(ops[key]):
                    try:
                        if key == "deletes":
                            out = self.delete(work, item.get("id"))
                        elif key == "posts":
                            out = self.create(zone, work, item)
                        else:
                            out = self.update(zone, work, item.get("id"), item, patch=key == "patches")
                    except CFError as err:  # the first error, nothing applied (reference §1.5)
                        err.error["source"] = {"pointer": "/%s/%d" % (key, index)}
                        raise
                    result[key].append(public(out))
            self.records[zone["id"]] = work
            return result

    def add_hook(self, zone_id: str, page: int, delete: list, create: list) -> dict:
        with self.lock:
            zone = self.zones.get(zone_id)
            if zone is None:
                raise HTTPException(404, "no zone %s" % zone_id)
            for body in create:  # refused now, not when the hook fires
                try:
                    build_record(zone, body)
                except CFError as err:
                    raise HTTPException(422, "create: %s" % err.error) from None
            hook = {"id": len(self.hooks) + 1, "zone_id": zone_id, "page": page, "delete": list(delete),
                    "create": list(create), "fired": False, "deleted": [], "created": [], "errors": []}
            self.hooks.append(hook)
            return hook

    def fire_hook(self, zone: dict, page: int) -> None:
        """Apply the oldest pending hook for this zone and page (the caller holds the lock)."""
        hook = next((h for h in self.hooks if not h["fired"] and h["zone_id"] == zone["id"] and h["page"] == page), None)
        if hook is None:
            return
        hook["fired"] = True
        records = self.records[zone["id"]]
        for record_id in hook["delete"]:
            if records.pop(record_id, None) is not None:
                hook["deleted"].append(record_id)
        for body in hook["create"]:
            try:
                hook["created"].append(self.create(zone, records, body)["id"])
            except CFError as err:  # e.g. 81057: kept on the hook, the listing still answers
                hook["errors"].append(err.error)

    def listing(self, zone: dict, params) -> tuple[list, dict]:
        predicate = record_predicate(params, zone)
        order = choice_param(params, "order", ("type", "name", "content", "ttl", "proxied"), "type")
        direction = choice_param(params, "direction", ("asc", "desc"), "asc")
        with self.lock:
            self.fire_hook(zone, int_param(params, "page", 1, 10 ** 9))
            found = [r for r in self.records[zone["id"]].values() if predicate(r)]
        found.sort(key=lambda r: (r[order], r["name"], r["content"], r["_seq"]), reverse=direction == "desc")
        return self.paginate([public(r) for r in found], params, self.config["per_page"], MAX_PER_PAGE)

    def paginate(self, items: list, params, default_per_page: int, max_per_page: int) -> tuple[list, dict]:
        page = int_param(params, "page", 1, 10 ** 9)
        per_page = int_param(params, "per_page", default_per_page, max_per_page)
        total_pages = math.ceil(len(items) / per_page)
        shown = total_pages if page > total_pages and self.page_overflow == "last" else page
        chunk = items[(shown - 1) * per_page: shown * per_page]
        return chunk, {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items),
                       "total_pages": total_pages}


# --- app ----------------------------------------------------------------------------------------------------

class ZoneIn(BaseModel):
    name: str
    id: Optional[str] = None
    plan: str = "free"


class TokenIn(BaseModel):
    token: str
    zones: Optional[list[str]] = None
    permissions: list[str]


class ListingHookIn(BaseModel):
    zone_id: str
    page: int = Field(..., ge=1)
    delete: list[str] = []
    create: list[dict] = []


class SettingsIn(BaseModel):
    page_overflow: Optional[str] = None
    rate_limit_code: Optional[int] = None


def create_app():
    config = {"token": os.environ.get("CF_EMU_API_TOKEN"), "zone_id": os.environ.get("CF_EMU_ZONE_ID"),
              "zone_name": os.environ.get("CF_EMU_ZONE_NAME"), "scoped_token": os.environ.get("CF_EMU_SCOPED_TOKEN"),
              "per_page": int(os.environ.get("CF_EMU_PER_PAGE") or 100)}
    missing = [k for k in ("token", "zone_id", "zone_name") if not config[k]]
    if missing:
        raise RuntimeError("CF_EMU_API_TOKEN, CF_EMU_ZONE_ID and CF_EMU_ZONE_NAME must be set (missing: %s)"
                           % ", ".join(missing))
    store = Store(config)

    def error_body(status: int, message: str) -> dict:
        """Body of the faults injected by ``_common``: the envelope, with a rate-limit code for 429."""
        if status == 429:
            return envelope(errors=[{"code": store.rate_limit_code, "message": RATE_LIMITS[store.rate_limit_code]}])
        return envelope(errors=[{"code": 1000, "message": message}])

    api, asgi = _common.create_app("cloudflare", store.reset, error_body)

    @api.middleware("http")
    async def cf_ray(request: Request, call_next):
        response = await call_next(request)
        response.headers["cf-ray"] = secrets.token_hex(8) + "-EMU"
        return response

    @api.exception_handler(CFError)
    async def cf_error(_request: Request, exc: CFError):
        return JSONResponse(envelope(errors=[exc.error]), status_code=exc.status)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/_emulator"):
            return await http_exception_handler(request, exc)
        code, message = {404: (7000, "No route for that URI"), 405: (7001, "Method not allowed")}.get(
            exc.status_code, (1000, str(exc.detail)))
        return JSONResponse(envelope(errors=[{"code": code, "message": message}]), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @api.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        if request.url.path.startswith("/_emulator"):
            return await request_validation_exception_handler(request, exc)
        return JSONResponse(envelope(errors=[{"code": 1004, "message": "Invalid request"}]), status_code=400)

    @api.exception_handler(Exception)
    async def server_error(_request: Request, _exc: Exception):
        return JSONResponse(envelope(errors=[{"code": 1000, "message": "Internal server error"}]), status_code=500)

    def authorize(request: Request, need: str, zone_id: Optional[str] = None) -> dict:
        with store.lock:
            tokens = dict(store.tokens)
        try:
            match = _common.check_bearer(request, *tokens)
        except HTTPException:
            raise CFError(400, 6003, "Invalid request headers",
                          [{"code": 6111, "message": "Invalid format for Authorization header"}]) from None
        if match is None:
            raise CFError(403, 10000, "Authentication error")
        if not match:
            raise CFError(403, 9109, "Invalid access token")
        token = tokens[match]
        perms = token["permissions"]
        if need == "zone:read" and "zone:read" not in perms:
            raise CFError(403, 9109, "Unauthorized to access requested resource")
        if zone_id is not None and token["zones"] is not None and zone_id not in token["zones"]:
            raise CFError(403, 10000, "Authentication error")
        if need == "dns_records:read" and not perms & {"dns_records:read", "dns_records:edit"}:
            raise CFError(403, 10000, "Authentication error")
        if need == "dns_records:edit" and "dns_records:edit" not in perms:
            raise CFError(403, 10000, "%s method not allowed for the api_token authentication scheme"
                          % request.method)
        return token

    def zone_for(request: Request, zone_id: str, need: str) -> dict:
        authorize(request, need, zone_id)
        zone = store.zones.get(zone_id)
        if zone is None:
            raise CFError(404, 7003, "Could not route to %s, perhaps your object identifier is invalid?"
                          % request.url.path.removeprefix(PREFIX))
        return zone

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise invalid("The request body is not valid JSON.") from None

    @api.get(PREFIX + "/user/tokens/verify")
    def verify_token(request: Request):
        token = authorize(request, "any")
        return envelope({"id": token["id"], "status": "active"})

    @api.get(PREFIX + "/zones")
    def list_zones(request: Request):
        token = authorize(request, "zone:read")
        params = request.query_params
        name = params.get("name", "").lower().rstrip(".")
        with store.lock:
            zones = [public(z) for z in store.zones.values()
                     if (token["zones"] is None or z["id"] in token["zones"]) and (not name or z["name"] == name)
                     and params.get("status", z["status"]) == z["status"]]
        zones.sort(key=lambda z: z["name"], reverse=params.get("direction") == "desc")
        chunk, info = store.paginate(zones, params, 20, 50)
        return envelope(chunk, info=info)

    @api.get(PREFIX + "/zones/{zone_id}")
    def zone_details(zone_id: str, request: Request):
        return envelope(public(zone_for(request, zone_id, "zone:read")))

    @api.get(PREFIX + "/zones/{zone_id}/dns_records")
    def list_records(zone_id: str, request: Request):
        chunk, info = store.listing(zone_for(request, zone_id, "dns_records:read"), request.query_params)
        return envelope(chunk, info=info)

    @api.post(PREFIX + "/zones/{zone_id}/dns_records")
    async def create_record(zone_id: str, request: Request):
        zone = zone_for(request, zone_id, "dns_records:edit")
        body = await json_body(request)
        with store.lock:
            return envelope(public(store.create(zone, store.records[zone_id], body)))

    @api.post(PREFIX + "/zones/{zone_id}/dns_records/batch")
    async def batch_records(zone_id: str, request: Request):
        zone = zone_for(request, zone_id, "dns_records:edit")
        return envelope(store.batch(zone, await json_body(request)))

    @api.get(PREFIX + "/zones/{zone_id}/dns_records/{record_id}")
    def record_details(zone_id: str, record_id: str, request: Request):
        zone = zone_for(request, zone_id, "dns_records:read")
        with store.lock:
            return envelope(public(store.existing(store.records[zone["id"]], record_id)))

    async def update(zone_id: str, record_id: str, request: Request, patch: bool):
        zone = zone_for(request, zone_id, "dns_records:edit")
        body = await json_body(request)
        with store.lock:
            return envelope(public(store.update(zone, store.records[zone_id], record_id, body, patch)))

    @api.patch(PREFIX + "/zones/{zone_id}/dns_records/{record_id}")
    async def patch_record(zone_id: str, record_id: str, request: Request):
        return await update(zone_id, record_id, request, patch=True)

    @api.put(PREFIX + "/zones/{zone_id}/dns_records/{record_id}")
    async def put_record(zone_id: str, record_id: str, request: Request):
        return await update(zone_id, record_id, request, patch=False)

    @api.delete(PREFIX + "/zones/{zone_id}/dns_records/{record_id}")
    def delete_record(zone_id: str, record_id: str, request: Request):
        zone_for(request, zone_id, "dns_records:edit")
        with store.lock:
            return envelope({"id": store.delete(store.records[zone_id], record_id)["id"]})

    @api.post("/_emulator/cloudflare/zones", status_code=201)
    def add_zone(body: ZoneIn):
        name = body.name.lower().rstrip(".")
        if body.plan not in PLANS or not name:
            raise HTTPException(422, "plan must be one of %s and name non-empty" % ", ".join(PLANS))
        with store.lock:
            if any(z["name"] == name for z in store.zones.values()) or body.id in store.zones:
                raise HTTPException(409, "zone %s (or id %s) already exists" % (name, body.id))
            return public(store.add_zone(name, body.id, body.plan))

    @api.post("/_emulator/cloudflare/tokens", status_code=201)
    def add_token(body: TokenIn):
        if not body.token or not set(body.permissions) <= set(PERMISSIONS):
            raise HTTPException(422, "token must be non-empty and permissions a subset of %s" % ", ".join(PERMISSIONS))
        entry = store.add_token(body.token, body.zones, body.permissions)
        return {"id": entry["id"], "zones": body.zones, "permissions": sorted(entry["permissions"])}

    @api.get("/_emulator/cloudflare/records")
    def all_records():
        with store.lock:
            return [public(r) for zone in store.records.values()
                    for r in sorted(zone.values(), key=lambda r: r["_seq"])]

    @api.post("/_emulator/cloudflare/settings")
    def settings(body: SettingsIn):
        if body.page_overflow not in (None, "empty", "last") or body.rate_limit_code not in (None, *RATE_LIMITS):
            raise HTTPException(422, "page_overflow: empty|last; rate_limit_code: %s" % "|".join(map(str, RATE_LIMITS)))
        with store.lock:
            store.page_overflow = body.page_overflow or store.page_overflow
            store.rate_limit_code = body.rate_limit_code or store.rate_limit_code
            return {"page_overflow": store.page_overflow, "rate_limit_code": store.rate_limit_code}

    @api.post("/_emulator/cloudflare/listing_hooks", status_code=201)
    def add_listing_hook(body: ListingHookIn):
        return store.add_hook(body.zone_id, body.page, body.delete, body.create)

    @api.get("/_emulator/cloudflare/listing_hooks")
    def listing_hooks():
        with store.lock:
            return copy.deepcopy(store.hooks)

    @api.delete("/_emulator/cloudflare/listing_hooks")
    def remove_listing_hooks():
        with store.lock:
            removed, store.hooks = len(store.hooks), []
            return {"removed": removed}

    return asgi
