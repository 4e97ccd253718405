"""moto's server with the sandbox's fidelity fixes, where moto differs from AWS in ways that break
well-behaved clients (each fix is small, named, and checked by tests/sandbox/test_moto_fidelity.py).

* KMS ScheduleKeyDeletion / CancelKeyDeletion accept a key ARN, as AWS does (moto 5.2.5 only takes a
  bare key id and answers 500, which breaks amazon.aws.kms_key state=absent).
"""

from __future__ import annotations

import sys

from moto.kms.models import KmsBackend
from moto.server import main


def _accept_arn(method):
    def wrapper(self, key_id, *args, **kwargs):
        return method(self, self.get_key_id(key_id), *args, **kwargs)
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


def apply_fixes():
    for name in ("schedule_key_deletion", "cancel_key_deletion"):
        method = getattr(KmsBackend, name)
        if not getattr(method, "_m8trx_fixed", False):
            fixed = _accept_arn(method)
            fixed._m8trx_fixed = True
            setattr(KmsBackend, name, fixed)


if __name__ == "__main__":
    apply_fixes()
    sys.exit(main(sys.argv[1:]))
