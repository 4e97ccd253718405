"""Emulator of the Tailscale API v2 (policy file, auth keys, devices, OAuth client credentials).

Served by ``uvicorn --factory sandbox.emulators.tailscale:create_app``; configured from
``TS_EMU_API_KEY``, ``TS_EMU_TAILNET``, ``TS_EMU_OAUTH_CLIENT_ID``, ``TS_EMU_OAUTH_CLIENT_SECRET``.
Behaviour follows ``shared/reference/tailscale-api.md``: errors are ``{"message": ...}``, the
policy file is stored as HuJSON text whose SHA-256 is the quoted ``ETag``, ``If-Match`` accepts
the ETag or ``"ts-default"``, ``/acl/validate`` answers 200 even when tests fail, an auth key's
secret is only returned by the create call. Policy tests are evaluated as Tailscale does: a policy with
neither an ``acls`` nor a ``grants`` key allows everything (tailscale/tailscale#2799, by design), while
either key, even an empty list, makes everything no rule allows denied (tailscale/tailscale#19595).

Test helpers (outside the API, never logged): ``POST /_emulator/tailscale/register`` (a host
joining with an auth key, i.e. ``tailscale up``), ``POST /_emulator/tailscale/policy`` (seed the
policy with a raw HuJSON body; empty body = default), ``POST /_emulator/tailscale/clock``
(``{"advance_seconds": N}``, to expire keys and tokens) and ``GET /_emulator/tailscale/state``.

Workload identity federation: ``POST /_emulator/tailscale/federated`` registers a federated identity
(trusted issuer, subject pattern, optional audience, tags, scopes) and answers its client id;
``POST /api/v2/oauth/token-exchange`` (form ``client_id``, ``jwt``) trades an ID token whose claims
match it for a 1-hour access token bound to those tags, as ``tailscale up --client-id --id-token``
does before it mints its own auth key. The emulator checks the claims (iss, sub, aud, exp), not the
signature: it fetches no JWKS. ``POST /_emulator/tailscale/hostinfo`` (``{node_key, hostname?,
online?}``) and ``POST /_emulator/tailscale/logout`` (``{node_key}``) are what a node says to
control without an auth key (a new hostname, up/down, logout).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import threading
import time
import urllib.parse
from datetime import datetime, timezone

import json5
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.emulators import _common

DEFAULT_POLICY = """\
// Example/default ACLs for unrestricted connections.
{
\t// Declare static groups of users. Use autogroups for all users or users with a specific role.
\t// "groups": {
\t//   "group:example": ["alice@example.com", "bob@example.com"],
\t// },

\t// Define the tags which can be applied to devices and by which users.
\t// "tagOwners": {
\t//   "tag:example": ["autogroup:admin"],
\t// },

\t// Define access control lists for users, groups, autogroups, tags,
\t// Tailscale IP addresses, and subnet ranges.
\t"acls": [
\t\t// Allow all connections.
\t\t// Comment this section out if you want to define specific restrictions.
\t\t{"action": "accept", "src": ["*"], "dst": ["*:*"]},
\t],

\t// Define users and devices that can use Tailscale SSH.
\t"ssh": [
\t\t// Allow all users to SSH into their own devices in check mode.
\t\t// Comment this section out if you want to define specific restrictions.
\t\t{
\t\t\t"action": "check",
\t\t\t"src":    ["autogroup:member"],
\t\t\t"dst":    ["autogroup:self"],
\t\t\t"users":  ["autogroup:nonroot", "root"],
\t\t},
\t],

\t// Test access rules every time they're saved.
\t// "tests": [
\t//   {
\t//     "src": "alice@example.com",
\t//     "accept": ["tag:example:22"],
\t//     "deny": ["tag:example:80"],
\t//   },
\t// ],
}
"""

TAG_RE = re.compile(r"^tag:[A-Za-z0-9-]+$")
DESCRIPTION_RE = re.compile(r"^[A-Za-z0-9 -]*$")
DEFAULT_KEY_EXPIRY = 90 * 86400
NODE_KEY_DURATION = 180 * 86400
TOKEN_TTL = 3600
FORBIDDEN = "calling actor does not have enough permissions to perform this function"
EXTRA_DEVICE_FIELDS = ("enabledRoutes", "advertisedRoutes", "clientConnectivity", "postureIdentity")
FILTER_FIELDS = {  # top-level simple (or list) Device properties usable as list filters
    "addresses", "id", "nodeId", "user", "name", "hostname", "clientVersion", "updateAvailable", "os",
    "created", "connectedToControl", "lastSeen", "keyExpiryDisabled", "expires", "authorized", "isExternal",
    "multipleConnections", "machineKey", "nodeKey", "blocksIncomingConnections", "enabledRoutes",
    "advertisedRoutes", "tags", "tailnetLockError", "tailnetLockKey", "sshEnabled", "isEphemeral"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, data=None):
        super().__init__(message)
        self.status, self.message, self.data = status, message, data

    def response(self) -> JSONResponse:
        body = {"message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return JSONResponse(body, status_code=self.status)


class PolicyInvalid(Exception):
    """A policy (or its tests) that parses but is refused: 400 on write, 200 + message on validate."""

    def __init__(self, message: str, data=None):
        super().__init__(message)
        self.body = {"message": message} if data is None else {"message": message, "data": data}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def etag_of(text: str) -> str:
    return '"%s"' % hashlib.sha256(text.encode("utf-8")).hexdigest()


def random_id(prefix: str, size: int = 10, suffix: str = "CNTRL") -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(size)) + suffix


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def jwt_claims(token: str) -> dict:
    """The claims of a compact JWS (header.payload.signature); the signature is not verified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ApiError(400, "invalid JWT format: expected 3 parts separated by '.', got %d" % len(parts))
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise ApiError(400, "invalid JWT: payload is not base64url-encoded JSON")
    if not isinstance(claims, dict):
        raise ApiError(400, "invalid JWT: payload is not a JSON object")
    return claims


