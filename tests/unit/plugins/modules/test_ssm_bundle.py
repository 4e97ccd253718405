"""ssm_bundle: validation before any API call, reading, planning (desired vs current -> writes, deletes,
tag changes, diff) and applying, table-driven, without AWS."""

from __future__ import annotations

import copy
import json

import botocore.exceptions
import pytest

# builds on amazon.aws: scripts/test.sh puts .venv/collections (the dependency collections) on PYTHONPATH
from ansible_collections.m8trx.deployer.plugins.modules import ssm_bundle

PATH = "/m8trx/acme/"
SECRET = "s3cret-value-never-shown"


def params(**kw):
    base = dict(path=PATH, parameters=[], key_id=None, tags=None, purge_tags=True, purge=False, recursive=False, state="present")
    base.update(kw)
    return base


def item(name, value=SECRET, **kw):
    base = dict(name=name, value=value, type="SecureString", key_id=None, description=None, tags=None, overwrite=True)
    base.update(kw)
    return base


def want(value=SECRET, type="SecureString", key_id="alias/aws/ssm", description=None, tags=None):
    return dict(value=value, type=type, key_id=key_id if type == "SecureString" else None, description=description, tags=tags)


def have(value=SECRET, type="SecureString", key_id="alias/aws/ssm", description=None, version=1, tags=None):
    cur = dict(value=value, type=type, key_id=key_id if type == "SecureString" else None, description=description, version=version)
    if tags is not None:
        cur["tags"] = tags
    return cur


# --- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, expected", [
    (dict(parameters=[item("brain-key")]), {"brain-key": want()}),
    (dict(parameters=[item("brain-url", "https://b", type="String")]), {"brain-url": want("https://b", type="String")}),
    (dict(key_id="alias/k", parameters=[item("a"), item("b", key_id="alias/own"), item("c", "x", type="String")]),
     {"a": want(key_id="alias/k"), "b": want(key_id="alias/own"), "c": want("x", type="String")}),
    (dict(tags={"Customer": "acme", "n": 1}, parameters=[item("a", tags={"n": 2}), item("b")]),
     {"a": want(tags={"Customer": "acme", "n": "2"}), "b": want(tags={"Customer": "acme", "n": "1"})}),
    (dict(recursive=True, parameters=[item("db/password")]), {"db/password": want()}),
    (dict(parameters=[item("x.y_z-1", description="d")]), {"x.y_z-1": want(description="d")}),
    (dict(state="absent", parameters=[item("a", None), item("a", None)]), {}),
    (dict(path="/a/"), {}),
])
def test_valid_input_gives_the_desired_state(kw, expected):
    desired, error = ssm_bundle.validate(params(**kw))
    assert error is None and all(spec.pop("overwrite") is True for spec in desired.values())
    assert desired == expected


@pytest.mark.parametrize("kw, fragment", [
    (dict(path="m8trx/acme/"), "must start and end with '/'"),
    (dict(path="/m8trx/acme"), "must start and end with '/'"),
    (dict(path="/"), "at least one level"),
    (dict(path="/m8trx//acme/"), "path '/m8trx//acme/' is not valid"),
    (dict(path="/m8trx/ac me/"), "is not valid"),
    (dict(path="/aws/acme/"), "reserves names beginning with 'aws' or 'ssm'"),
    (dict(path="/SSM/"), "reserves"),
    (dict(parameters=[item("a b")]), "parameter name 'a b' is not valid"),
    (dict(parameters=[item("db/password")]), "('/' only with recursive=true)"),
    (dict(recursive=True, parameters=[item("db//password")]), "parameter name 'db//password' is not valid"),
    (dict(parameters=[item("a"), item("a")]), "parameter 'a' is listed twice"),
    (dict(parameters=[item("a", None)]), "parameter 'a' needs a value of 1 to 4096 bytes"),
    (dict(parameters=[item("a", "")]), "needs a value"),
    (dict(parameters=[item("a", "é" * 2049)]), "needs a value of 1 to 4096 bytes"),
    (dict(parameters=[item("a", type="String", key_id="alias/k")]), "key_id is only for SecureString"),
    (dict(parameters=[item("n" * 1000)]), "too long"),
    (dict(recursive=True, parameters=[item("/".join("abcdefghijklmn"))]), "15 levels"),
])
def test_invalid_input_says_what_to_fix(kw, fragment):
    desired, error = ssm_bundle.validate(params(**kw))
    assert desired is None
    assert fragment in error
    assert SECRET not in error


