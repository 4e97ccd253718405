# -*- coding: utf-8 -*-
# Copyright (c) 2025, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""The one HTTP client of m8trx.deployer: transport, typed errors, retries, pagination.

Build an ``ApiClient`` from explicit values (never from ``module.params``)::

    client = ApiClient("https://api.tailscale.com/api/v2", headers={"Authorization": "Bearer " + token},
                       secrets=[token], error_parser=tailscale_error_message)
    key = client.get("/tailnet/-/keys/" + key_id, allow_404=True)   # Response, or None on 404

Retry rules (``RetryPolicy``): 429, 500/502/503/504 and transport errors are retried with full-jitter
backoff; ``Retry-After`` is honoured exactly (a wait above ``max_retry_after`` raises instead).
GET/HEAD/OPTIONS/PUT/DELETE are repeated; POST/PATCH only with ``idempotent=True``, after a 429/503 that
carries ``Retry-After`` (not processed) or a connection error raised before the request was sent.
A POST that got a 5xx or lost its connection after sending is NOT repeated: the error is raised so the
caller re-reads before re-creating (the request may have been applied).
"""

from __future__ import annotations

import email.utils
import errno
import functools
import random
import re
import socket
import ssl
import time
from collections.abc import Mapping
from http.client import HTTPException
from json import dumps as json_dumps, loads as json_loads
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, Request

REDACTED = "[redacted]"
BODY_LIMIT = 2000
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
MIN_SECRET_LENGTH = 4  # shorter "secrets" would mangle every message
SECRET_PATTERNS = (  # (pattern, replacement) for credentials we were not told about
    (re.compile(r"tskey-[A-Za-z0-9_-]+"), REDACTED),
    (re.compile(r"\bcf(?:k|ut|at)_[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1" + REDACTED),
    (re.compile(r'(?i)("[a-z_]*(?:token|secret|passw(?:or)?d|api_?key|private_key)"\s*:\s*")[^"]*"'), r'\1%s"' % REDACTED),
)
SECRET_NAME = re.compile(r"(?i)token|secret|passw|api[_-]?key|access[_-]?key|auth|signature|credential|cookie|session|^key$|^sig$|^code$")


class ApiError(Exception):
    """An API call failed. ``status`` is None for transport errors; ``body`` is sanitized and truncated."""

    def __init__(self, message, status=None, body="", request_id=None, method=None, url=None, retry_after=None, api_message=None):
        super().__init__(message)
        self.message, self.status, self.body, self.request_id = message, status, body, request_id
        self.method, self.url, self.retry_after, self.api_message = method, url, retry_after, api_message
        self.attempts = 1

    def __str__(self):
        return self.message if self.attempts < 2 else "%s (gave up after %d attempts)" % (self.message, self.attempts)

    def __repr__(self):
        return "%s(status=%r, method=%r, url=%r, request_id=%r)" % (type(self).__name__, self.status, self.method, self.url, self.request_id)


class ValidationError(ApiError):
    """400 or 422: the request was refused as invalid; fix the input."""


class AuthError(ApiError):
    """401 or 403: bad, expired or under-scoped credentials."""


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: the resource exists or changed underneath; re-read."""


class PreconditionFailed(ApiError):
    """412: an If-Match/ETag precondition failed; re-read and re-apply, never retry blindly."""


class RateLimited(ApiError):
    """429."""


class ServerError(ApiError):
    """5xx."""


class PaginationError(ApiError):
    """A listing could not be read completely (page cap, repeated page, bad shape)."""


class ListingChanged(PaginationError):
    """A listing kept changing while it was read (items were added or removed between its pages), even
    after reading it again ``max_restarts`` times."""


class TransportError(ApiError):
    """No HTTP response: connection refused/reset, DNS, timeout, TLS. ``sent`` is False when the request
    certainly never reached the server; ``retryable`` is False for certificate verification failures."""

    def __init__(self, message, sent=True, retryable=True, **kwargs):
        super().__init__(message, **kwargs)
        self.sent, self.retryable = sent, retryable


_STATUS_ERRORS = {400: ValidationError, 422: ValidationError, 401: AuthError, 403: AuthError, 404: NotFound,
                  409: Conflict, 412: PreconditionFailed, 429: RateLimited}


def error_class(status):
    return _STATUS_ERRORS.get(status) or (ServerError if status >= 500 else ApiError)


def brain_error_message(data):
    """FastAPI: ``{"detail": "text"}`` or ``{"detail": [{"loc": [...], "msg": "..."}]}``."""
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
                parts.append("%s: %s" % (loc, item.get("msg")) if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts) or None
    return None if detail is None else str(detail)


