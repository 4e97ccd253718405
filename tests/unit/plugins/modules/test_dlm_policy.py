"""dlm_policy: validation before any API call, then ensure() against a real botocore dlm client whose
answers come from botocore's Stubber (moto has no DLM backend): create, no-op, update (details, tags),
delete, absent when missing, check mode, identity by description + target tags. The Stubber checks every
request against the DLM API model and fails on any call not expected, so "no write" is proven, not assumed."""

from __future__ import annotations

import copy

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

# builds on amazon.aws: scripts/test.sh puts .venv/collections (the dependency collections) on PYTHONPATH
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.m8trx.deployer.plugins.modules import dlm_policy

ROLE = "arn:aws:iam::123456789012:role/m8trx-dlm"
DESCRIPTION = "m8trx acme daily snapshots"
TARGET = {"Customer": "acme-agent"}
PID = "policy-0123456789abcdef0"
ARN = "arn:aws:dlm:us-east-2:123456789012:policy/" + PID


def params(**kw):
    base = dict(description=DESCRIPTION, target_tags=dict(TARGET), execution_role_arn=ROLE, interval_hours=24, times=["03:00"],
                retain_count=14, copy_tags=True, tags=None, purge_tags=True, state="present")
    base.update(kw)
    return base


def details(interval=24, times=("03:00",), count=14, copy_tags=True, target=None, resource_types=("INSTANCE",)):
    """PolicyDetails as the module sends them."""
    return dict(PolicyType="EBS_SNAPSHOT_MANAGEMENT", ResourceTypes=list(resource_types),
                Schedules=[dict(Name="every %dh keep %d" % (interval, count), CopyTags=copy_tags,
                                CreateRule=dict(Interval=interval, IntervalUnit="HOURS", Times=list(times)),
                                RetainRule=dict(Count=count))],
                TargetTags=[dict(Key=k, Value=v) for k, v in sorted((target or TARGET).items())])


def aws_policy(tags=None, description=DESCRIPTION, state="ENABLED", **kw):
    """GetLifecyclePolicy's Policy, with the defaults AWS adds (ResourceLocations, Location, RetainRule.Interval, ...)."""
    pd = details(**kw)
    pd.update(ResourceLocations=["CLOUD"], PolicyLanguage="STANDARD")
    pd["Schedules"][0]["Name"] = "named by someone else"
    pd["Schedules"][0]["CreateRule"]["Location"] = "CLOUD"
    pd["Schedules"][0]["RetainRule"]["Interval"] = 0
    return dict(PolicyId=PID, PolicyArn=ARN, Description=description, State=state, StatusMessage="ENABLED", ExecutionRoleArn=ROLE,
                PolicyDetails=pd, Tags=dict(tags or {}, **{"aws:cloudformation:stack-name": "kept"}))


def summary(policy_id=PID, description=DESCRIPTION):
    return dict(PolicyId=policy_id, Description=description, State="ENABLED", PolicyType="EBS_SNAPSHOT_MANAGEMENT")


class Stubbed:
    """A dlm client wrapped the way module.client(retry_decorator=...) wraps it, and its Stubber."""

    def __init__(self):
        self.raw = boto3.client("dlm", region_name="us-east-2", aws_access_key_id="testing", aws_secret_access_key="testing")
        self.stub = Stubber(self.raw)
        self.client = RetryingBotoClientWrapper(self.raw, AWSRetry.jittered_backoff(retries=2))

    def lists(self, *summaries, target=None):
        self.stub.add_response("get_lifecycle_policies", {"Policies": list(summaries)},
                               {"TargetTags": ["%s=%s" % kv for kv in sorted((target or TARGET).items())]})
        return self

    def gets(self, policy):
        self.stub.add_response("get_lifecycle_policy", {"Policy": policy}, {"PolicyId": policy["PolicyId"]})
        return self

    def run(self, check_mode=False, **kw):
        p = params(**kw)
        desired, error = dlm_policy.validate(p)
        assert error is None
        with self.stub:
            result = dlm_policy.ensure(self.client, p, desired, check_mode)
            self.stub.assert_no_pending_responses()
        return result