# --- reading ---------------------------------------------------------------------------------------

def test_current_merges_values_metadata_and_tags():
    by_path = [dict(Name=PATH + "a", Type="SecureString", Value="va", Version=3),
               dict(Name=PATH + "new", Type="String", Value="vn", Version=1)]
    described = [dict(Name=PATH + "a", Type="SecureString", KeyId="alias/k", Description="d", Version=3),
                 dict(Name=PATH + "b", Type="String", Version=2)]
    tags = {"a": {"Customer": "acme", "aws:cloudformation:stack-name": "s"}, "gone": {"x": "y"}}
    assert ssm_bundle.current_from(PATH, by_path, described, tags) == {
        "a": dict(value="va", type="SecureString", key_id="alias/k", description="d", version=3, tags={"Customer": "acme"}),
        "b": dict(value=None, type="String", key_id=None, description=None, version=2),
        "new": dict(value="vn", type="String", key_id=None, description=None, version=1),
    }


# --- planning --------------------------------------------------------------------------------------

NOOP = dict(operation=None, put=False, add_tags={}, remove_tags=[])
PUT = dict(operation="update", put=True, add_tags={}, remove_tags=[])


@pytest.mark.parametrize("desired, current, options, expected", [
    # create / no-op
    ({"a": want()}, {}, {}, {"a": dict(operation="create", put=True, add_tags={}, remove_tags=[])}),
    ({"a": want(tags={"t": "1"})}, {}, {}, {"a": dict(operation="create", put=True, add_tags={}, remove_tags=[])}),
    ({"a": want()}, {"a": have(version=7)}, {}, {"a": NOOP}),
    # each written attribute
    ({"a": want("new")}, {"a": have("old")}, {}, {"a": PUT}),
    ({"a": want(type="String")}, {"a": have()}, {}, {"a": PUT}),
    ({"a": want(key_id="alias/k")}, {"a": have()}, {}, {"a": PUT}),
    ({"a": want(description="d")}, {"a": have(description="old")}, {}, {"a": PUT}),
    ({"a": want()}, {"a": have(value=None)}, {}, {"a": PUT}),          # value unreadable -> rewrite
    # description not set = not managed
    ({"a": want(description=None)}, {"a": have(description="kept")}, {}, {"a": NOOP}),
    # tags: only tag calls, purge_tags, aws:* never purged (current_from drops them)
    ({"a": want(tags={"t": "2", "u": "1"})}, {"a": have(tags={"t": "1", "old": "x"})}, {},
     {"a": dict(operation="update", put=False, add_tags={"t": "2", "u": "1"}, remove_tags=["old"])}),
    ({"a": want(tags={"t": "1"})}, {"a": have(tags={"t": "1", "old": "x"})}, {"purge_tags": False}, {"a": NOOP}),
    ({"a": want(tags={"t": "2"})}, {"a": have(tags={"t": "1", "old": "x"})}, {"purge_tags": False},
     {"a": dict(operation="update", put=False, add_tags={"t": "2"}, remove_tags=[])}),
    ({"a": want(tags={})}, {"a": have(tags={"old": "x"})}, {},
     {"a": dict(operation="update", put=False, add_tags={}, remove_tags=["old"])}),
    ({"a": want(tags=None)}, {"a": have(tags={"old": "x"})}, {}, {"a": NOOP}),
    ({"a": want("new", tags={"t": "1"})}, {"a": have(tags={})}, {},
     {"a": dict(operation="update", put=True, add_tags={"t": "1"}, remove_tags=[])}),
    # unlisted parameters: kept, purged, or all deleted with state=absent
    ({"a": want()}, {"a": have(), "x": have()}, {}, {"a": NOOP}),
    ({"a": want()}, {"a": have(), "x": have()}, {"purge": True},
     {"a": NOOP, "x": dict(operation="delete", put=False, add_tags={}, remove_tags=[])}),
    ({}, {"a": have(), "x": have()}, {"state": "absent"},
     {"a": dict(operation="delete", put=False, add_tags={}, remove_tags=[]),
      "x": dict(operation="delete", put=False, add_tags={}, remove_tags=[])}),
    ({}, {}, {"state": "absent"}, {}),
])
def test_plan(desired, current, options, expected):
    actions = ssm_bundle.plan(desired, current, **options)
    assert dict((n, dict((k, a[k]) for k in ("operation", "put", "add_tags", "remove_tags"))) for n, a in actions.items()) == expected


