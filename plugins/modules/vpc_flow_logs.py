#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vpc_flow_logs
short_description: The flow log of one VPC to CloudWatch Logs
version_added: 0.1.0
description:
  - Manages the flow log that delivers one VPC's traffic to a CloudWatch Logs group (one C(DescribeFlowLogs) on the VPC).
    One per VPC; the module fails, naming them, when there are several. Flow logs to S3 or Firehose are never touched.
  - A flow log cannot be modified; when its log group, role, traffic type or interval differs it is deleted, then created
    (RV(operation=replace)). Tags are changed in place.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: Reads only; predicts the create, replacement, tag change or deletion.
    support: full
  diff_mode:
    description: Log group, role, traffic type, interval and tags, before and after.
    support: full
options:
  vpc_id:
    description: The VPC whose traffic is logged (V(vpc-0a1b2c3d4e5f67890)).
    type: str
    required: true
  log_group_name:
    description: The CloudWatch Logs group the records go to (required when O(state=present)). With O(state=absent), only
      the VPC's flow log to this group is deleted.
    type: str
  deliver_logs_permission_arn:
    description: ARN of the IAM role C(vpc-flow-logs.amazonaws.com) assumes to write to the group (required when O(state=present)).
    type: str
  traffic_type:
    description: Which traffic is logged (accepted, rejected or all).
    type: str
    choices: [ACCEPT, REJECT, ALL]
    default: ALL
  max_aggregation_interval:
    description: Seconds over which a flow is captured into one record.
    type: int
    choices: [60, 600]
    default: 60
  tags:
    description: Tags of the flow log. Not managed when not set (a replacement keeps the current ones).
    type: dict
  purge_tags:
    description: Remove tags (other than C(aws:*)) that are not in O(tags). Only with O(tags) set.
    type: bool
    default: true
  state:
    description: V(absent) deletes the VPC's flow log(s) to CloudWatch Logs (to O(log_group_name) when set).
    type: str
    choices: [present, absent]
    default: present
notes:
  - "IAM: C(ec2:DescribeVpcs), C(ec2:DescribeFlowLogs), C(ec2:CreateFlowLogs), C(ec2:DeleteFlowLogs), C(ec2:CreateTags), C(ec2:DeleteTags), C(iam:PassRole)."
  - "Endpoint: O(endpoint_url), else E(AWS_URL), else E(AWS_ENDPOINT_URL). Set it once with C(module_defaults: {group/m8trx.deployer.aws: ...}),
    which also covers every amazon.aws module; C(group/amazon.aws.aws) does not reach this module."
"""

EXAMPLES = r"""
- name: Log all traffic of the customer's VPC for 60-second windows
  m8trx.deployer.vpc_flow_logs:
    vpc_id: "{{ vpc.vpc.id }}"
    log_group_name: /m8trx/acme/vpc-flow-logs
    deliver_logs_permission_arn: "{{ flow_log_role.iam_role.arn }}"
    tags: {Customer: acme}

- name: Stop logging
  m8trx.deployer.vpc_flow_logs:
    vpc_id: "{{ vpc.vpc.id }}"
    state: absent
"""

RETURN = r"""
flow_log:
  description: The flow log after the run (predicted in check mode, without an id when it is yet to be created); C({}) when absent.
  returned: always
  type: dict
  sample: {"flow_log_id": "fl-0123456789abcdef0", "vpc_id": "vpc-0a1b2c3d4e5f67890", "log_group_name": "/m8trx/acme/flow",
           "deliver_logs_permission_arn": "arn:aws:iam::123456789012:role/flow", "traffic_type": "ALL", "max_aggregation_interval": 60, "tags": {}}
deleted:
  description: Ids of the flow logs deleted (to be deleted in check mode), the replaced one included.
  returned: always
  type: list
  elements: str
  sample: ["fl-0123456789abcdef0"]
operation:
  description: V(create), V(update) (tags only), V(replace) (an immutable field differed) or V(delete).
  returned: when changed
  type: str
  sample: create
"""

import re
import uuid

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code, paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (ansible_dict_to_boto3_tag_list,
                                                                         boto3_tag_list_to_ansible_dict, compare_aws_tags)

from ansible_collections.m8trx.deployer.plugins.module_utils._reconcile import reconcile

VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
LOG_GROUP = re.compile(r"^[\w.#/-]{1,512}$")
IMMUTABLE = ("log_group_name", "deliver_logs_permission_arn", "traffic_type", "max_aggregation_interval")


class Failure(Exception):
    """What the user has to fix, found in an AWS answer (not an SDK error)."""


def validate(params):
    """None, or what to fix (no API call)."""
    group, role = params["log_group_name"], params["deliver_logs_permission_arn"]
    if not VPC_ID.match(params["vpc_id"] or ""):
        return "vpc_id %r is not valid: give the VPC's id, for example vpc-0a1b2c3d4e5f67890" % params["vpc_id"]
    if group is not None and not LOG_GROUP.match(group):
        return "log_group_name %r is not valid: 1 to 512 letters, digits, '_', '-', '/', '.' or '#'" % group
    missing = [k for k in ("log_group_name", "deliver_logs_permission_arn") if not params[k]]
    if params["state"] == "present" and missing:
        return "state=present needs %s (where the records go and the role that writes them)" % " and ".join(missing)
    if role is not None and not ROLE_ARN.match(role):
        return "deliver_logs_permission_arn %r is not an IAM role ARN: use arn:aws:iam::<account>:role/<name>" % role
    return None


def read(ec2, vpc_id, log_group_name=None):
    """The managed fields of the VPC's flow logs to CloudWatch Logs (aws:* tags dropped)."""
    where = [dict(Name="resource-id", Values=[vpc_id]), dict(Name="log-destination-type", Values=["cloud-watch-logs"])] + \
        ([dict(Name="log-group-name", Values=[log_group_name])] if log_group_name else [])
    found = []
    for fl in paginated_query_with_retries(ec2, "describe_flow_logs", AWSRetry.jittered_backoff(), Filters=where)["FlowLogs"]:
        tags = boto3_tag_list_to_ansible_dict(fl.get("Tags") or [])
        found.append(dict(flow_log_id=fl["FlowLogId"], vpc_id=fl["ResourceId"], log_group_name=fl.get("LogGroupName"),
                          deliver_logs_permission_arn=fl.get("DeliverLogsPermissionArn"), traffic_type=fl.get("TrafficType"),
                          max_aggregation_interval=fl.get("MaxAggregationInterval"),
                          tags=dict((k, v) for k, v in tags.items() if not k.startswith("aws:"))))
    return found


