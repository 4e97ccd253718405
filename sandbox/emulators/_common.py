"""What every emulator shares: request log, fault injection, reset, bearer checks.

Each emulator builds its FastAPI app with :func:`create_app` and registers a reset
callback. The returned app serves, beside the emulator's own API:

* ``GET /_emulator/requests``: the request log, ``[{method, path, query, status, time, fault}]``.
  Query values whose name looks secret are redacted; bodies and headers are never logged.
* ``POST /_emulator/faults``: ``{"route": "<regex on 'METHOD /path'>", "kind": "429|500|502|503|drop|latency",
  "count": N | "rate": 0.0-1.0, "retry_after": s, "latency_ms": ms, "seed": int}`` → ``{"id": ...}``.
* ``DELETE /_emulator/faults``: remove every fault.
* ``POST /_emulator/reset``: empty the log, remove faults and reset the emulator's state.

Faults are applied by a pure ASGI middleware in front of the app, so a ``drop`` can close the
client's connection without any response (uvicorn's transport is reached through ``receive``).
"""

from __future__ import annotations

import asyncio
import hmac
import random
import re
import threading
import time
from typing import Any, Callable, Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

SECRET_QUERY = re.compile(r"(token|secret|key|password|auth)", re.I)
FAULT_KINDS = ("429", "500", "502", "503", "drop", "latency")

ErrorBody = Callable[[int, str], Any]


class FaultSpec(BaseModel):
    route: str = Field(..., description="regex matched (search) against 'METHOD /path'")
    kind: str
    count: Optional[int] = Field(None, ge=1)
    rate: Optional[float] = Field(None, ge=0.0, le=1.0)
    retry_after: Optional[int] = Field(None, ge=0)
    latency_ms: Optional[int] = Field(None, ge=0, le=60000)
    seed: Optional[int] = None

    @model_validator(mode="after")
    def _check(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError("kind must be one of %s" % ", ".join(FAULT_KINDS))
        if (self.count is None) == (self.rate is None):
            raise ValueError("give exactly one of count or rate")
        re.compile(self.route)
        return self


class Fault:
    def __init__(self, fid: int, spec: FaultSpec):
        self.id = fid
        self.spec = spec
        self.pattern = re.compile(spec.route)
        self.remaining = spec.count
        self.rng = random.Random(spec.seed)
        self.fired = 0

    def take(self, key: str) -> bool:
        """Decide (under the state lock) whether this fault fires for ``key``."""
        if not self.pattern.search(key):
            return False
        if self.remaining is not None:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
        elif self.rng.random() >= self.spec.rate:
            return False
        self.fired += 1
        return True

    def as_dict(self) -> dict:
        out = self.spec.model_dump(exclude_none=True)
        out.update(id=self.id, fired=self.fired)
        if self.remaining is not None:
            out["remaining"] = self.remaining
        return out


class EmulatorState:
    """Log and faults of one emulator; thread-safe (uvicorn may run sync routes in a pool)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.faults: list[Fault] = []
        self._next_id = 1

    def add_fault(self, spec: FaultSpec) -> Fault:
        with self.lock:
            fault = Fault(self._next_id, spec)
            self._next_id += 1
            self.faults.append(fault)
            return fault

    def pick_fault(self, key: str) -> Optional[Fault]:
        with self.lock:
            for fault in self.faults:
                if fault.take(key):
                    return fault
        return None

    def record(self, entry: dict) -> None:
        with self.lock:
            self.log.append(entry)

    def clear(self) -> None:
        with self.lock:
            self.log.clear()
            self.faults.clear()


def redact_query(query: str) -> str:
    parts = []
    for item in query.split("&") if query else []:
        name, sep, _value = item.partition("=")
        parts.append(name + sep + "[redacted]" if sep and SECRET_QUERY.search(name) else item)
    return "&".join(parts)


def _close_transport(receive) -> bool:
    """Drop the client's TCP connection (uvicorn's protocol objects expose their transport)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    abort = getattr(transport, "abort", None) or transport.close
    abort()
    return True


class FaultAndLogMiddleware:
    """Pure ASGI middleware: applies faults before the app and logs every API request."""

    def __init__(self, app, state: EmulatorState, error_body: ErrorBody):
        self.app = app
        self.state = state
        self.error_body = error_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        entry = {"method": method, "path": path, "query": redact_query(query),
                 "status": None, "time": time.time(), "fault": None}
        fault = self.state.pick_fault("%s %s" % (method, path))
        status_box = {}

        async def logging_send(message):
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        try:
            if fault is not None:
                entry["fault"] = fault.spec.kind
                kind = fault.spec.kind
                if kind == "latency":
                    await asyncio.sleep((fault.spec.latency_ms or 0) / 1000.0)
                elif kind == "drop":
                    status_box["status"] = 0
                    if _close_transport(receive):
                        return
                    raise RuntimeError("fault injection: drop")
                else:
                    status = int(kind)
                    headers = {}
                    if fault.spec.retry_after is not None:
                        headers["Retry-After"] = str(fault.spec.retry_after)
                    message = "rate limited" if status == 429 else "injected server error"
                    response = JSONResponse(self.error_body(status, message), status_code=status, headers=headers)
                    await response(scope, receive, logging_send)
                    return
            await self.app(scope, receive, logging_send)
        finally:
            entry["status"] = status_box.get("status", 500)
            self.state.record(entry)


def check_bearer(request: Request, *tokens: str) -> Optional[str]:
    """Return the matching token, ``None`` when no Authorization was sent; raise on a bad one."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise HTTPException(status_code=401, detail="malformed Authorization header")
    for token in tokens:
        if token and hmac.compare_digest(value.encode(), token.encode()):
            return token
    return ""


def create_app(name: str, reset: Callable[[], None], error_body: ErrorBody):
    """Build the FastAPI app of one emulator and the ASGI app to serve (with faults and log).

    Returns ``(api, asgi)``: register routes on ``api``; serve ``asgi``.
    """
    api = FastAPI(title="%s emulator (m8trx.deployer sandbox)" % name, docs_url=None, redoc_url=None)
    state = EmulatorState()
    api.state.emulator = state

    @api.get("/_emulator/requests")
    def requests_log():
        with state.lock:
            return list(state.log)

    @api.post("/_emulator/faults", status_code=201)
    def add_fault(spec: FaultSpec):
        return state.add_fault(spec).as_dict()

    @api.get("/_emulator/faults")
    def list_faults():
        with state.lock:
            return [f.as_dict() for f in state.faults]

    @api.delete("/_emulator/faults")
    def clear_faults():
        with state.lock:
            state.faults.clear()
        return {"cleared": True}

    @api.post("/_emulator/reset")
    def reset_all():
        state.clear()
        reset()
        return {"reset": True}

    @api.get("/_emulator/health")
    def health():
        return {"emulator": name, "ok": True}

    asgi = FaultAndLogMiddleware(api, state, error_body)
    return api, asgi