@pytest.mark.parametrize("matches, expected", [(True, NOOP), (False, PUT)])
def test_a_key_spelled_differently_is_resolved_before_rewriting(matches, expected):
    asked = []

    def same_key(a, b):
        asked.append((a, b))
        return matches

    actions = ssm_bundle.plan({"a": want(key_id="alias/k")}, {"a": have(key_id="arn:aws:kms:us-east-2:1:key/k")}, same_key=same_key)
    assert dict((k, actions["a"][k]) for k in expected) == expected
    assert asked == [("arn:aws:kms:us-east-2:1:key/k", "alias/k")]


def test_same_spelling_never_asks_kms():
    def same_key(a, b):
        raise AssertionError("DescribeKey must not be needed")
    assert ssm_bundle.plan({"a": want()}, {"a": have()}, same_key=same_key)["a"]["operation"] is None


@pytest.mark.parametrize("desired, current, before, after", [
    ({"a": want()}, {}, None, dict(value="[redacted]", type="SecureString", key_id="alias/aws/ssm")),
    ({"a": want("new")}, {"a": have("old")}, dict(value="[redacted]", type="SecureString", key_id="alias/aws/ssm"),
     dict(value="[redacted:changed]", type="SecureString", key_id="alias/aws/ssm")),
    ({"a": want(type="String")}, {"a": have()}, dict(value="[redacted]", type="SecureString", key_id="alias/aws/ssm"),
     dict(value="[redacted]", type="String", key_id="alias/aws/ssm")),
    ({}, {"a": have()}, dict(value="[redacted]", type="SecureString", key_id="alias/aws/ssm"), None),
])
def test_diff_shows_that_a_value_changes_never_the_value(desired, current, before, after):
    action = ssm_bundle.plan(desired, current, state="present" if desired else "absent")["a"]
    assert (action["before"], action["after"]) == (before, after)
    assert SECRET not in json.dumps(action) and "old" not in json.dumps(action) and "new" not in json.dumps(action)


def test_summary_predicts_versions_and_deletions_without_values():
    desired = {"a": want("new"), "b": want("x", type="String"), "c": want()}
    current = {"a": have("old", version=4), "b": have("x", type="String", version=2), "z": have(version=9)}
    result = ssm_bundle.summary(PATH, desired, current, ssm_bundle.plan(desired, current, purge=True))
    assert result["changed"] and result["operation"] == "update"
    assert result["parameters"] == {
        "a": dict(name=PATH + "a", type="SecureString", key_id="alias/aws/ssm", version=5, changed=True, present=True),
        "b": dict(name=PATH + "b", type="String", version=2, changed=False, present=True),
        "c": dict(name=PATH + "c", type="SecureString", key_id="alias/aws/ssm", version=1, changed=True, present=True),
    }
    assert result["deleted"] == [PATH + "z"]
    assert set(result["diff"]["before"]) == {"a", "b", "z"} and set(result["diff"]["after"]) == {"a", "b", "c"}
    assert SECRET not in json.dumps(result) and "old" not in json.dumps(result) and "new" not in json.dumps(result)


@pytest.mark.parametrize("desired, current, state, operation", [
    ({"a": want()}, {}, "present", "create"),
    ({"a": want("n")}, {"a": have()}, "present", "update"),
    ({}, {"a": have()}, "absent", "delete"),
    ({"a": want()}, {"a": have()}, "present", None),
])
def test_summary_operation(desired, current, state, operation):
    result = ssm_bundle.summary(PATH, desired, current, ssm_bundle.plan(desired, current, state=state))
    assert result.get("operation") == operation and result["changed"] == bool(operation)


# --- applying --------------------------------------------------------------------------------------

