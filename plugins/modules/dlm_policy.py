#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dlm_policy
short_description: A Data Lifecycle Manager policy that snapshots the EBS volumes of tagged instances
version_added: 0.1.0
description:
  - Manages one Amazon Data Lifecycle Manager snapshot policy. Every O(interval_hours) (daily by default) it takes
    multi-volume snapshots of all EBS volumes of the instances carrying O(target_tags), and keeps the newest O(retain_count).
  - Its identity is O(description) plus O(target_tags) (the module fails, naming them, when several match). Role, schedule, retention
    and tag copying are changed with C(UpdateLifecyclePolicy), tags in place; a new policy is C(ENABLED), an existing one keeps its state.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: Reads only; predicts the create, update or deletion.
    support: full
  diff_mode:
    description: Role, target tags, schedule, retention, tag copying and tags, before and after.
    support: full
options:
  description:
    description: The policy's description and, with O(target_tags), its identity. 1 to 500 letters, digits, spaces, C(_) and C(-).
    type: str
    required: true
  target_tags:
    description: Instances carrying all of these tags are snapshotted (1 to 50 tags). Part of the policy's identity.
    type: dict
    required: true
  execution_role_arn:
    description: ARN of the IAM role DLM snapshots with (e.g. with C(AWSDataLifecycleManagerServiceRole)); required when O(state=present).
    type: str
  interval_hours:
    description: Hours between two snapshots.
    type: int
    choices: [1, 2, 3, 4, 6, 8, 12, 24]
    default: 24
  times:
    description: The UTC time (C(hh:mm)) the first snapshot of a day starts, within the hour; exactly one.
    type: list
    elements: str
    default: ["03:00"]
  retain_count:
    description: Snapshots kept per volume (1 to 1000); older ones are deleted.
    type: int
    default: 14
  copy_tags:
    description: Copy the volumes' tags to their snapshots.
    type: bool
    default: true
  tags:
    description: Tags of the policy itself. Not managed when not set.
    type: dict
  purge_tags:
    description: Remove tags (other than C(aws:*)) that are not in O(tags). Only with O(tags) set.
    type: bool
    default: true
  state:
    description: V(absent) deletes the policy (its snapshots are kept).
    type: str
    choices: [present, absent]
    default: present
notes:
  - "IAM: C(dlm:GetLifecyclePolicies), C(dlm:GetLifecyclePolicy), C(dlm:CreateLifecyclePolicy), C(dlm:UpdateLifecyclePolicy),
    C(dlm:DeleteLifecyclePolicy), C(dlm:TagResource), C(dlm:UntagResource), C(iam:PassRole)."
  - "Set connection options once with C(module_defaults: {group/m8trx.deployer.aws: ...}), which also covers every amazon.aws module."
"""

EXAMPLES = r"""
- name: Snapshot the agent's volumes daily at 03:00 UTC, keep two weeks
  m8trx.deployer.dlm_policy:
    description: m8trx acme daily snapshots
    execution_role_arn: "{{ dlm_role.iam_role.arn }}"
    target_tags: {Customer: acme-agent}
    tags: {Customer: acme}

- name: Remove the policy
  m8trx.deployer.dlm_policy:
    description: m8trx acme daily snapshots
    target_tags: {Customer: acme-agent}
    state: absent
"""

RETURN = r"""
policy:
  description: The policy after the run (predicted in check mode, without an id when it is yet to be created); C({}) when absent.
  returned: always
  type: dict
  sample: {"policy_id": "policy-0123456789abcdef0", "policy_arn": "arn:aws:dlm:us-east-2:123456789012:policy/policy-0123456789abcdef0",
           "state": "ENABLED", "description": "m8trx acme daily", "execution_role_arn": "arn:aws:iam::123456789012:role/m8trx-dlm",
           "target_tags": {"Customer": "acme-agent"}, "resource_types": ["INSTANCE"], "interval_hours": 24, "times": ["03:00"],
           "retain_count": 14, "copy_tags": true, "tags": {"Customer": "acme"}}