def subject_matches(pattern: str, subject) -> bool:
    """A federated identity's subject: exact, or with ``*`` wildcards (``repo:acme/*``)."""
    regex = "^" + ".*".join(re.escape(piece) for piece in pattern.split("*")) + "$"
    return isinstance(subject, str) and re.match(regex, subject) is not None


# ---------------------------------------------------------------- parsing and policy checks


def parse_hujson(text: str):
    try:
        return json5.loads(text)
    except ValueError as exc:
        found = re.match(r"<string>:(\d+) (.*) at column (\d+)", str(exc))
        if found:
            raise ApiError(400, "line %s, column %s: %s" % (found.group(1), found.group(3), found.group(2)))
        raise ApiError(400, "line 1, column 1: %s" % exc)


def parse_json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "line %d, column %d: %s" % (exc.lineno, exc.colno, exc.msg))


def parse_body(raw: bytes, content_type: str):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not valid UTF-8")
    kind = content_type.split(";")[0].strip().lower()
    return text, (parse_json(text) if kind == "application/json" else parse_hujson(text))


def str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def host_of(target: str) -> str:
    """'tag:web:22,80' -> 'tag:web'; '*:*' -> '*'; 'tag:web' (no port) stays."""
    rest = target.removeprefix("tag:")
    return target[:len(target) - len(rest)] + rest.rpartition(":")[0] if ":" in rest else target


def check_policy(policy) -> None:
    """Raise PolicyInvalid for a policy the control plane would refuse (tests included)."""
    if not isinstance(policy, dict):
        raise PolicyInvalid("policy must be a JSON object")
    owners = policy.get("tagOwners", {})
    if not isinstance(owners, dict):
        raise PolicyInvalid('"tagOwners" must be an object')
    for tag, who in owners.items():
        if not TAG_RE.match(tag):
            raise PolicyInvalid('tagOwners: invalid tag name "%s": tags must be "tag:" followed by '
                                'letters, numbers or dashes' % tag)
        if not str_list(who):
            raise PolicyInvalid('tagOwners["%s"]: must be a list of strings' % tag)
    groups = policy.get("groups", {})
    if not isinstance(groups, dict) or not all(k.startswith("group:") and str_list(v) for k, v in groups.items()):
        raise PolicyInvalid('"groups" must map "group:<name>" to lists of users')
    if not isinstance(policy.get("hosts", {}), dict):
        raise PolicyInvalid('"hosts" must be an object')
    used = [("tagOwners", who) for who in owners.values()]
    for section in ("acls", "grants", "ssh"):
        rules = policy.get(section, [])
        if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
            raise PolicyInvalid('"%s" must be a list of objects' % section)
        for index, rule in enumerate(rules):
            where = "%s[%d]" % (section, index)
            src = rule.get("src", rule.get("users") if section == "acls" else None)
            dst = rule.get("dst", rule.get("ports") if section == "acls" else None)
            if not str_list(src) or not str_list(dst):
                raise PolicyInvalid('%s: "src" and "dst" must be lists of strings' % where)
            if section == "acls":
                if rule.get("action") != "accept":
                    raise PolicyInvalid('%s: action must be "accept", got %s' % (where, json.dumps(rule.get("action"))))
                for target in dst:
                    if ":" not in target.removeprefix("tag:"):
                        raise PolicyInvalid('%s: dst "%s": missing port (want "host:port")' % (where, target))
                dst = [host_of(target) for target in dst]
            used.append((where, src + dst))
    check_tests(policy, policy.get("tests", []), used)


