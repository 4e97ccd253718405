"""Emulator of the brain telemetry service's HTTP API (a FastAPI service in production).

Configuration (environment, see ``sandbox.launcher.emulator_env``):

* ``BRAIN_EMU_ADMIN_TOKEN`` (required): the admin bearer of the ``/admin/*`` routes.
* ``BRAIN_EMU_DB``: SQLite file holding the state, kept across restarts (default: in memory).

API:

* ``POST /admin/customers`` (admin) ``{customer_id, name}`` → 201 ``{api_key, key_id, customer_id}``;
  422 when ``customer_id`` is not ``^cust_[a-z0-9_]+$`` or ``name`` not 1–64 chars; 409 when it exists.
* ``DELETE /admin/customers/{id}`` (admin) → 204, cascading events, api_keys, agents; 404 when missing.
* ``GET /admin/customers/{id}/events?event_type=&limit=`` (admin) → the events, newest last; 404.
* ``POST /v1/events`` (customer api_key) ``{event_type, payload}`` → 201 ``{event_id}``; the event is
  stored under the key's customer; a ``heartbeat`` needs ``payload.hostname`` and upserts the agent.
* ``GET /_emulator/brain/customers`` (tests only) → customers with key ids, agents and event counts.

Auth: no or malformed ``Authorization`` → 401; another token than the admin one on ``/admin/*`` → 403;
an unknown (or deleted customer's) key on ``/v1/events`` → 401. Errors are ``{"detail": "..."}``.
API keys are stored as SHA-256 hashes only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any, Optional

from fastapi import Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, field_validator, model_validator

from sandbox.emulators import _common

CUSTOMER_ID = re.compile(r"cust_[a-z0-9_]+")
EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
# What customer hosts send: the B.3 heartbeat timer and the agent's (Paperclip's) activity feed.
EVENT_TYPES = frozenset({"heartbeat", "tool_call", "login", "task_created", "task_settled",
                         "finance_activity", "leads_activity", "error"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS agents (customer_id TEXT NOT NULL, hostname TEXT NOT NULL, first_seen TEXT NOT NULL,
                                   last_seen TEXT NOT NULL, PRIMARY KEY (customer_id, hostname));
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, customer_id TEXT NOT NULL,
                                   event_type TEXT NOT NULL, payload TEXT NOT NULL, hostname TEXT,
                                   received TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_customer ON events (customer_id, id);
"""
TABLES = ("events", "agents", "api_keys", "customers")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Store:
    """One SQLite connection shared by the worker threads, serialised by a lock."""

    def __init__(self, path: str):
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)

    def run(self, fn):
        """Call ``fn(db)`` inside one transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self.db)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            return result

    def wipe(self) -> None:
        self.run(lambda db: [db.execute("DELETE FROM %s" % table) for table in TABLES])
        with self.lock:
            self.db.execute("VACUUM")


class CustomerIn(BaseModel):
    customer_id: str
    name: str

    @field_validator("customer_id")
    @classmethod
    def _customer_id(cls, value: str) -> str:
        if len(value) > 64 or not CUSTOMER_ID.fullmatch(value):
            raise ValueError("must match ^cust_[a-z0-9_]+$ (at most 64 chars), got %r" % value)
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 1 <= len(value) <= 64:
            raise ValueError("must be 1 to 64 characters long")
        return value


class EventIn(BaseModel):
    event_type: str
    payload: dict[str, Any]

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, value: str) -> str:
        if not EVENT_TYPE.fullmatch(value):
            raise ValueError("must be a short identifier matching ^[a-z][a-z0-9_.]{0,63}$")
        if value not in EVENT_TYPES:
            raise ValueError("unknown event type %r; known: %s" % (value, ", ".join(sorted(EVENT_TYPES))))
        return value

    @model_validator(mode="after")
    def _heartbeat(self):
        host = self.payload.get("hostname")
        if self.event_type == "heartbeat" and not (isinstance(host, str) and 0 < len(host) <= 253):
            raise ValueError("payload.hostname (1-253 chars) is required for a heartbeat")
        return self


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def create_app():
    admin_token = os.environ.get("BRAIN_EMU_ADMIN_TOKEN")
    if not admin_token:
        raise RuntimeError("BRAIN_EMU_ADMIN_TOKEN is not set")
    store = Store(os.environ.get("BRAIN_EMU_DB") or ":memory:")
    api, asgi = _common.create_app("brain", store.wipe, lambda status, message: {"detail": message})

    @api.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
            loc = "body" if err.get("type") == "json_invalid" or not loc else loc
            problems.append("%s: %s" % (loc, str(err.get("msg", "invalid")).removeprefix("Value error, ")))
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    def require_admin(request: Request) -> None:
        token = _common.check_bearer(request, admin_token)
        if token is None:
            raise unauthorized("missing bearer token")
        if not token:
            raise HTTPException(status_code=403, detail="admin token required")

    def require_customer(request: Request) -> str:
        """Return the customer the presented api_key belongs to."""
        if _common.check_bearer(request) is None:
            raise unauthorized("missing bearer token")
        presented = request.headers["authorization"].partition(" ")[2]
        row = store.run(lambda db: db.execute("SELECT customer_id FROM api_keys WHERE key_hash = ?",
                                              (key_hash(presented),)).fetchone())
        if row is None:
            raise unauthorized("invalid or revoked api key")
        return row["customer_id"]

    def customer_exists(db, customer_id: str) -> bool:
        return db.execute("SELECT 1 FROM customers WHERE customer_id = ?", (customer_id,)).fetchone() is not None

    @api.post("/admin/customers", status_code=201, dependencies=[Depends(require_admin)])
    def mint_customer(body: CustomerIn):
        api_key, key_id = "brk_" + secrets.token_urlsafe(32), "key_" + secrets.token_hex(8)

        def tx(db):
            if customer_exists(db, body.customer_id):
                return False
            db.execute("INSERT INTO customers VALUES (?, ?, ?)", (body.customer_id, body.name, now()))
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?)", (key_id, body.customer_id, key_hash(api_key)))
            return True

        if not store.run(tx):
            raise HTTPException(status_code=409, detail="customer %s already exists" % body.customer_id)
        return {"api_key": api_key, "key_id": key_id, "customer_id": body.customer_id}

    @api.delete("/admin/customers/{customer_id}", status_code=204, dependencies=[Depends(require_admin)])
    def delete_customer(customer_id: str):
        def tx(db):
            if not customer_exists(db, customer_id):
                return False
            for table in TABLES:
                db.execute("DELETE FROM %s WHERE customer_id = ?" % table, (customer_id,))
            return True

        if not store.run(tx):
            raise HTTPException(status_code=404, detail="customer %s not found" % customer_id)
        return Response(status_code=204)

    @api.get("/admin/customers/{customer_id}/events", dependencies=[Depends(require_admin)])
    def list_events(customer_id: str, event_type: Optional[str] = None,
                    limit: int = Query(100, ge=1, le=10000)):
        def tx(db):
            if not customer_exists(db, customer_id):
                return None
            sql, args = "SELECT * FROM events WHERE customer_id = ?", [customer_id]
            if event_type is not None:
                sql, args = sql + " AND event_type = ?", args + [event_type]
            return db.execute("SELECT * FROM (%s ORDER BY id DESC LIMIT ?) ORDER BY id" % sql,
                              args + [limit]).fetchall()

        rows = store.run(tx)
        if rows is None:
            raise HTTPException(status_code=404, detail="customer %s not found" % customer_id)
        return [{"id": r["id"], "customer_id": r["customer_id"], "event_type": r["event_type"],
                 "payload": json.loads(r["payload"]), "hostname": r["hostname"], "received": r["received"]}
                for r in rows]

    @api.post("/v1/events", status_code=201)
    def post_event(body: EventIn, customer_id: str = Depends(require_customer)):
        host = body.payload.get("hostname")
        host = host if isinstance(host, str) else None
        stamp = now()

        def tx(db):
            cur = db.execute("INSERT INTO events (customer_id, event_type, payload, hostname, received) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (customer_id, body.event_type, json.dumps(body.payload), host, stamp))
            if body.event_type == "heartbeat":
                db.execute("INSERT INTO agents VALUES (?, ?, ?, ?) ON CONFLICT (customer_id, hostname) "
                           "DO UPDATE SET last_seen = excluded.last_seen", (customer_id, host, stamp, stamp))
            return cur.lastrowid

        return {"event_id": store.run(tx)}

    @api.get("/_emulator/brain/customers")
    def emulator_customers():
        def tx(db):
            out = []
            for c in db.execute("SELECT * FROM customers ORDER BY customer_id").fetchall():
                cid = c["customer_id"]
                keys = db.execute("SELECT key_id FROM api_keys WHERE customer_id = ? ORDER BY key_id", (cid,))
                agents = db.execute("SELECT hostname, first_seen, last_seen FROM agents WHERE customer_id = ? "
                                    "ORDER BY hostname", (cid,))
                count = db.execute("SELECT COUNT(*) FROM events WHERE customer_id = ?", (cid,)).fetchone()[0]
                out.append({"customer_id": cid, "name": c["name"], "created": c["created"],
                            "key_ids": [k["key_id"] for k in keys], "agents": [dict(a) for a in agents],
                            "event_count": count})
            return out

        return store.run(tx)

    return asgi