def create(ec2, want):
    args = dict(ResourceIds=[want["vpc_id"]], ResourceType="VPC", TrafficType=want["traffic_type"],
                LogDestinationType="cloud-watch-logs", LogGroupName=want["log_group_name"],
                DeliverLogsPermissionArn=want["deliver_logs_permission_arn"],
                MaxAggregationInterval=want["max_aggregation_interval"], ClientToken=str(uuid.uuid4()))  # retries stay one create
    if want.get("tags"):
        args["TagSpecifications"] = [dict(ResourceType="vpc-flow-log", Tags=ansible_dict_to_boto3_tag_list(want["tags"]))]
    answer = ec2.create_flow_logs(aws_retry=True, **args)
    for failed in answer.get("Unsuccessful") or []:
        raise Failure("AWS did not create the flow log of %s: %s" % (want["vpc_id"], failed["Error"]["Message"]))
    return answer["FlowLogIds"][0]


def delete(ec2, ids):
    for failed in ec2.delete_flow_logs(FlowLogIds=ids, aws_retry=True).get("Unsuccessful") or []:
        if "NotFound" not in failed["Error"]["Code"]:  # gone already is fine
            raise Failure("AWS did not delete flow log %s: %s" % (failed["ResourceId"], failed["Error"]["Message"]))


def plan(current, params):
    """(operation or None, the flow log after, diff) for state=present, through the reconcile engine."""
    want = dict((k, params[k]) for k in ("vpc_id",) + IMMUTABLE)
    want["tags"] = None if params["tags"] is None else dict((str(k), str(v)) for k, v in params["tags"].items())
    res = reconcile(current, want, check_mode=True, create=None, update=None, delete=None, ignore_keys=("flow_log_id",),
                    compare={"tags": "strict" if params["purge_tags"] else "value"})
    operation, after = res.get("operation"), dict(res["after"])
    if operation == "update" and any(k in res["changes"] for k in IMMUTABLE):
        operation, after = "replace", dict((k, v) for k, v in after.items() if k != "flow_log_id")
    return operation, after, res["diff"]


def ensure(ec2, params, check_mode=False):
    """Bring the VPC's flow log to params; returns the result (changed, flow_log, deleted, diff[, operation])."""
    vpc_id, present = params["vpc_id"], params["state"] == "present"
    if present:
        try:
            ec2.describe_vpcs(VpcIds=[vpc_id], aws_retry=True)
        except is_boto3_error_code("InvalidVpcID.NotFound"):
            raise Failure("VPC %s was not found: check vpc_id, region and endpoint_url" % vpc_id)
    found = read(ec2, vpc_id, None if present else params["log_group_name"])
    current = found[0] if found else None
    if present and len(found) > 1:
        raise Failure("VPC %s has %d flow logs to CloudWatch Logs (%s) and this module manages one: delete the others, e.g. with "
                      "state=absent and their log_group_name" % (vpc_id, len(found), ", ".join(f["flow_log_id"] for f in found)))
    elif present:
        operation, after, diff = plan(current, params)
        deleted = [current["flow_log_id"]] if operation == "replace" else []
    else:
        operation, after, deleted = "delete" if found else None, {}, [f["flow_log_id"] for f in found]
        diff = dict(before=found[0] if len(found) == 1 else dict((f["flow_log_id"], f) for f in found), after={})
    result = dict(changed=bool(operation), flow_log=after, deleted=deleted, diff=diff, **({"operation": operation} if operation else {}))
    if check_mode or not operation:
        return result
    if operation == "update":
        add, remove = compare_aws_tags(current["tags"], after["tags"], params["purge_tags"])
        if add:
            ec2.create_tags(Resources=[current["flow_log_id"]], Tags=ansible_dict_to_boto3_tag_list(add), aws_retry=True)
        if remove:
            ec2.delete_tags(Resources=[current["flow_log_id"]], Tags=[dict(Key=k) for k in remove], aws_retry=True)
        return result
    if deleted:
        delete(ec2, deleted)
    if present:
        after["flow_log_id"] = create(ec2, after)
    return result


def main():
    argument_spec = dict(
        vpc_id=dict(type="str", required=True), log_group_name=dict(type="str"), deliver_logs_permission_arn=dict(type="str"),
        traffic_type=dict(type="str", choices=["ACCEPT", "REJECT", "ALL"], default="ALL"),
        max_aggregation_interval=dict(type="int", choices=[60, 600], default=60),
        tags=dict(type="dict"), purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"))
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    error = validate(module.params)
    if error:
        module.fail_json(msg=error)
    ec2 = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(ec2, module.params, module.check_mode)
    except Failure as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="could not manage the flow log of %s" % module.params["vpc_id"])
    diff = result.pop("diff")
    module.exit_json(**dict(result, **({"diff": diff} if module._diff else {})))


if __name__ == "__main__":
    main()