# --- validation ------------------------------------------------------------------------------------

def test_valid_input_gives_the_desired_state():
    desired, error = dlm_policy.validate(params(target_tags={"Backup": True}, tags={"n": 1}, times=["23:59"]))
    assert error is None
    assert desired == dict(description=DESCRIPTION, target_tags={"Backup": "True"}, execution_role_arn=ROLE, resource_types=["INSTANCE"],
                           interval_hours=24, times=["23:59"], retain_count=14, copy_tags=True, tags={"n": "1"})
    assert dlm_policy.validate(params(state="absent", execution_role_arn=None, times=[]))[0] == dict(description=DESCRIPTION,
                                                                                                     target_tags=TARGET)


@pytest.mark.parametrize("kw, fragment", [
    (dict(description="acme: daily"), "description 'acme: daily' is not valid"),
    (dict(description=""), "1 to 500 letters"),
    (dict(description="x" * 501, state="absent"), "is not valid"),
    (dict(target_tags={}), "target_tags needs 1 to 50 tags"),
    (dict(target_tags=dict(("k%d" % i, "v") for i in range(51)), state="absent"), "target_tags needs 1 to 50 tags"),
    (dict(execution_role_arn=None), "state=present needs execution_role_arn"),
    (dict(execution_role_arn="m8trx-dlm"), "an IAM role ARN (arn:aws:iam::<account>:role/<name>), not 'm8trx-dlm'"),
    (dict(execution_role_arn="arn:aws:iam::123456789012:user/x"), "needs execution_role_arn, an IAM role ARN"),
    (dict(times=["3:00"]), "times must hold exactly one UTC time as hh:mm"),
    (dict(times=["24:00"]), "exactly one UTC time"),
    (dict(times=["03:00", "15:00"]), "exactly one UTC time"),
    (dict(times=[]), "exactly one UTC time"),
    (dict(retain_count=0), "retain_count must be 1 to 1000, not 0"),
    (dict(retain_count=1001), "retain_count must be 1 to 1000"),
])
def test_invalid_input_says_what_to_fix(kw, fragment):
    desired, error = dlm_policy.validate(params(**kw))
    assert desired is None
    assert fragment in error


# --- reading ---------------------------------------------------------------------------------------

def test_view_reads_the_managed_fields_and_drops_aws_defaults():
    assert dlm_policy.view(aws_policy(tags={"Customer": "acme"}, count=7, times=("04:30",), copy_tags=False)) == dict(
        policy_id=PID, policy_arn=ARN, state="ENABLED", description=DESCRIPTION, execution_role_arn=ROLE, target_tags=TARGET,
        resource_types=["INSTANCE"], interval_hours=24, times=["04:30"], retain_count=7, copy_tags=False, tags={"Customer": "acme"})


def test_a_policy_with_two_schedules_or_a_cron_does_not_look_like_ours():
    two = aws_policy()
    two["PolicyDetails"]["Schedules"].append(copy.deepcopy(two["PolicyDetails"]["Schedules"][0]))
    cron = aws_policy()
    cron["PolicyDetails"]["Schedules"][0]["CreateRule"] = dict(CronExpression="cron(0 3 * * ? *)")
    assert dlm_policy.view(two)["interval_hours"] is None and dlm_policy.view(two)["retain_count"] is None
    assert dlm_policy.view(cron)["interval_hours"] is None and dlm_policy.view(cron)["times"] is None


# --- ensure() with a stubbed client --------------------------------------------------------------

def test_create():
    s = Stubbed().lists()
    s.stub.add_response("create_lifecycle_policy", {"PolicyId": PID},
                        dict(ExecutionRoleArn=ROLE, Description=DESCRIPTION, State="ENABLED", PolicyDetails=details(),
                             Tags={"Customer": "acme"}))
    result = s.run(tags={"Customer": "acme"})
    assert result["changed"] and result["operation"] == "create"
    assert result["policy"] == dict(policy_id=PID, state="ENABLED", description=DESCRIPTION, execution_role_arn=ROLE, target_tags=TARGET,
                                    resource_types=["INSTANCE"], interval_hours=24, times=["03:00"], retain_count=14, copy_tags=True,
                                    tags={"Customer": "acme"})
    assert result["diff"]["before"] == {} and result["diff"]["after"]["retain_count"] == 14