class FakeSSM:
    """Records calls; ``errors`` is a list of (operation, error code) raised once each, in order."""

    def __init__(self, errors=()):
        self.calls, self.errors = [], list(errors)

    def __getattr__(self, operation):
        def call(aws_retry=False, **kwargs):
            assert aws_retry, "every call goes through AWSRetry"
            self.calls.append((operation, copy.deepcopy(kwargs)))
            if self.errors and self.errors[0][0] == operation:
                raise botocore.exceptions.ClientError({"Error": {"Code": self.errors.pop(0)[1], "Message": "x"}}, operation)
            return {"Version": 42} if operation == "put_parameter" else {}
        return call


def run_apply(desired, current, errors=(), **options):
    ssm = FakeSSM(errors)
    actions = ssm_bundle.plan(desired, current, **options)
    result = ssm_bundle.summary(PATH, desired, current, actions)
    result["changed"] = False
    ssm_bundle.apply(ssm, PATH, desired, current, actions, result)
    return ssm.calls, result


def test_apply_writes_only_what_differs():
    desired = {"same": want(), "value": want("new", description="d"), "tags": want(tags={"t": "2"}),
               "created": want("c", type="String", tags={"t": "1"}), "plain": want("p", key_id="alias/k")}
    current = {"same": have(), "value": have("old", description="d", version=3), "tags": have(tags={"t": "1", "o": "x"}),
               "plain": have("p", key_id="alias/k", description="kept")}
    calls, result = run_apply(desired, current)
    assert calls == [
        ("put_parameter", dict(Name=PATH + "created", Value="c", Type="String", Tier="Standard", Tags=[{"Key": "t", "Value": "1"}])),
        ("add_tags_to_resource", dict(ResourceType="Parameter", ResourceId=PATH + "tags", Tags=[{"Key": "t", "Value": "2"}])),
        ("remove_tags_from_resource", dict(ResourceType="Parameter", ResourceId=PATH + "tags", TagKeys=["o"])),
        ("put_parameter", dict(Name=PATH + "value", Value="new", Type="SecureString", Tier="Standard", KeyId="alias/aws/ssm",
                               Description="d", Overwrite=True)),
    ]
    assert result["changed"] and result["parameters"]["value"]["version"] == 42 and result["parameters"]["same"]["version"] == 1


def test_apply_keeps_an_unmanaged_description_on_rewrite_and_creates_by_overwriting():
    calls = run_apply({"a": want("new"), "b": want("b")}, {"a": have("old", description="kept")})[0]
    assert calls == [
        ("put_parameter", dict(Name=PATH + "a", Value="new", Type="SecureString", Tier="Standard", KeyId="alias/aws/ssm",
                               Description="kept", Overwrite=True)),
        ("put_parameter", dict(Name=PATH + "b", Value="b", Type="SecureString", Tier="Standard", KeyId="alias/aws/ssm",
                               Overwrite=True)),
    ]


def test_apply_deletes_in_batches_of_ten():
    current = dict(("p%02d" % i, have()) for i in range(23))
    calls, result = run_apply({}, current, state="absent")
    assert [len(kw["Names"]) for op, kw in calls if op == "delete_parameters"] == [10, 10, 3]
    assert [op for op, kw in calls] == ["delete_parameters"] * 3
    assert result["changed"] and len(result["deleted"]) == 23


def test_apply_without_changes_calls_nothing():
    calls, result = run_apply({"a": want(tags={"t": "1"})}, {"a": have(tags={"t": "1"})})
    assert calls == [] and result["changed"] is False


def test_a_tagged_create_that_finds_the_parameter_there_converges():
    calls, result = run_apply({"a": want(tags={"t": "1"})}, {}, errors=[("put_parameter", "ParameterAlreadyExists")])
    assert calls == [
        ("put_parameter", dict(Name=PATH + "a", Value=SECRET, Type="SecureString", Tier="Standard", KeyId="alias/aws/ssm",
                               Tags=[{"Key": "t", "Value": "1"}])),
        ("add_tags_to_resource", dict(ResourceType="Parameter", ResourceId=PATH + "a", Tags=[{"Key": "t", "Value": "1"}])),
        ("put_parameter", dict(Name=PATH + "a", Value=SECRET, Type="SecureString", Tier="Standard", KeyId="alias/aws/ssm",
                               Overwrite=True)),
    ]
    assert result["parameters"]["a"]["version"] == 42