def tailscale_error_message(data):
    """Tailscale: ``{"message": "...", "data": [{"user": ..., "errors": [...]}]}``."""
    if not isinstance(data, dict) or not data.get("message"):
        return None
    details = []
    for item in data.get("data") or ():
        if isinstance(item, dict):
            for text in [t for k in ("errors", "warnings") if isinstance(item.get(k), list) for t in item[k]]:
                details.append("%s: %s" % (item["user"], text) if item.get("user") else str(text))
    return "%s (%s)" % (data["message"], "; ".join(details)) if details else str(data["message"])


def cloudflare_error_message(data):
    """Cloudflare: ``{"success": false, "errors": [{"code": 81057, "message": "...", "error_chain": [...]}]}``."""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors:
        return None
    parts = []
    for err in errors:
        if isinstance(err, dict):
            chain = [e for e in [err] + list(err.get("error_chain") or []) if isinstance(e, dict)]
            parts.append(" <- ".join("%s %s" % (e.get("code", ""), e.get("message", "")) for e in chain).strip())
    return "; ".join(parts) or None


def default_error_message(data):
    """Try the three API styles in turn."""
    return cloudflare_error_message(data) or tailscale_error_message(data) or brain_error_message(data)


class Headers(Mapping):
    """Case-insensitive, read-only response headers; repeated headers are joined with ', '."""

    def __init__(self, items=()):
        self._data = {}
        for name, value in (items.items() if hasattr(items, "items") else items):
            old = self._data.get(name.lower())
            self._data[name.lower()] = (name, value if old is None else "%s, %s" % (old[1], value))

    def __getitem__(self, name):
        return self._data[name.lower()][1]

    def __iter__(self):
        return (name for name, _value in self._data.values())

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return "Headers(%r)" % dict(self.items())


class Response:
    """A response: ``status``, ``headers`` (case-insensitive), ``body`` (bytes), lazy ``json``."""

    def __init__(self, status, headers, body, request_id=None):
        self.status, self.headers, self.body, self.request_id = status, headers, body or b"", request_id
        self.etag = headers.get("etag")
        self._json, self._parsed = None, False

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        """The parsed body, or None when it is empty or not JSON."""
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json_loads(self.text) if self.body.strip() else None
            except ValueError:
                self._json = None
        return self._json

    def __repr__(self):
        return "Response(status=%r, request_id=%r, bytes=%d)" % (self.status, self.request_id, len(self.body))


def parse_retry_after(value, now):
    """``Retry-After`` in seconds (delta-seconds or HTTP-date relative to ``now``), or None."""
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return None if when is None or when.tzinfo is None else max(0.0, when.timestamp() - now)