def test_create_without_tags_sends_none():
    s = Stubbed().lists()
    s.stub.add_response("create_lifecycle_policy", {"PolicyId": PID},
                        dict(ExecutionRoleArn=ROLE, Description=DESCRIPTION, State="ENABLED",
                             PolicyDetails=details(interval=12, count=3, copy_tags=False)))
    result = s.run(interval_hours=12, retain_count=3, copy_tags=False)
    assert result["operation"] == "create" and "tags" not in result["policy"]


def test_create_in_check_mode_writes_nothing():
    result = Stubbed().lists().run(check_mode=True)
    assert result["changed"] and result["operation"] == "create"
    assert "policy_id" not in result["policy"] and result["policy"]["state"] == "ENABLED"


@pytest.mark.parametrize("check_mode", [False, True])
def test_no_change_when_it_matches(check_mode):
    other = summary("policy-other", "someone else's policy")
    result = Stubbed().lists(other, summary()).gets(aws_policy(tags={"Customer": "acme"})).run(check_mode, tags={"Customer": "acme"})
    assert result["changed"] is False and "operation" not in result
    assert result["policy"]["policy_id"] == PID and result["policy"]["policy_arn"] == ARN
    assert result["diff"]["before"] == result["diff"]["after"]


def test_unmanaged_tags_and_a_disabled_state_are_left_alone():
    result = Stubbed().lists(summary()).gets(aws_policy(tags={"Owner": "ops"}, state="DISABLED")).run()
    assert result["changed"] is False and result["policy"]["state"] == "DISABLED" and result["policy"]["tags"] == {"Owner": "ops"}


@pytest.mark.parametrize("kw, sent", [
    (dict(retain_count=7), dict(count=7)),
    (dict(times=["04:30"]), dict(times=("04:30",))),
    (dict(interval_hours=12), dict(interval=12)),
    (dict(copy_tags=False), dict(copy_tags=False)),
])
def test_update_details(kw, sent):
    s = Stubbed().lists(summary()).gets(aws_policy())
    s.stub.add_response("update_lifecycle_policy", {}, dict(PolicyId=PID, ExecutionRoleArn=ROLE, PolicyDetails=details(**sent)))
    result = s.run(**kw)
    assert result["changed"] and result["operation"] == "update"
    key = list(kw)[0]
    assert result["policy"][key] == kw[key] and result["policy"]["policy_id"] == PID
    assert result["diff"]["before"][key] != result["diff"]["after"][key]


def test_update_a_volume_policy_to_instances_and_a_new_role():
    s = Stubbed().lists(summary()).gets(aws_policy(resource_types=("VOLUME",)))
    role = "arn:aws:iam::123456789012:role/other"
    s.stub.add_response("update_lifecycle_policy", {}, dict(PolicyId=PID, ExecutionRoleArn=role, PolicyDetails=details()))
    result = s.run(execution_role_arn=role)
    assert result["operation"] == "update" and result["policy"]["resource_types"] == ["INSTANCE"]


def test_update_in_check_mode_writes_nothing():
    result = Stubbed().lists(summary()).gets(aws_policy()).run(check_mode=True, retain_count=30, tags={"t": "1"})
    assert result["changed"] and result["operation"] == "update"
    assert result["policy"]["retain_count"] == 30 and result["policy"]["tags"] == {"t": "1"}


def test_tags_only_change_tags_not_the_policy():
    s = Stubbed().lists(summary()).gets(aws_policy(tags={"Customer": "acme", "old": "x"}))
    s.stub.add_response("tag_resource", {}, dict(ResourceArn=ARN, Tags={"Tier": "gold"}))
    s.stub.add_response("untag_resource", {}, dict(ResourceArn=ARN, TagKeys=["old"]))
    result = s.run(tags={"Customer": "acme", "Tier": "gold"})
    assert result["operation"] == "update" and result["policy"]["tags"] == {"Customer": "acme", "Tier": "gold"}
    assert result["diff"]["before"]["tags"] == {"Customer": "acme", "old": "x"}