def check_tests(policy: dict, tests, used=()) -> None:
    if not isinstance(tests, list) or not all(isinstance(test, dict) for test in tests):
        raise PolicyInvalid('"tests" must be a list of objects')
    used = list(used)
    for index, test in enumerate(tests):
        targets = test.get("accept", []) + test.get("deny", []) if str_list(test.get("accept", [])) \
            and str_list(test.get("deny", [])) else None
        if not isinstance(test.get("src"), str) or targets is None:
            raise PolicyInvalid('tests[%d]: "src" must be a string, "accept"/"deny" lists of strings' % index)
        for target in targets:
            if not target.rpartition(":")[2].isdigit():
                raise PolicyInvalid('tests[%d]: destination "%s" needs a single port ("host:port")' % (index, target))
        used.append(("tests[%d]" % index, [test["src"]] + [host_of(target) for target in targets]))
    owners = policy.get("tagOwners", {})
    for where, names in used:
        for name in names:
            if name.startswith("tag:") and name not in owners:
                raise PolicyInvalid('%s: tag "%s" not found in tagOwners' % (where, name))
    failures = []
    for test in tests:
        src, want = test["src"], "address \"%s\": want: %s, got: %s"
        errors = [want % (t, "Accept", "Drop") for t in test.get("accept", []) if not allowed(policy, src, t)]
        errors += [want % (t, "Drop", "Accept") for t in test.get("deny", []) if allowed(policy, src, t)]
        if errors:
            failures.append({"user": test["src"], "errors": errors})
    if failures:
        raise PolicyInvalid("test(s) failed", failures)


def matches(entry: str, who: str, policy: dict) -> bool:
    """Does the policy selector ``entry`` cover the principal or host ``who``?"""
    hosts = policy.get("hosts", {})
    if entry in ("*", who) or (entry in hosts and hosts[entry] == who) or (who in hosts and hosts[who] == entry):
        return True
    if entry.startswith("group:"):
        return who in policy.get("groups", {}).get(entry, [])
    if entry == "autogroup:member":
        return "@" in who
    return entry == "autogroup:tagged" and who.startswith("tag:")


def port_matches(spec: str, port: int) -> bool:
    if spec == "*":
        return True
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and (high or low).isdigit() and int(low) <= port <= int(high or low):
            return True
    return False


def allowed(policy: dict, src: str, target: str) -> bool:
    """Evaluate acls (and simple grants) for one test: src -> 'host:port'."""
    host, _, port_text = target.rpartition(":")
    port = int(port_text)
    if "acls" not in policy and "grants" not in policy:
        return True  # neither key: allow-all (tailscale/tailscale#2799); "acls": [] or "grants": [] denies all
    for rule in policy.get("acls", []):
        if any(matches(s, src, policy) for s in rule.get("src", rule.get("users", []))):
            for dst in rule.get("dst", rule.get("ports", [])):
                dst_host, _, ports = dst.rpartition(":")
                if matches(dst_host, host, policy) and port_matches(ports, port):
                    return True
    for grant in policy.get("grants", []):
        if any(matches(s, src, policy) for s in grant.get("src", [])) and \
                any(matches(d, host, policy) for d in grant.get("dst", [])):
            if any(port_matches(ip.rpartition(":")[2], port) for ip in grant.get("ip", ["*"])):
                return True
    return False


# ---------------------------------------------------------------- state


