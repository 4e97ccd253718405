"""vpc_flow_logs: validation before any API call, then ensure() against a real botocore ec2 client answered by
botocore's Stubber (the integration target proves it against moto): create, no-op, tags in place, replace,
delete, check mode. The Stubber fails on any call not expected, so "no write" is proven."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

# builds on amazon.aws: scripts/test.sh puts .venv/collections (the dependency collections) on PYTHONPATH
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.m8trx.deployer.plugins.modules import vpc_flow_logs

VPC = "vpc-0a1b2c3d4e5f67890"
ROLE = "arn:aws:iam::123456789012:role/flow"
GROUP = "/m8trx/acme/flow"
FL = "fl-0123456789abcdef0"


def params(**kw):
    base = dict(vpc_id=VPC, log_group_name=GROUP, deliver_logs_permission_arn=ROLE, traffic_type="ALL", max_aggregation_interval=60,
                tags=None, purge_tags=True, state="present")
    base.update(kw)
    return base


def aws_flow_log(flow_log_id=FL, group=GROUP, traffic="ALL", interval=60, tags=None):
    return dict(FlowLogId=flow_log_id, ResourceId=VPC, LogGroupName=group, DeliverLogsPermissionArn=ROLE, TrafficType=traffic,
                MaxAggregationInterval=interval, LogDestinationType="cloud-watch-logs", FlowLogStatus="ACTIVE",
                Tags=[dict(Key=k, Value=v) for k, v in (tags or {}).items()])


class Stubbed:
    def __init__(self):
        self.raw = boto3.client("ec2", region_name="us-east-2", aws_access_key_id="testing", aws_secret_access_key="testing")
        self.stub = Stubber(self.raw)
        self.client = RetryingBotoClientWrapper(self.raw, AWSRetry.jittered_backoff(retries=2))

    def vpc(self):
        self.stub.add_response("describe_vpcs", {"Vpcs": [dict(VpcId=VPC)]}, {"VpcIds": [VPC]})
        return self

    def lists(self, *flow_logs, group=None):
        where = [dict(Name="resource-id", Values=[VPC]), dict(Name="log-destination-type", Values=["cloud-watch-logs"])]
        if group:
            where.append(dict(Name="log-group-name", Values=[group]))
        self.stub.add_response("describe_flow_logs", {"FlowLogs": list(flow_logs)}, {"Filters": where})
        return self

    def creates(self, new_id="fl-new", tags=None, traffic="ALL", interval=60):
        expected = dict(ResourceIds=[VPC], ResourceType="VPC", TrafficType=traffic, LogDestinationType="cloud-watch-logs",
                        LogGroupName=GROUP, DeliverLogsPermissionArn=ROLE, MaxAggregationInterval=interval, ClientToken=ANY)
        if tags:
            expected["TagSpecifications"] = [dict(ResourceType="vpc-flow-log", Tags=[dict(Key=k, Value=v) for k, v in tags.items()])]
        self.stub.add_response("create_flow_logs", {"FlowLogIds": [new_id], "Unsuccessful": []}, expected)
        return self

    def deletes(self, *ids):
        self.stub.add_response("delete_flow_logs", {"Unsuccessful": []}, {"FlowLogIds": list(ids)})
        return self

    def run(self, check_mode=False, **kw):
        p = params(**kw)
        assert vpc_flow_logs.validate(p) is None
        with self.stub:
            result = vpc_flow_logs.ensure(self.client, p, check_mode)
            self.stub.assert_no_pending_responses()
        return result


@pytest.mark.parametrize("kw, fragment", [
    (dict(vpc_id="my-vpc"), "vpc_id 'my-vpc' is not valid"),
    (dict(log_group_name=None), "state=present needs log_group_name (where"),
    (dict(log_group_name=None, deliver_logs_permission_arn=None), "needs log_group_name and deliver_logs_permission_arn"),
    (dict(log_group_name="a b"), "log_group_name 'a b' is not valid"),
    (dict(deliver_logs_permission_arn="flow"), "'flow' is not an IAM role ARN"),
    (dict(deliver_logs_permission_arn="arn:aws:iam::123456789012:user/x", state="absent"), "is not an IAM role ARN"),
])
def test_invalid_input_says_what_to_fix(kw, fragment):
    assert fragment in vpc_flow_logs.validate(params(**kw))


def test_absent_needs_only_the_vpc():
    assert vpc_flow_logs.validate(params(log_group_name=None, deliver_logs_permission_arn=None, state="absent")) is None


def test_create():
    result = Stubbed().vpc().lists().creates(tags={"Customer": "acme"}).run(tags={"Customer": "acme"})
    assert result["changed"] and result["operation"] == "create" and result["deleted"] == []
    assert result["flow_log"] == dict(flow_log_id="fl-new", vpc_id=VPC, log_group_name=GROUP, deliver_logs_permission_arn=ROLE,
                                      traffic_type="ALL", max_aggregation_interval=60, tags={"Customer": "acme"})
    assert result["diff"]["before"] == {} and result["diff"]["after"]["log_group_name"] == GROUP


def test_create_in_check_mode_writes_nothing():
    result = Stubbed().vpc().lists().run(check_mode=True)
    assert result["operation"] == "create" and "flow_log_id" not in result["flow_log"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_no_change_when_it_matches(check_mode):
    result = Stubbed().vpc().lists(aws_flow_log(tags={"Customer": "acme", "aws:x": "y"})).run(check_mode, tags={"Customer": "acme"})
    assert result["changed"] is False and "operation" not in result and result["flow_log"]["flow_log_id"] == FL


def test_tags_change_in_place():
    s = Stubbed().vpc().lists(aws_flow_log(tags={"Customer": "acme", "old": "x"}))
    s.stub.add_response("create_tags", {}, dict(Resources=[FL], Tags=[dict(Key="Tier", Value="gold")]))
    s.stub.add_response("delete_tags", {}, dict(Resources=[FL], Tags=[dict(Key="old")]))
    result = s.run(tags={"Customer": "acme", "Tier": "gold"})
    assert result["operation"] == "update" and result["deleted"] == [] and result["flow_log"]["flow_log_id"] == FL


@pytest.mark.parametrize("kw, create", [
    (dict(traffic_type="REJECT"), dict(traffic="REJECT")),
    (dict(max_aggregation_interval=600), dict(interval=600)),
])
def test_an_immutable_change_replaces_and_keeps_unmanaged_tags(kw, create):
    result = Stubbed().vpc().lists(aws_flow_log(tags={"Owner": "ops"})).deletes(FL).creates(tags={"Owner": "ops"}, **create).run(**kw)
    assert result["operation"] == "replace" and result["deleted"] == [FL] and result["flow_log"]["flow_log_id"] == "fl-new"
    key = list(kw)[0]
    assert result["diff"]["before"][key] != result["diff"]["after"][key] == kw[key]


def test_replace_in_check_mode_writes_nothing():
    result = Stubbed().vpc().lists(aws_flow_log(group="/old")).run(check_mode=True)
    assert result["operation"] == "replace" and result["deleted"] == [FL] and "flow_log_id" not in result["flow_log"]


def test_a_missing_vpc_is_named():
    s = Stubbed()
    s.stub.add_client_error("describe_vpcs", "InvalidVpcID.NotFound", expected_params={"VpcIds": [VPC]})
    with pytest.raises(vpc_flow_logs.Failure, match="VPC %s was not found: check vpc_id, region and endpoint_url" % VPC):
        s.run()


def test_two_flow_logs_fail_and_are_named():
    with pytest.raises(vpc_flow_logs.Failure, match="has 2 flow logs to CloudWatch Logs \\(%s, fl-2\\)" % FL):
        Stubbed().vpc().lists(aws_flow_log(), aws_flow_log("fl-2", group="/other")).run()


@pytest.mark.parametrize("check_mode", [False, True])
def test_delete(check_mode):
    s = Stubbed().lists(aws_flow_log(), aws_flow_log("fl-2", group="/other"))
    if not check_mode:
        s.deletes(FL, "fl-2")
    result = s.run(check_mode, state="absent", log_group_name=None)
    assert result["operation"] == "delete" and result["deleted"] == [FL, "fl-2"] and result["flow_log"] == {}
    assert set(result["diff"]["before"]) == {FL, "fl-2"} and result["diff"]["after"] == {}


def test_delete_by_log_group_and_absent_when_missing():
    result = Stubbed().lists(aws_flow_log(group="/other"), group="/other").deletes(FL).run(state="absent", log_group_name="/other")
    assert result["operation"] == "delete" and result["diff"]["before"]["log_group_name"] == "/other"
    result = Stubbed().lists().run(state="absent", log_group_name=None)
    assert result["changed"] is False and result["deleted"] == [] and "operation" not in result


def test_a_failed_create_says_why():
    s = Stubbed().vpc().lists()
    s.stub.add_response("create_flow_logs", {"FlowLogIds": [], "Unsuccessful": [
        dict(ResourceId=VPC, Error=dict(Code="400", Message="Access Denied for LogDestination"))]})
    with pytest.raises(vpc_flow_logs.Failure, match="AWS did not create the flow log of %s: Access Denied" % VPC):
        s.run()