def test_other_write_errors_propagate():
    with pytest.raises(botocore.exceptions.ClientError):
        run_apply({"a": want()}, {}, errors=[("put_parameter", "AccessDeniedException")])


def test_overwrite_false_keeps_a_stored_value_and_observes_a_missing_one():
    desired, error = ssm_bundle.validate(params(parameters=[
        item("password", "generated-now", overwrite=False), item("brain-key", None, overwrite=False),
        item("fresh", "first-value", overwrite=False), item("url", "https://b", type="String")]))
    assert error is None
    current = {"password": have("stored-long-ago", version=3), "url": have("https://a", type="String", version=1)}
    current["old-key"] = have("stored")
    desired["old-key"] = dict(desired["brain-key"])
    kept, observed = ssm_bundle.keep_stored(desired, current)
    assert observed == {"brain-key": False, "old-key": True} and "brain-key" not in kept and "old-key" not in kept
    assert kept["password"]["value"] == "stored-long-ago" and kept["fresh"]["value"] == "first-value"
    actions = ssm_bundle.plan(kept, dict((n, c) for n, c in current.items() if n not in observed), purge=True)
    assert "old-key" not in actions, "an observed parameter is never purged"
    assert actions["password"]["operation"] is None and actions["fresh"]["operation"] == "create"
    assert actions["url"]["operation"] == "update"


def test_a_value_is_required_unless_overwrite_is_false():
    assert ssm_bundle.validate(params(parameters=[item("a", None)]))[1] == \
        "parameter 'a' needs a value of 1 to 4096 bytes (state=present)"
    assert ssm_bundle.validate(params(parameters=[item("a", None, overwrite=False)]))[1] is None


# --- KMS errors, through main() against botocore's Stubber -------------------------------------------
# SSM wraps a KMS failure behind a SecureString in its own code (InvalidKeyId, or AccessDeniedException)
# and names KMS's code in the message, as real AWS answers show; only IncorrectKeyException says that the
# value is encrypted under a different key. DescribeKey answers two different ARNs for two different keys.

STORED = "stored-value-never-shown"
ARN_K1 = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ARN_K2 = "arn:aws:kms:us-east-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"


def kms_wrapped(kms_code, text="arn:aws:kms:us-east-2:111122223333:key/1234abcd is disabled."):
    """An SSM error message carrying KMS's code the way SSM reports it."""
    return "%s (Service: AWSKMS; Status Code: 400; Error Code: %s; Request ID: 5f642215; Proxy: null)" % (text, kms_code)


