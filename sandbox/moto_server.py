"""moto's server with the sandbox's fidelity fixes, where moto differs from AWS in ways that break
well-behaved clients (each fix is small, named, and checked by tests/sandbox/test_moto_fidelity.py).

* KMS ScheduleKeyDeletion, CancelKeyDeletion, EnableKey, DisableKey and Encrypt accept a key ARN, as
  AWS does (moto 5.2.5 only takes a bare key id there and answers 500, which breaks
  amazon.aws.kms_key state=absent, and re-creating a customer whose key is pending deletion).

Like the emulators, it also keeps a request log: ``GET /_emulator/requests`` lists
``[{method, service, path, time}]`` (the service from the request's SigV4 credential scope), and
``DELETE /_emulator/requests`` empties it; the benchmarks count AWS calls with it. ``GET
/_emulator/health`` answers at once whatever the size of moto's state (the launcher's liveness check).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time

from moto.kms.models import KmsBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
LOG, LOCK = [], threading.Lock()


def _accept_arn(method):
    def wrapper(self, key_id, *args, **kwargs):
        return method(self, self.get_key_id(key_id), *args, **kwargs)
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


def _logged(call):
    def wrapper(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_emulator/health":
            body = b'{"ok": true, "service": "moto"}'
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/_emulator/requests":
            with LOCK:
                body = json.dumps(LOG if environ["REQUEST_METHOD"] == "GET" else {"cleared": True}).encode()
                if environ["REQUEST_METHOD"] == "DELETE":
                    del LOG[:]
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        match = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if match:
            with LOCK:
                LOG.append({"method": environ["REQUEST_METHOD"], "service": match.group(1), "path": path, "time": time.time()})
        return call(self, environ, start_response)
    wrapper._m8trx_fixed = True
    return wrapper


def apply_fixes():
    if not getattr(DomainDispatcherApplication.__call__, "_m8trx_fixed", False):
        DomainDispatcherApplication.__call__ = _logged(DomainDispatcherApplication.__call__)
    for name in ("schedule_key_deletion", "cancel_key_deletion", "enable_key", "disable_key", "encrypt"):
        method = getattr(KmsBackend, name)
        if not getattr(method, "_m8trx_fixed", False):
            fixed = _accept_arn(method)
            fixed._m8trx_fixed = True
            setattr(KmsBackend, name, fixed)


if __name__ == "__main__":
    apply_fixes()
    sys.exit(main(sys.argv[1:]))