class Tailnet:
    """All emulator state; every access goes through ``self.lock``."""

    def __init__(self, api_key: str, name: str, client_id: str, client_secret: str):
        self.api_key, self.name = api_key, name
        self.client_id, self.client_secret = client_id, client_secret
        self.user_id, self.user = "u" + hashlib.sha256(api_key.encode()).hexdigest()[:10] + "CNTRL", "admin@" + name
        self.magic = "tail%s.ts.net" % hashlib.sha256(name.encode()).hexdigest()[:4]
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.policy, self.is_default = DEFAULT_POLICY, True
            self.keys: dict[str, dict] = {}
            self.devices: dict[str, dict] = {}
            self.tokens: dict[str, dict] = {}
            self.federated: dict[str, dict] = {}  # client id -> federated identity
            self.offset = 0.0
            self.serial = 0

    def now(self) -> float:
        return time.time() + self.offset

    def identity(self, candidate: str):
        """Who a presented token is: the API key's user, a live OAuth access token, or None."""
        if same(candidate, self.api_key):
            return {"kind": "user", "scopes": ["all"], "userId": self.user_id}
        with self.lock:
            for token, info in self.tokens.items():
                if same(candidate, token) and info["expires"] > self.now():
                    return {"kind": "oauth", "scopes": info["scopes"], "userId": "", "tags": info.get("tags")}
        return None

    def key_view(self, key: dict, with_secret: bool = False) -> dict:
        out = {"id": key["id"], "keyType": "auth", "expirySeconds": key["expirySeconds"],
               "created": iso(key["created"]), "updated": iso(key["revoked"] or key["created"]),
               "expires": iso(key["expires"]), "capabilities": key["capabilities"],
               "description": key["description"], "invalid": not self.key_active(key), "userId": key["userId"]}
        if key["revoked"]:
            out["revoked"] = iso(key["revoked"])
        if with_secret:
            out["key"] = key["secret"]
        return out

    def key_active(self, key: dict) -> bool:
        return not key["revoked"] and key["expires"] > self.now()

    def device_view(self, device: dict, fields: str = "all") -> dict:
        return {k: v for k, v in device.items() if fields == "all" or k not in EXTRA_DEVICE_FIELDS}

    def find_device(self, device_id: str) -> dict:
        for device in self.devices.values():
            if device_id in (device["nodeId"], device["id"]):
                return device
        raise ApiError(404, "device not found")

    def add_device(self, hostname: str, os_name: str, key: dict, online: bool) -> dict:
        """A new node; a taken MagicDNS name gets -1, -2, ... (the hostname itself stays)."""
        create, now = key["capabilities"]["devices"]["create"], self.now()
        tags, self.serial = list(create["tags"]), self.serial + 1
        host = divmod(self.serial - 1, 254)
        base = re.sub(r"[^a-z0-9-]+", "-", hostname.lower()).strip("-") or "device"
        taken, name, suffix = {d["name"] for d in self.devices.values()}, "%s.%s" % (base, self.magic), 0
        while name in taken:
            suffix += 1
            name = "%s-%d.%s" % (base, suffix, self.magic)
        device = {
            "id": str(10 ** 14 + secrets.randbelow(9 * 10 ** 14)), "nodeId": random_id("n"),
            "hostname": hostname, "name": name,
            "user": self.user if key["userId"] and not tags else "tagged-devices",
            "addresses": ["100.64.%d.%d" % (host[0], host[1] + 1), "fd7a:115c:a1e0::%x" % self.serial],
            "os": os_name, "clientVersion": "1.82.5", "updateAvailable": False,
            "created": iso(now), "expires": iso(now + NODE_KEY_DURATION),
            "keyExpiryDisabled": bool(tags),  # tagged nodes get key expiry disabled by default
            "authorized": create["preauthorized"], "isExternal": False, "isEphemeral": create["ephemeral"],
            "tags": tags, "connectedToControl": online, "blocksIncomingConnections": False,
            "machineKey": "mkey:" + secrets.token_hex(32), "nodeKey": "nodekey:" + secrets.token_hex(32),
            "tailnetLockKey": "tlpub:" + secrets.token_hex(32), "sshEnabled": False,
            "enabledRoutes": [], "advertisedRoutes": [], "postureIdentity": {"disabled": True},
            "clientConnectivity": {"endpoints": [], "mappingVariesByDestIP": False, "latency": {}, "clientSupports": {
                "hairPinning": None, "ipv6": False, "pcp": False, "pmp": False, "udp": True, "upnp": False}},
        }
        self.devices[device["nodeId"]] = device
        return device

    def tag_owners(self) -> dict:
        owners = json5.loads(self.policy).get("tagOwners", {})
        return owners if isinstance(owners, dict) else {}


# ---------------------------------------------------------------- app