class RetryPolicy:
    """Jittered exponential backoff in the amazon.aws CloudRetry style; usable as a decorator.

    ``max_retry_after`` (default ``max_delay``): a longer server-requested wait raises instead of sleeping.
    ``on_retry(attempt, error, delay)`` is called before each sleep.
    """

    def __init__(self, max_attempts=5, base_delay=0.5, max_delay=20.0, max_retry_after=None, jitter="full",
                 retry_statuses=(500, 502, 503, 504), sleep=time.sleep, clock=time.time, rand=random.random, on_retry=None):
        if jitter not in ("full", "none"):
            raise ValueError("jitter must be 'full' or 'none'")
        self.max_attempts, self.base_delay, self.max_delay, self.jitter = max_attempts, base_delay, max_delay, jitter
        self.max_retry_after = max_delay if max_retry_after is None else max_retry_after
        self.retry_statuses, self.sleep, self.clock, self.rand, self.on_retry = frozenset(retry_statuses), sleep, clock, rand, on_retry

    def backoff(self, attempt):
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return ceiling * self.rand() if self.jitter == "full" else ceiling

    def delay_for(self, error, attempt, idempotent):
        """Seconds to sleep before attempt ``attempt + 1``, or None when ``error`` must be raised."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, TransportError):
            return self.backoff(attempt) if error.retryable and (idempotent or not error.sent) else None
        if not isinstance(error, RateLimited) and not (isinstance(error, ServerError) and error.status in self.retry_statuses):
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            if idempotent or error.status in (429, 503):
                return error.retry_after
        return self.backoff(attempt) if idempotent else None

    def run(self, func, idempotent=True, on_retry=None):
        """Call ``func()`` until it returns, or raise its last ``ApiError`` (with ``attempts`` set)."""
        attempt = 1
        while True:
            try:
                return func()
            except ApiError as error:
                error.attempts = attempt
                delay = self.delay_for(error, attempt, idempotent)
                if delay is None:
                    raise
                for hook in (self.on_retry, on_retry):
                    if hook is not None:
                        hook(attempt, error, delay)
                self.sleep(delay)
                attempt += 1

    def __call__(self, func):
        """Decorate a function whose every call is safe to repeat."""
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return self.run(lambda: func(*args, **kwargs))
        return wrapper


class UrllibTransport:
    """Default transport over ``ansible.module_utils.urls.Request``: returns ``(status, headers, body)`` for
    every HTTP status; lets connection-level exceptions propagate (``ApiClient`` classifies them)."""

    def __init__(self, validate_certs=True, ca_path=None, user_agent=None):
        self._request = Request(validate_certs=validate_certs, ca_path=ca_path, http_agent=user_agent,
                                use_netrc=False, follow_redirects="safe")

    def __call__(self, method, url, headers, body, timeout):
        try:
            resp = self._request.open(method, url, data=body, headers=headers, timeout=timeout)
        except HTTPError as exc:
            return _http_error_response(exc)
        try:
            return resp.status, list(resp.headers.items()), resp.read()
        finally:
            resp.close()


def _http_error_response(exc):
    """``(status, headers, body)`` of an ``HTTPError`` (urllib raises one for every status >= 400)."""
    try:
        data = exc.read()
    except (AttributeError, OSError, HTTPException):
        data = b""
    return exc.code, list((exc.headers or {}).items()), data


def _transport_error(exc):
    """(description, sent, retryable) for a connection-level exception."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    before_send = isinstance(exc, (URLError, UrlsConnectionError))  # urllib wraps connect/send failures only
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed: %s" % reason, False, False
    if isinstance(reason, ssl.SSLError):
        return "TLS error: %s" % reason, not before_send, True
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused", False, True
    if isinstance(reason, socket.gaierror):
        return "name resolution failed: %s" % reason, False, True
    if before_send and getattr(reason, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "network unreachable: %s" % reason, False, True
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out", True, True
    if isinstance(reason, ConnectionResetError):
        return "connection reset", True, True
    return "%s: %s" % (type(reason).__name__, reason), True, True


def _totals_change(first, info):
    """How the totals of the current page's pagination info differ from the first page's, or None.
    Cloudflare's ``result_info`` carries ``total_count`` and ``total_pages`` on every page."""
    for key in ("total_count", "total_pages"):
        if first.get(key) is not None and info.get(key) is not None and info[key] != first[key]:
            return "%s went from %s to %s" % (key, first[key], info[key])
    return None


def _items_change(first, seen, page, id_key, number, short):
    """What in page ``number`` shows that the listing shifted, or None: an id already read in this pass
    (``seen``, updated here), or a short/empty page before the last page the first page announced."""
    for item in page:
        ident = item.get(id_key) if isinstance(item, dict) else None
        if isinstance(ident, (str, int)):
            if ident in seen:
                return "item %r was listed twice" % ident
            seen.add(ident)
    announced = first.get("total_pages")
    if short and announced is not None and number < announced:
        return "page %d came back short although %s pages were announced" % (number, announced)
    return None


class ApiClient:
    """HTTP client for one API. ``auth()`` (optional) returns extra headers and is called before every
    attempt (OAuth refresh). ``stats`` counts requests, retries, pages and seconds slept."""

    def __init__(self, base_url, headers=None, auth=None, timeout=30, validate_certs=True, ca_path=None, retry=None,
                 user_agent="m8trx.deployer", secrets=(), request_id_headers=("x-tailscale-request-id", "cf-ray", "x-request-id"),
                 error_parser=default_error_message, transport=None):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.auth, self.timeout, self.retry = auth, timeout, retry if retry is not None else RetryPolicy()
        self.user_agent, self.request_id_headers, self.error_parser = user_agent, tuple(request_id_headers), error_parser
        self.transport = transport or UrllibTransport(validate_certs=validate_certs, ca_path=ca_path, user_agent=user_agent)
        self._secrets = set()
        self.add_secrets(secrets)
        self._add_header_secrets(self.headers)
        self.stats = {"requests": 0, "retries": 0, "pages": 0, "restarts": 0, "slept": 0.0}

    def __repr__(self):
        return "ApiClient(base_url=%r)" % self.base_url

    # -- secrets ------------------------------------------------------------------------------------------
    def add_secrets(self, values):
        for value in values:
            value = "" if value is None else str(value)
            if len(value) >= MIN_SECRET_LENGTH:
                self._secrets.update((value, quote(value, safe=""), quote_plus(value)))

    def _add_header_secrets(self, headers):
        for name, value in headers.items():
            if value and SECRET_NAME.search(name):
                self.add_secrets([value] + str(value).split()[1:])  # "Bearer <token>" -> the token too

    def scrub(self, text):
        """``text`` with every known secret and token-looking string replaced by ``[redacted]``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        for pattern, replacement in SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def display_url(self, url, path_only=False):
        """The URL without secret-looking query values, scrubbed."""
        parts = urlsplit(url)
        query = "&".join("%s=%s" % (quote_plus(k), REDACTED if SECRET_NAME.search(k) else quote_plus(v))
                         for k, v in parse_qsl(parts.query, keep_blank_values=True))
        shown = parts.path if path_only else "%s://%s%s" % (parts.scheme, parts.netloc.rpartition("@")[2], parts.path)
        return self.scrub(shown + ("?" + query if query else ""))

    # -- requests -----------------------------------------------------------------------------------------
    def url_for(self, path, query=None):
        url = path if re.match(r"(?i)https?://", path) else "%s/%s" % (self.base_url, path.lstrip("/"))
        pairs = []
        for key, value in (query or {}).items():
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                if item is not None:
                    pairs.append((key, ("true" if item else "false") if isinstance(item, bool) else item))
        return url + ("&" if "?" in url else "?") + urlencode(pairs) if pairs else url

    def request(self, method, path, query=None, json=None, data=None, content_type=None, headers=None,
                expected=(200, 201, 202, 204), idempotent=None, allow_404=False):
        """Send one logical request (retried per ``self.retry``); return a ``Response``, or None for a 404
        when ``allow_404``. ``idempotent`` overrides the verb's default (see the module docstring)."""
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        method = method.upper()
        url = self.url_for(path, query)
        if json is not None:
            body, content_type = json_dumps(json).encode("utf-8"), content_type or "application/json"
        else:
            body = data.encode("utf-8") if isinstance(data, str) else data
        extra = dict(headers or {})
        self._add_header_secrets(extra)
        if content_type:
            extra["Content-Type"] = content_type
        safe = method in IDEMPOTENT_METHODS if idempotent is None else bool(idempotent)

        def attempt():
            send_headers = {"Accept": "application/json", "User-Agent": self.user_agent}
            send_headers.update(self.headers)
            if self.auth is not None:
                auth_headers = self.auth() or {}
                self._add_header_secrets(auth_headers)
                send_headers.update(auth_headers)
            send_headers.update(extra)
            return self._send_once(method, url, send_headers, body, expected, allow_404)

        return self.retry.run(attempt, idempotent=safe, on_retry=self._count_retry)

    def _count_retry(self, attempt, error, delay):
        self.stats["retries"] += 1
        self.stats["slept"] += delay

    def _send_once(self, method, url, headers, body, expected, allow_404):
        self.stats["requests"] += 1
        try:
            status, raw_headers, raw_body = self.transport(method, url, headers, body, self.timeout)
        except HTTPError as exc:  # a transport that raises instead of returning >= 400
            status, raw_headers, raw_body = _http_error_response(exc)
        except (OSError, HTTPException, UrlsConnectionError) as exc:  # URLError and ssl errors are OSErrors
            what, sent, retryable = _transport_error(exc)
            note = "" if sent else " (request not sent)"
            message = self.scrub("%s %s failed: %s%s" % (method, self.display_url(url, path_only=True), what, note))
            raise TransportError(message, sent=sent, retryable=retryable, method=method, url=self.display_url(url)) from None
        resp_headers = Headers(raw_headers)
        request_id = next((resp_headers[h] for h in self.request_id_headers if resp_headers.get(h)), None)
        response = Response(status, resp_headers, raw_body, request_id)
        if status in expected:
            return response
        if status == 404 and allow_404:
            return None
        raise self._error_for(response, method, url)

    def _error_for(self, response, method, url):
        api_message = self.error_parser(response.json) if response.json is not None else None
        body = self.scrub(response.text)
        retry_after = parse_retry_after(response.headers.get("retry-after"), self.retry.clock())
        detail = api_message or body[:200].strip() or "(empty body)"
        message = "%s %s returned HTTP %s: %s" % (method, self.display_url(url, path_only=True), response.status, detail)
        if retry_after is not None:
            message += " (Retry-After: %gs)" % retry_after
        if response.request_id:
            message += " [request id: %s]" % response.request_id
        return error_class(response.status)(
            self.scrub(message), status=response.status, body=body[:BODY_LIMIT], request_id=response.request_id, method=method,
            url=self.display_url(url), retry_after=retry_after, api_message=self.scrub(api_message) if api_message else None)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    # -- pagination ---------------------------------------------------------------------------------------
    def paginate(self, path, query=None, items_key="result", info_key=None, page_param=None, per_page_param=None,
                 per_page=None, max_pages=100, style="page", id_key="id", max_restarts=3):
        """Yield every item of a listing, fetching page after page (``style`` "page": page/per_page numbers
        from 1; "offset": offset/limit). ``items_key`` None means the body is the list. Stops at
        ``info_key``'s ``total_pages``, on an empty page, or on a page shorter than the page size. Raises
        ``PaginationError`` rather than truncating: beyond ``max_pages``, or when a page repeats the last one.

        Nothing is yielded before the whole listing is read. A listing that changed while it was read
        (``total_count`` or ``total_pages`` differ between pages, an item id seen twice, a page that came back
        short or empty while more pages were announced) has shifted under its offsets: items may have been
        skipped. It is read again from the first page, at most ``max_restarts`` times (with the retry policy's
        backoff in between); then ``ListingChanged`` is raised."""
        if style not in ("page", "offset"):
            raise ValueError("style must be 'page' or 'offset'")
        names = (page_param or ("page" if style == "page" else "offset"), per_page_param or ("per_page" if style == "page" else "limit"))
        reads = []
        for attempt in range(1, max_restarts + 2):
            items, change = self._read_listing(path, query, items_key, info_key, names, per_page, max_pages, style, id_key)
            if change is None:
                yield from items
                return
            reads.append(change)
            if attempt <= max_restarts:
                self.stats["restarts"] += 1
                self.stats["slept"] += self._restart_delay(attempt)
        where = "GET %s" % self.display_url(self.url_for(path, query), path_only=True)
        raise ListingChanged("%s: the listing kept changing while it was read (%d reads, max_restarts=%d; %s); another "
                             "writer is changing it: try again later" % (where, len(reads), max_restarts, "; ".join(reads)),
                             method="GET", url=self.display_url(self.url_for(path, query)))

    def _restart_delay(self, attempt):
        delay = self.retry.backoff(attempt)
        self.retry.sleep(delay)
        return delay

    def _read_listing(self, path, query, items_key, info_key, names, per_page, max_pages, style, id_key):
        """One pass over the pages: ``(items, None)``, or ``(None, what changed)`` when the listing moved."""
        page_param, per_page_param = names
        number, offset, previous, first, seen, items = 1, 0, None, None, set(), []
        while True:
            params = dict(query or {})
            params[page_param] = number if style == "page" else offset
            if per_page is not None:
                params[per_page_param] = per_page
            page, info, where, url = self._page(path, params, items_key, info_key, number)
            total_pages = info.get("total_pages")
            if total_pages is not None and total_pages > max_pages:
                raise PaginationError("%s: the listing has %s pages, more than max_pages=%d" % (where, total_pages, max_pages),
                                      method="GET", url=url)
            first = info if first is None else first
            change = _totals_change(first, info)
            fingerprint = [item.get(id_key, item) if isinstance(item, dict) else item for item in page]
            if page and fingerprint == previous and not change:
                raise PaginationError("%s: the server returned the previous page again; refusing to loop" % where, method="GET", url=url)
            previous, size = fingerprint, per_page or info.get("per_page")
            short = not page or bool(size and len(page) < size)
            change = change or _items_change(first, seen, page, id_key, number, short)
            if change:
                return None, "page %d: %s" % (number, change)
            items.extend(page)
            if short or (total_pages is not None and number >= total_pages):
                return items, None
            if number >= max_pages:
                raise PaginationError("%s: more pages remain after max_pages=%d; refusing to truncate" % (where, max_pages),
                                      method="GET", url=url)
            number, offset = number + 1, offset + len(page)

    def _page(self, path, params, items_key, info_key, number):
        """``(items, info, where, url)`` of one page; ``info`` is {} when the API gives none."""
        response = self.get(path, query=params)
        self.stats["pages"] += 1
        url = self.display_url(self.url_for(path, params))
        where = "GET %s page %d" % (self.display_url(self.url_for(path), path_only=True), number)
        body = response.json
        items = body if items_key is None else (body.get(items_key) if isinstance(body, dict) else None)
        if not isinstance(items, list):
            raise PaginationError("%s: expected a list under %r" % (where, items_key), status=response.status,
                                  request_id=response.request_id, method="GET", url=url)
        info = body.get(info_key) if info_key and isinstance(body, dict) else None
        return items, info if isinstance(info, dict) else {}, where, url

    def list_all(self, path, **kwargs):
        return list(self.paginate(path, **kwargs))
