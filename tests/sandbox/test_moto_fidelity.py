"""The sandbox's moto answers like AWS where plain moto does not (sandbox/moto_server.py)."""

from __future__ import annotations

import socket

import boto3
import pytest
from moto.server import ThreadedMotoServer

from sandbox import moto_server


@pytest.fixture(scope="module")
def kms():
    moto_server.apply_fixes()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield boto3.client("kms", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-2",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    server.stop()


def test_key_deletion_is_scheduled_and_cancelled_by_arn(kms):
    key = kms.create_key(Description="fidelity")["KeyMetadata"]
    scheduled = kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert scheduled["KeyId"] == key["Arn"] and kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_applying_the_fixes_twice_wraps_once():
    moto_server.apply_fixes()
    before = moto_server.KmsBackend.schedule_key_deletion
    moto_server.apply_fixes()
    assert moto_server.KmsBackend.schedule_key_deletion is before