def create_app():
    ts = Tailnet(os.environ.get("TS_EMU_API_KEY", ""), os.environ.get("TS_EMU_TAILNET", "example.com"),
                 os.environ.get("TS_EMU_OAUTH_CLIENT_ID", ""), os.environ.get("TS_EMU_OAUTH_CLIENT_SECRET", ""))
    api, asgi = _common.create_app("tailscale", ts.reset, lambda status, message: {"message": message})

    @api.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return exc.response()

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"message": ("%s: %s" % (where, first.get("msg", "invalid request"))).strip(": ")},
                            status_code=400)

    @api.exception_handler(Exception)
    async def _crash(request, exc):
        return JSONResponse({"message": "internal server error"}, status_code=500)

    def authenticate(request: Request) -> dict:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        candidate = None
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except ValueError:
                username, password = "", "x"
            candidate = username if not password else None
        else:
            with ts.lock:
                live = [t for t, info in ts.tokens.items() if info["expires"] > ts.now()]
            try:
                candidate = _common.check_bearer(request, ts.api_key, *live)
            except HTTPException:
                candidate = None
        who = ts.identity(candidate) if candidate else None
        if who is None:
            raise ApiError(401, "API token invalid")
        return who

    def guard(request: Request, scope: str, tailnet: str | None = None) -> dict:
        who = authenticate(request)
        scopes, base = who["scopes"], scope.removesuffix(":read")
        if not ("all" in scopes or scope in scopes or base in scopes
                or (scope.endswith(":read") and "all:read" in scopes)):
            raise ApiError(403, FORBIDDEN)
        if tailnet is not None and tailnet not in ("-", ts.name):
            raise ApiError(404, "tailnet not found")
        return who

    async def json_object(request: Request, required: bool = True) -> dict:
        raw = await request.body()
        if not raw.strip():
            if required:
                raise ApiError(400, "request body is empty")
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "invalid JSON body: %s" % exc)
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def policy_response(request: Request, text: str) -> Response:
        headers = {"ETag": etag_of(text)}
        if request.query_params.get("details") == "true":
            return JSONResponse({"acl": base64.b64encode(text.encode()).decode(), "warnings": [], "errors": None},
                                headers=headers)
        if "application/json" in request.headers.get("accept", "").lower():
            return Response(json.dumps(json5.loads(text), indent=2), media_type="application/json", headers=headers)
        return Response(text.encode("utf-8"), media_type="application/hujson", headers=headers)

    # ---- OAuth

    @api.post("/api/v2/oauth/token")
    async def oauth_token(request: Request):
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        field = lambda name: form.get(name, [""])[0]  # noqa: E731
        client_id, client_secret = field("client_id"), field("client_secret")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic" and not client_id:  # x/oauth2 sends client credentials in the header
            try:
                pair = base64.b64decode(value, validate=True).decode()
            except ValueError:
                pair = ""
            client_id, _, client_secret = (urllib.parse.unquote_plus(p) for p in pair.partition(":"))
        if field("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported grant_type: want client_credentials")
        if not (same(client_id, ts.client_id) and same(client_secret, ts.client_secret)):
            raise ApiError(401, "invalid client credentials")
        scopes = field("scope").split() or ["all"]
        token = "tskey-api-%s-%s" % (random_id("k", suffix="CNTRL"), secrets.token_hex(16))
        with ts.lock:
            ts.tokens[token] = {"expires": ts.now() + TOKEN_TTL, "scopes": scopes}
        body = {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL, "scope": " ".join(scopes)}
        if field("tags"):
            body["tags"] = field("tags")
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @api.post("/api/v2/oauth/token-exchange")
    async def token_exchange(request: Request):
        """Workload identity federation: an ID token whose claims match a federated identity -> access token."""
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        client_id, jwt = (form.get(name, [""])[0] for name in ("client_id", "jwt"))
        if not client_id or not jwt:
            raise ApiError(400, "client_id and jwt are required")
        claims = jwt_claims(jwt)
        with ts.lock:
            identity = ts.federated.get(client_id)
            if identity is None:
                raise ApiError(401, "invalid client id")
            now = ts.now()
        if claims.get("iss") != identity["issuer"]:
            raise ApiError(401, "ID token issuer does not match the federated identity")
        if not subject_matches(identity["subject"], claims.get("sub")):
            raise ApiError(401, "ID token subject does not match the federated identity")
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if identity["audience"] and identity["audience"] not in audiences:
            raise ApiError(401, "ID token audience does not match the federated identity")
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise ApiError(401, "ID token is expired")
        token = "tskey-api-%s-%s" % (random_id("k", suffix="CNTRL"), secrets.token_hex(16))
        with ts.lock:
            ts.tokens[token] = {"expires": now + TOKEN_TTL, "scopes": list(identity["scopes"]),
                                "tags": list(identity["tags"])}
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL,
                             "scope": " ".join(identity["scopes"])}, headers={"Cache-Control": "no-store"})

    # ---- policy file

    @api.get("/api/v2/tailnet/{tailnet}/acl")
    def get_policy(tailnet: str, request: Request):
        guard(request, "policy_file:read", tailnet)
        with ts.lock:
            text = ts.policy
        return policy_response(request, text)

    @api.post("/api/v2/tailnet/{tailnet}/acl")
    async def set_policy(tailnet: str, request: Request):
        guard(request, "policy_file", tailnet)
        raw = await request.body()
        if raw.strip():
            text, policy = parse_body(raw, request.headers.get("content-type", ""))
            try:
                check_policy(policy)
            except PolicyInvalid as exc:
                raise ApiError(400, exc.body["message"], exc.body.get("data"))
            if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
                text = json.dumps(policy, indent=2) + "\n"  # JSON is re-serialised: no comments survive
            is_default = False
        else:
            text, is_default = DEFAULT_POLICY, True  # empty body resets to the default policy
        if_match = request.headers.get("if-match")
        with ts.lock:
            if if_match is not None:
                wanted = if_match.strip()
                ok = len(wanted) >= 2 and wanted[0] == wanted[-1] == '"' and (
                    wanted == etag_of(ts.policy) or (wanted == '"ts-default"' and ts.is_default))
                if not ok:
                    raise ApiError(412, "precondition failed, invalid old hash")
            ts.policy, ts.is_default = text, is_default
        return policy_response(request, text)

    @api.post("/api/v2/tailnet/{tailnet}/acl/validate")
    async def validate_policy(tailnet: str, request: Request):
        guard(request, "policy_file:read", tailnet)
        raw = await request.body()
        if not raw.strip():
            raise ApiError(400, "request body is empty")
        _text, doc = parse_body(raw, request.headers.get("content-type", ""))
        try:
            if isinstance(doc, list):
                with ts.lock:
                    current = json5.loads(ts.policy)
                check_tests(current, doc)
            else:
                check_policy(doc)
        except PolicyInvalid as exc:
            return JSONResponse(exc.body)
        return JSONResponse({})

    # ---- keys

    @api.post("/api/v2/tailnet/{tailnet}/keys")
    async def create_key(tailnet: str, request: Request):
        who = guard(request, "auth_keys", tailnet)
        body = await json_object(request)
        if body.get("keyType", "auth") != "auth":
            raise ApiError(400, 'keyType "%s" is not supported by this emulator (only "auth")' % body["keyType"])
        caps = body.get("capabilities")
        if not isinstance(caps, dict) or not isinstance(caps.get("devices"), dict):
            raise ApiError(400, "exactly one capability scope must be populated")
        create = caps["devices"].get("create", {})
        if not isinstance(create, dict):
            raise ApiError(400, "capabilities.devices.create must be an object")
        flags = {name: create.get(name, False) for name in ("reusable", "ephemeral", "preauthorized")}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise ApiError(400, "reusable, ephemeral and preauthorized must be booleans")
        tags = create.get("tags", [])
        if not str_list(tags):
            raise ApiError(400, "capabilities.devices.create.tags must be a list of strings")
        expiry = body.get("expirySeconds", 0)
        if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 0:
            raise ApiError(400, "expirySeconds must be a non-negative integer")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > 50:
            raise ApiError(400, "keys: description must be a string of at most 50 characters")
        if not DESCRIPTION_RE.match(description):
            raise ApiError(400, "keys: description had invalid characters")
        with ts.lock:
            owners = ts.tag_owners()
            bad = [tag for tag in tags if tag not in owners]
            if bad:
                raise ApiError(400, "requested tags [%s] are invalid or not permitted" % " ".join(bad))
            if who["kind"] == "oauth" and not tags:
                raise ApiError(400, "tailnet-owned auth key must have tags set")
            if who.get("tags") is not None and not set(tags) <= set(who["tags"]):
                raise ApiError(400, "requested tags [%s] are invalid or not permitted"
                               % " ".join(tag for tag in tags if tag not in who["tags"]))
            key_id, now = random_id("k"), ts.now()
            key = {"id": key_id, "secret": "tskey-auth-%s-%s" % (key_id, secrets.token_hex(16)),
                   "created": now, "expires": now + (expiry or DEFAULT_KEY_EXPIRY), "revoked": None,
                   "expirySeconds": expiry or DEFAULT_KEY_EXPIRY, "description": description,
                   "capabilities": {"devices": {"create": dict(flags, tags=list(tags))}},
                   "userId": who["userId"], "uses": 0}
            ts.keys[key_id] = key
            return ts.key_view(key, with_secret=True)

    @api.get("/api/v2/tailnet/{tailnet}/keys")
    def list_keys(tailnet: str, request: Request):
        who = guard(request, "auth_keys:read", tailnet)
        every = request.query_params.get("all") == "true"  # else only the caller's own keys
        with ts.lock:
            keys = [ts.key_view(k) for k in ts.keys.values()
                    if ts.key_active(k) and (every or k["userId"] == who["userId"])]
        return {"keys": keys}

    @api.get("/api/v2/tailnet/{tailnet}/keys/{key_id}")
    def get_key(tailnet: str, key_id: str, request: Request):
        guard(request, "auth_keys:read", tailnet)
        with ts.lock:
            if key_id not in ts.keys:
                raise ApiError(404, "key not found")
            return ts.key_view(ts.keys[key_id])

    @api.delete("/api/v2/tailnet/{tailnet}/keys/{key_id}")
    def delete_key(tailnet: str, key_id: str, request: Request):
        guard(request, "auth_keys", tailnet)
        with ts.lock:
            if key_id not in ts.keys:
                raise ApiError(404, "key not found")
            ts.keys[key_id]["revoked"] = ts.keys[key_id]["revoked"] or ts.now()
        return Response(status_code=200)

    # ---- devices

    @api.get("/api/v2/tailnet/{tailnet}/devices")
    def list_devices(tailnet: str, request: Request):
        guard(request, "devices:core:read", tailnet)
        fields = request.query_params.get("fields", "default")
        filters: dict[str, list] = {}
        for name, value in request.query_params.multi_items():
            if name != "fields":
                filters.setdefault(name, []).append(value)
        with ts.lock:
            devices = [ts.device_view(d) for d in ts.devices.values()]
        for name in filters:
            if name not in FILTER_FIELDS:
                raise ApiError(400, 'invalid filter: "%s" is not a top-level simple device property' % name)

        def keep(device: dict) -> bool:
            for name, values in filters.items():
                have = device.get(name)
                if isinstance(have, list):
                    if not all(v in have for v in values):
                        return False
                elif have is None or not all(v == (json.dumps(have) if isinstance(have, bool) else str(have))
                                             for v in values):
                    return False
            return True

        return {"devices": [ts.device_view(d, fields) for d in devices if keep(d)]}

    @api.get("/api/v2/device/{device_id}")
    def get_device(device_id: str, request: Request):
        guard(request, "devices:core:read")
        with ts.lock:
            return ts.device_view(ts.find_device(device_id), request.query_params.get("fields", "default"))

    @api.post("/api/v2/device/{device_id}/authorized")
    async def authorize_device(device_id: str, request: Request):
        guard(request, "devices:core")
        body = await json_object(request)
        if not isinstance(body.get("authorized"), bool):
            raise ApiError(400, '"authorized" (boolean) is required')
        with ts.lock:
            ts.find_device(device_id)["authorized"] = body["authorized"]
        return {}

    @api.post("/api/v2/device/{device_id}/key")
    async def device_key(device_id: str, request: Request):
        guard(request, "devices:core")
        body = await json_object(request, required=False)
        if "keyExpiryDisabled" in body and not isinstance(body["keyExpiryDisabled"], bool):
            raise ApiError(400, '"keyExpiryDisabled" must be a boolean')
        with ts.lock:
            device = ts.find_device(device_id)
            if "keyExpiryDisabled" in body:  # expiry time itself is kept either way
                device["keyExpiryDisabled"] = body["keyExpiryDisabled"]
        return {}

    @api.delete("/api/v2/device/{device_id}")
    def delete_device(device_id: str, request: Request):
        guard(request, "devices:core")
        with ts.lock:
            ts.devices.pop(ts.find_device(device_id)["nodeId"])
        return Response(status_code=200)

    # ---- emulator helpers (not part of the Tailscale API)

    @api.post("/_emulator/tailscale/register")
    async def register(request: Request):
        body = await json_object(request)
        secret, hostname = body.get("auth_key"), body.get("hostname")
        wanted_tags = body.get("advertise_tags") or []
        if not isinstance(secret, str) or not isinstance(hostname, str) or not hostname.strip() \
                or not str_list(wanted_tags):
            raise ApiError(400, '"auth_key" and "hostname" (strings) are required; "advertise_tags" is a list')
        with ts.lock:
            key = next((k for k in ts.keys.values() if same(secret, k["secret"])), None)
            if key is None:
                raise ApiError(401, "invalid key: unable to validate API key")
            if key["revoked"]:
                raise ApiError(403, "invalid key: key has been revoked")
            if key["expires"] <= ts.now():
                raise ApiError(403, "invalid key: key has expired")
            create = key["capabilities"]["devices"]["create"]
            if key["uses"] and not create["reusable"]:
                raise ApiError(403, "invalid key: key already used")
            extra = [tag for tag in wanted_tags if tag not in create["tags"]]
            if extra:
                raise ApiError(403, "requested tags [%s] are invalid or not permitted" % " ".join(extra))
            now, tags = ts.now(), list(create["tags"])
            online = body.get("online", True) is not False
            if body.get("node_key"):  # re-authentication of an existing node
                device = next((d for d in ts.devices.values() if d["nodeKey"] == body["node_key"]), None)
                if device is None:
                    raise ApiError(404, "no device with that node_key")
                device.update(hostname=hostname, tags=tags, isEphemeral=create["ephemeral"],
                              authorized=device["authorized"] or create["preauthorized"],
                              expires=iso(now + NODE_KEY_DURATION), connectedToControl=online,
                              user="tagged-devices" if tags else device["user"])
            else:
                device = ts.add_device(hostname, str(body.get("os") or "linux"), key, online)
            if online:
                device.pop("lastSeen", None)  # omitted while connected to control
            else:
                device["lastSeen"] = iso(now)
            key["uses"] += 1
            return ts.device_view(device)

    @api.post("/_emulator/tailscale/federated")
    async def add_federated_identity(request: Request):
        body = await json_object(request)
        issuer, subject, audience = body.get("issuer"), body.get("subject"), body.get("audience", "")
        tags, scopes = body.get("tags"), body.get("scopes", ["auth_keys"])
        if not isinstance(issuer, str) or not issuer.startswith("https://") or not isinstance(subject, str) \
                or not subject or not isinstance(audience, str):
            raise ApiError(400, '"issuer" (https URL) and "subject" (strings) are required; "audience" is a string')
        if not str_list(tags) or not tags or not str_list(scopes) or not scopes:
            raise ApiError(400, '"tags" and "scopes" must be non-empty lists of strings')
        with ts.lock:
            bad = [tag for tag in tags if tag not in ts.tag_owners()]
            if bad:
                raise ApiError(400, "requested tags [%s] are invalid or not permitted" % " ".join(bad))
            client_id = random_id("k")
            ts.federated[client_id] = {"id": client_id, "keyType": "federated", "issuer": issuer, "subject": subject,
                                       "audience": audience, "tags": list(tags), "scopes": list(scopes),
                                       "description": str(body.get("description", "")), "created": iso(ts.now())}
            return ts.federated[client_id]

    def node_of(body: dict) -> dict:
        node_key = body.get("node_key")
        device = next((d for d in ts.devices.values() if node_key and d["nodeKey"] == node_key), None)
        if device is None:
            raise ApiError(404, "no device with that node_key")
        return device

    @api.post("/_emulator/tailscale/hostinfo")
    async def hostinfo(request: Request):
        """What a node tells control without an auth key: a new hostname, connected or not (up/down)."""
        body = await json_object(request)
        hostname, online = body.get("hostname"), body.get("online")
        if (hostname is not None and (not isinstance(hostname, str) or not hostname.strip())) \
                or (online is not None and not isinstance(online, bool)):
            raise ApiError(400, '"hostname" must be a non-empty string and "online" a boolean')
        with ts.lock:
            device = node_of(body)
            if hostname is not None:
                device["hostname"] = hostname
            if online is not None:
                device["connectedToControl"] = online
                if online:
                    device.pop("lastSeen", None)
                else:
                    device["lastSeen"] = iso(ts.now())
            return ts.device_view(device)

    @api.post("/_emulator/tailscale/logout")
    async def logout(request: Request):
        """``tailscale logout``: the node key expires now; an ephemeral node is removed."""
        body = await json_object(request)
        with ts.lock:
            device = node_of(body)
            if device["isEphemeral"]:
                ts.devices.pop(device["nodeId"])
                return {"deleted": True}
            device.update(expires=iso(ts.now()), connectedToControl=False, lastSeen=iso(ts.now()))
            return {"deleted": False, "device": ts.device_view(device)}

    @api.post("/_emulator/tailscale/policy")
    async def seed_policy(request: Request):
        raw = await request.body()
        with ts.lock:
            if raw.strip():
                text, policy = parse_body(raw, "application/hujson")
                if not isinstance(policy, dict):
                    raise ApiError(400, "policy must be a JSON object")
                ts.policy, ts.is_default = text, False
            else:
                ts.policy, ts.is_default = DEFAULT_POLICY, True
            return {"etag": etag_of(ts.policy), "is_default": ts.is_default}

    @api.post("/_emulator/tailscale/clock")
    async def advance_clock(request: Request):
        body = await json_object(request)
        step = body.get("advance_seconds")
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step < 0:
            raise ApiError(400, '"advance_seconds" must be a non-negative number')
        with ts.lock:
            ts.offset += step
            return {"now": iso(ts.now()), "offset": ts.offset}

    @api.get("/_emulator/tailscale/state")
    def state():
        with ts.lock:
            return {"tailnet": ts.name, "now": iso(ts.now()),
                    "policy": {"etag": etag_of(ts.policy), "is_default": ts.is_default},
                    "keys": [dict(ts.key_view(k), uses=k["uses"]) for k in ts.keys.values()],
                    "devices": [ts.device_view(d) for d in ts.devices.values()],
                    "federated": list(ts.federated.values())}

    async def with_request_id(scope, receive, send):
        """Every response (faults and helpers included) carries an x-tailscale-request-id header."""
        if scope["type"] != "http":
            return await asgi(scope, receive, send)
        request_id = secrets.token_hex(12).encode()

        async def tagged_send(message):
            if message["type"] == "http.response.start":
                # the Date header follows the emulator's clock (/_emulator/tailscale/clock), so clients
                # that measure key lifetimes against the server's time see the advanced time too
                date = email.utils.formatdate(ts.now(), usegmt=True).encode()
                message = dict(message, headers=[h for h in message.get("headers", []) if h[0].lower() != b"date"] + [
                    (b"x-tailscale-request-id", request_id), (b"date", date)])
            await send(message)

        await asgi(scope, receive, tagged_send)

    return with_request_id
