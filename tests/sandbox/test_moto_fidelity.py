"""The sandbox's moto answers like AWS where plain moto does not (sandbox/moto_server.py)."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from moto.server import ThreadedMotoServer

from sandbox import moto_server


@pytest.fixture(scope="module")
def server():
    moto_server.apply_fixes()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    yield "http://127.0.0.1:%d" % port
    moto.stop()


def client(url, service):
    return boto3.client(service, endpoint_url=url, region_name="us-east-2", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def kms(server):
    return client(server, "kms")


def test_the_request_log_counts_calls_per_service(server):
    import httpx
    httpx.delete(server + "/_emulator/requests").raise_for_status()
    client(server, "s3").list_buckets()
    client(server, "ec2").describe_vpcs()
    client(server, "ec2").describe_subnets()
    log = httpx.get(server + "/_emulator/requests").json()
    assert [entry["service"] for entry in log] == ["s3", "ec2", "ec2"]
    assert all("testing" not in json.dumps(entry) for entry in log)


def test_key_deletion_is_scheduled_and_cancelled_by_arn(kms):
    key = kms.create_key(Description="fidelity")["KeyMetadata"]
    scheduled = kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert scheduled["KeyId"] == key["Arn"] and kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")["KeyId"] == key["Arn"]
    kms.disable_key(KeyId=key["Arn"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_applying_the_fixes_twice_wraps_once():
    moto_server.apply_fixes()
    before = moto_server.KmsBackend.schedule_key_deletion
    moto_server.apply_fixes()
    assert moto_server.KmsBackend.schedule_key_deletion is before


def test_health_answers_without_touching_moto_state(server):
    import httpx
    response = httpx.get(server + "/_emulator/health")
    assert response.status_code == 200 and response.json() == {"ok": True, "service": "moto"}