operation:
  description: V(create), V(update) or V(delete).
  returned: when changed
  type: str
  sample: update
"""

import re

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.m8trx.deployer.plugins.module_utils._reconcile import reconcile

DESCRIPTION = re.compile(r"^[0-9A-Za-z _-]{1,500}$")
ROLE_ARN = re.compile(r"^arn:aws(-[a-z]{1,3}){0,2}:iam::\d{12}:role/.+$")
TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
DETAILS = ("execution_role_arn", "resource_types", "interval_hours", "times", "retain_count", "copy_tags")


class Failure(Exception):
    """What the user has to fix, found in an AWS answer (not an SDK error)."""


def validate(params):
    """(desired, None) or (None, what to fix); no API call."""
    target = dict((str(k), str(v)) for k, v in (params["target_tags"] or {}).items())
    if not DESCRIPTION.match(params["description"] or ""):
        return None, "description %r is not valid: 1 to 500 letters, digits, spaces, '_' or '-'" % params["description"]
    if not 1 <= len(target) <= 50:
        return None, "target_tags needs 1 to 50 tags: the instances carrying all of them are snapshotted"
    desired = dict(description=params["description"], target_tags=target)
    if params["state"] == "absent":
        return desired, None
    role, times = params["execution_role_arn"], params["times"]
    if not role or not ROLE_ARN.match(role):
        return None, "state=present needs execution_role_arn, an IAM role ARN (arn:aws:iam::<account>:role/<name>), not %r" % role
    if len(times) != 1 or not TIME.match(times[0]):
        return None, "times must hold exactly one UTC time as hh:mm (for example ['03:00']), not %r" % (times,)
    if not 1 <= params["retain_count"] <= 1000:
        return None, "retain_count must be 1 to 1000, not %d" % params["retain_count"]
    tags = None if params["tags"] is None else dict((str(k), str(v)) for k, v in params["tags"].items())
    desired.update(execution_role_arn=role, resource_types=["INSTANCE"], interval_hours=params["interval_hours"], times=list(times),
                   retain_count=params["retain_count"], copy_tags=params["copy_tags"], tags=tags)
    return desired, None


def view(policy):
    """The managed fields of a GetLifecyclePolicy answer (AWS defaults like ResourceLocations left out)."""
    details = policy.get("PolicyDetails") or {}
    schedules = details.get("Schedules") or []
    schedule = schedules[0] if len(schedules) == 1 else {}  # anything but one schedule differs, so it is rewritten
    create, retain = schedule.get("CreateRule") or {}, schedule.get("RetainRule") or {}
    return dict(policy_id=policy["PolicyId"], policy_arn=policy.get("PolicyArn"), state=policy.get("State"),
                description=policy.get("Description"), execution_role_arn=policy.get("ExecutionRoleArn"),
                target_tags=dict((t["Key"], t["Value"]) for t in details.get("TargetTags") or []),
                resource_types=details.get("ResourceTypes"),
                interval_hours=create.get("Interval") if create.get("IntervalUnit") == "HOURS" else None,
                times=create.get("Times"), retain_count=retain.get("Count"), copy_tags=schedule.get("CopyTags", False),
                tags=dict((k, v) for k, v in (policy.get("Tags") or {}).items() if not k.startswith("aws:")))


def read(dlm, description, target_tags):
    """The one policy with this description and exactly these target tags, or None."""
    try:
        summaries = dlm.get_lifecycle_policies(TargetTags=["%s=%s" % kv for kv in sorted(target_tags.items())], aws_retry=True)["Policies"]
    except is_boto3_error_code("ResourceNotFoundException"):
        summaries = []
    found = [p for p in (view(dlm.get_lifecycle_policy(PolicyId=s["PolicyId"], aws_retry=True)["Policy"])
                         for s in summaries if s.get("Description") == description) if p["target_tags"] == target_tags]
    if len(found) > 1:
        raise Failure("%d DLM policies (%s) have the description %r and these target_tags: delete all but one"
                      % (len(found), ", ".join(p["policy_id"] for p in found), description))
    return found[0] if found else None


def policy_details(want):
    schedule = dict(Name="every %dh keep %d" % (want["interval_hours"], want["retain_count"]), CopyTags=want["copy_tags"],
                    CreateRule=dict(Interval=want["interval_hours"], IntervalUnit="HOURS", Times=want["times"]),
                    RetainRule=dict(Count=want["retain_count"]))
    return dict(PolicyType="EBS_SNAPSHOT_MANAGEMENT", ResourceTypes=want["resource_types"], Schedules=[schedule],
                TargetTags=[dict(Key=k, Value=v) for k, v in sorted(want["target_tags"].items())])


def ensure(dlm, params, desired, check_mode=False):
    """Bring the policy to desired; returns the result (changed, policy, diff[, operation])."""
    current = read(dlm, desired["description"], desired["target_tags"])
    res = reconcile(current, desired, check_mode=True, create=None, update=None, delete=None, state=params["state"],
                    ignore_keys=("policy_id", "policy_arn", "state"), compare={"tags": "strict" if params["purge_tags"] else "value"})
    operation, after = res.get("operation"), dict(res["after"] or {})
    result = dict(changed=bool(operation), policy=after, diff=res["diff"], **({"operation": operation} if operation else {}))
    if operation == "create":
        after["state"] = "ENABLED"
    if check_mode or not operation:
        return result
    if operation == "delete":
        try:
            dlm.delete_lifecycle_policy(PolicyId=current["policy_id"], aws_retry=True)
        except is_boto3_error_code("ResourceNotFoundException"):
            pass  # gone meanwhile (or an earlier retried attempt removed it)
    elif operation == "create":
        args = dict(ExecutionRoleArn=desired["execution_role_arn"], Description=desired["description"], State="ENABLED",
                    PolicyDetails=policy_details(desired), **({"Tags": desired["tags"]} if desired["tags"] else {}))
        after["policy_id"] = dlm.create_lifecycle_policy(**args)["PolicyId"]  # not retried: a retry could create a second one
    else:
        if any(k in res["changes"] for k in DETAILS):
            dlm.update_lifecycle_policy(PolicyId=current["policy_id"], ExecutionRoleArn=desired["execution_role_arn"],
                                        PolicyDetails=policy_details(desired), aws_retry=True)
        if "tags" in res["changes"]:
            add, remove = compare_aws_tags(current["tags"], desired["tags"], params["purge_tags"])
            if add:
                dlm.tag_resource(ResourceArn=current["policy_arn"], Tags=add, aws_retry=True)
            if remove:
                dlm.untag_resource(ResourceArn=current["policy_arn"], TagKeys=remove, aws_retry=True)
    return result


def main():
    argument_spec = dict(
        description=dict(type="str", required=True), target_tags=dict(type="dict", required=True),
        execution_role_arn=dict(type="str"), interval_hours=dict(type="int", choices=[1, 2, 3, 4, 6, 8, 12, 24], default=24),
        times=dict(type="list", elements="str", default=["03:00"]), retain_count=dict(type="int", default=14),
        copy_tags=dict(type="bool", default=True), tags=dict(type="dict"), purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"))
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    desired, error = validate(module.params)
    if error:
        module.fail_json(msg=error)
    dlm = module.client("dlm", retry_decorator=AWSRetry.jittered_backoff())
    try:
        result = ensure(dlm, module.params, desired, module.check_mode)
    except Failure as e:
        module.fail_json(msg=str(e))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="could not manage the DLM policy %r" % module.params["description"])
    diff = result.pop("diff")
    module.exit_json(**dict(result, **({"diff": diff} if module._diff else {})))


if __name__ == "__main__":
    main()