class AWS:
    """ssm and kms clients wrapped the way module.client(retry_decorator=...) wraps them, with their Stubbers."""

    def __init__(self):
        import boto3
        from botocore.stub import Stubber
        self.raw = dict((s, boto3.client(s, region_name="us-east-2", aws_access_key_id="testing", aws_secret_access_key="testing"))
                        for s in ("ssm", "kms"))
        self.stub = dict((s, Stubber(c)) for s, c in self.raw.items())

    def reads(self, *params, error=None):
        """GetParametersByPath (decrypted): params are (name, type, value) or an error (code, message)."""
        request = dict(Path=PATH, Recursive=False, WithDecryption=True)
        if error:
            self.stub["ssm"].add_client_error("get_parameters_by_path", error[0], error[1], expected_params=request)
        else:
            self.stub["ssm"].add_response("get_parameters_by_path", {"Parameters": [
                dict(Name=PATH + n, Type=t, Value=v, Version=1) for n, t, v in params]}, request)
        return self

    def describes(self, *params):
        """DescribeParameters: params are (name, type, key id)."""
        self.stub["ssm"].add_response("describe_parameters", {"Parameters": [
            dict(Name=PATH + n, Type=t, Version=1, **({"KeyId": k} if k else {})) for n, t, k in params]},
            dict(ParameterFilters=[dict(Key="Path", Option="OneLevel", Values=[PATH.rstrip("/")])]))
        return self

    def gets(self, name, type="SecureString", value=STORED, error=None):
        request = dict(Name=PATH + name, WithDecryption=True)
        if error:
            self.stub["ssm"].add_client_error("get_parameter", error[0], error[1], expected_params=request)
        else:
            self.stub["ssm"].add_response("get_parameter", {"Parameter": dict(Name=PATH + name, Type=type, Value=value, Version=1)},
                                          request)
        return self

    def key(self, key_id, arn=ARN_K1, error=None, state="Enabled"):
        if error:
            self.stub["kms"].add_client_error("describe_key", error[0], error[1], expected_params=dict(KeyId=key_id))
        else:
            self.stub["kms"].add_response("describe_key", {"KeyMetadata": dict(KeyId=arn.split("/")[-1], Arn=arn, KeyState=state,
                                                                               Enabled=state == "Enabled")}, dict(KeyId=key_id))
        return self

    def puts(self, name, value=SECRET, key_id="alias/m8trx-acme", error=None):
        request = dict(Name=PATH + name, Value=value, Type="SecureString", Tier="Standard", KeyId=key_id, Overwrite=True)
        if error:
            self.stub["ssm"].add_client_error("put_parameter", error[0], error[1], expected_params=request)
        else:
            self.stub["ssm"].add_response("put_parameter", {"Version": 2, "Tier": "Standard"}, request)
        return self

    def run(self, monkeypatch, capsys, **args):
        """main() with these clients; returns (result, output as printed)."""
        from ansible.module_utils.testing import patch_module_args
        from ansible_collections.amazon.aws.plugins.module_utils import cloud
        from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

        def client(module, service, retry_decorator=None, **kw):
            return RetryingBotoClientWrapper(self.raw[service], retry_decorator) if retry_decorator else self.raw[service]

        monkeypatch.setattr(ssm_bundle.AnsibleAWSModule, "client", client)
        monkeypatch.setattr(cloud.time, "sleep", lambda seconds: None)
        base = dict(path=PATH, key_id="alias/m8trx-acme", parameters=[dict(name="brain-key", value=SECRET)], region="us-east-2",
                    access_key="testing", secret_key="testing")
        base.update(args)
        with self.stub["ssm"], self.stub["kms"], patch_module_args(base), pytest.raises(SystemExit):
            ssm_bundle.main()
        out = capsys.readouterr().out
        pending = [(s, c["operation_name"]) for s, stub in self.stub.items() for c in stub._queue]
        assert not pending, "calls expected but not made: %s; the module returned %s" % (pending, out)
        return json.loads(out), out


def assert_says(result, out, *fragments):
    """A failure whose message names every fragment and shows no value (not even masked)."""
    assert result.get("failed"), result
    for fragment in fragments:
        assert fragment in result["msg"], (fragment, result["msg"])
    assert SECRET not in out and STORED not in out and "********" not in result["msg"]


@pytest.mark.parametrize("code, aws_text, fix", [
    ("DisabledException", "arn:aws:kms:us-east-2:111122223333:key/1234abcd is disabled.", "enable"),
    ("KMSInvalidStateException", "arn:aws:kms:us-east-2:111122223333:key/1234abcd is pending deletion.", "cancel"),
    ("NotFoundException", "Key 'arn:aws:kms:us-east-2:111122223333:key/1234abcd' does not exist", "create"),
    ("InvalidCiphertextException", "", "cannot be decrypted"),
    ("KeyUnavailableException", "", "custom key store"),
])
def test_a_stored_value_kms_cannot_decrypt_fails_naming_parameter_key_and_code(monkeypatch, capsys, code, aws_text, fix):
    aws = (AWS().reads(error=("InvalidKeyId", kms_wrapped(code, aws_text)))
           .describes(("brain-url", "String", None), ("brain-key", "SecureString", "alias/m8trx-acme"))
           .gets("brain-url", "String", "https://b")
           .gets("brain-key", error=("InvalidKeyId", kms_wrapped(code, aws_text))))
    result, out = aws.run(monkeypatch, capsys)
    assert_says(result, out, PATH + "brain-key", "alias/m8trx-acme", code, fix, "decrypt")
    assert result["changed"] is False


def test_kms_access_denied_on_read_fails_naming_what_to_allow(monkeypatch, capsys):
    denied = ("AccessDeniedException", kms_wrapped("AccessDeniedException", "The ciphertext refers to a customer master key that "
                                                   "does not exist, does not exist in this region, or you are not allowed to access."))
    aws = AWS().reads(error=denied).describes(("brain-key", "SecureString", "alias/m8trx-acme")).gets("brain-key", error=denied)
    result, out = aws.run(monkeypatch, capsys)
    assert_says(result, out, PATH + "brain-key", "alias/m8trx-acme", "AccessDeniedException", "kms:Decrypt")