def test_tags_without_purge_only_add():
    s = Stubbed().lists(summary()).gets(aws_policy(tags={"old": "x"}))
    s.stub.add_response("tag_resource", {}, dict(ResourceArn=ARN, Tags={"Tier": "gold"}))
    result = s.run(tags={"Tier": "gold"}, purge_tags=False)
    assert result["operation"] == "update" and result["policy"]["tags"] == {"old": "x", "Tier": "gold"}


def test_same_description_other_target_tags_is_another_policy():
    s = Stubbed().lists(summary()).gets(aws_policy(target={"Customer": "acme-agent", "Extra": "1"}))
    s.stub.add_response("create_lifecycle_policy", {"PolicyId": "policy-new"},
                        dict(ExecutionRoleArn=ROLE, Description=DESCRIPTION, State="ENABLED", PolicyDetails=details()))
    assert s.run()["policy"]["policy_id"] == "policy-new"


def test_two_matching_policies_fail_and_name_both():
    second = dict(aws_policy(), PolicyId="policy-second")
    s = Stubbed().lists(summary(), summary("policy-second")).gets(aws_policy()).gets(second)
    with pytest.raises(dlm_policy.Failure) as failure:
        s.run()
    assert str(failure.value) == ("2 DLM policies (%s, policy-second) have the description %r and these target_tags: delete all but one"
                                  % (PID, DESCRIPTION))


def test_no_policies_reported_as_not_found_reads_as_none():
    s = Stubbed()
    s.stub.add_client_error("get_lifecycle_policies", "ResourceNotFoundException", http_status_code=404)
    result = s.run(check_mode=True, state="absent")
    assert result["changed"] is False


@pytest.mark.parametrize("check_mode", [False, True])
def test_delete(check_mode):
    s = Stubbed().lists(summary()).gets(aws_policy())
    if not check_mode:
        s.stub.add_response("delete_lifecycle_policy", {}, {"PolicyId": PID})
    result = s.run(check_mode, state="absent", execution_role_arn=None)
    assert result["changed"] and result["operation"] == "delete"
    assert result["policy"] == {} and result["diff"]["after"] == {} and result["diff"]["before"]["retain_count"] == 14


def test_delete_of_a_policy_gone_meanwhile_converges():
    s = Stubbed().lists(summary()).gets(aws_policy())
    s.stub.add_client_error("delete_lifecycle_policy", "ResourceNotFoundException", http_status_code=404)
    assert s.run(state="absent")["operation"] == "delete"


@pytest.mark.parametrize("check_mode", [False, True])
def test_absent_when_missing_is_no_change(check_mode):
    result = Stubbed().lists(summary("policy-other", "someone else's policy")).run(check_mode, state="absent")
    assert result["changed"] is False and "operation" not in result and result["policy"] == {}


def test_create_is_not_retried_even_on_a_retryable_error():
    """A retried create could make a second policy; a throttled one fails (one stubbed answer: a retry would hit the Stubber)."""
    s = Stubbed().lists()
    s.stub.add_client_error("create_lifecycle_policy", "Throttling", http_status_code=400)
    with pytest.raises(botocore.exceptions.ClientError) as error:
        s.run()
    assert error.value.response["Error"]["Code"] == "Throttling"


def test_reads_and_updates_are_retried():
    s = Stubbed()
    s.stub.add_client_error("get_lifecycle_policies", "Throttling", http_status_code=400)
    s.lists(summary()).gets(aws_policy())
    s.stub.add_client_error("update_lifecycle_policy", "Throttling", http_status_code=400)
    s.stub.add_response("update_lifecycle_policy", {}, dict(PolicyId=PID, ExecutionRoleArn=ROLE, PolicyDetails=details(count=7)))
    assert s.run(retain_count=7)["operation"] == "update"