def test_ssm_access_denied_is_not_a_kms_error(monkeypatch, capsys):
    aws = AWS().reads(error=("AccessDeniedException", "User: arn:aws:iam::111122223333:user/ci is not authorized to perform: "
                                                      "ssm:GetParametersByPath on resource: arn:aws:ssm:us-east-2:111122223333:parameter/m8trx/acme"))
    result, out = aws.run(monkeypatch, capsys)
    assert_says(result, out, "could not read the parameters under " + PATH, "ssm:GetParametersByPath")


@pytest.mark.parametrize("code", ["AccessDeniedException", "NotFoundException", "InvalidArnException"])
def test_describe_key_errors_fail_instead_of_meaning_a_different_key(monkeypatch, capsys, code):
    """Before: any DescribeKey error made the keys 'different' and the value was rewritten."""
    aws = (AWS().reads(("brain-key", "SecureString", STORED)).describes(("brain-key", "SecureString", ARN_K1))
           .key(ARN_K1).key("alias/m8trx-acme", error=(code, "DescribeKey refused alias/m8trx-acme")))
    result, out = aws.run(monkeypatch, capsys)
    assert_says(result, out, PATH + "brain-key", "alias/m8trx-acme", code)
    assert result["changed"] is False


def test_a_disabled_key_fails_the_write_naming_parameter_key_and_code(monkeypatch, capsys):
    aws = (AWS().reads().describes()
           .puts("brain-key", error=("InvalidKeyId", kms_wrapped("DisabledException"))))
    result, out = aws.run(monkeypatch, capsys)
    assert_says(result, out, PATH + "brain-key", "alias/m8trx-acme", "DisabledException", "enable", "encrypt")


def test_a_different_key_is_rewritten_under_the_wanted_key(monkeypatch, capsys):
    aws = (AWS().reads(("brain-key", "SecureString", SECRET)).describes(("brain-key", "SecureString", ARN_K2))
           .key(ARN_K2, ARN_K2).key("alias/m8trx-acme", ARN_K1).puts("brain-key"))
    result, out = aws.run(monkeypatch, capsys)
    assert result["changed"] and result["parameters"]["brain-key"]["version"] == 2 and not result.get("failed")


def test_the_same_key_spelled_differently_is_no_change(monkeypatch, capsys):
    aws = (AWS().reads(("brain-key", "SecureString", SECRET)).describes(("brain-key", "SecureString", ARN_K1))
           .key(ARN_K1).key("alias/m8trx-acme"))
    result, out = aws.run(monkeypatch, capsys)
    assert result["changed"] is False and not result.get("failed")


def test_a_value_encrypted_under_a_different_key_is_rewritten(monkeypatch, capsys):
    """IncorrectKeyException, the one KMS error that means 'a different key': the stored value is unreadable under the key
    SSM has for it, so it is rewritten under the wanted key; the other parameters are read one by one."""
    wrong = ("InvalidKeyId", kms_wrapped("IncorrectKeyException", "The key cannot decrypt the data."))
    aws = (AWS().reads(error=wrong)
           .describes(("brain-key", "SecureString", "alias/m8trx-acme"), ("brain-url", "String", None))
           .gets("brain-key", error=wrong).gets("brain-url", "String", "https://b")
           .puts("brain-key"))
    result, out = aws.run(monkeypatch, capsys, parameters=[dict(name="brain-key", value=SECRET),
                                                           dict(name="brain-url", value="https://b", type="String")])
    assert not result.get("failed"), result
    assert result["changed"] and result["parameters"]["brain-key"]["changed"] and not result["parameters"]["brain-url"]["changed"]
    assert SECRET not in out and STORED not in out


def test_throttling_is_retried(monkeypatch, capsys):
    throttled = ("ThrottlingException", "Rate exceeded")
    aws = AWS().reads(error=throttled).reads(("brain-key", "SecureString", SECRET)).describes(("brain-key", "SecureString", ARN_K1))
    aws.key(ARN_K1, error=throttled).key(ARN_K1).key("alias/m8trx-acme")
    result, out = aws.run(monkeypatch, capsys)
    assert result["changed"] is False and not result.get("failed"), result
