#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ssm_bundle
short_description: All SSM parameters under one path (a customer's C(/m8trx/<name>/)) as one desired state
version_added: 0.1.0
description:
  - Manages the SSM Parameter Store parameters under O(path) as one unit. Reads them with one
    C(GetParametersByPath) (decrypted) and one C(DescribeParameters) (type, KMS key, description), plus
    C(ListTagsForResource) only for parameters whose tags are managed; writes only what differs.
  - A parameter is rewritten (C(PutParameter), one new version) only when its value, type, KMS key or
    description differs; tags are changed with C(AddTagsToResource)/C(RemoveTagsFromResource) only when
    they differ. Values are compared decrypted and are never returned, logged or shown in a diff.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    description: Reads only; predicts every write, tag change and deletion (and the new versions).
    support: full
  diff_mode:
    description: Per parameter type, key, description and tags; a value shows as C([redacted]), or C([redacted:changed]) when it changes.
    support: full
options:
  path:
    description:
      - The hierarchy that holds the bundle, starting and ending with C(/), for example V(/m8trx/acme/).
      - At least one level; segments use letters, digits, C(.), C(-) and C(_); must not start with C(aws) or C(ssm).
    type: str
    required: true
  parameters:
    description:
      - The parameters under O(path); each O(parameters[].name) is relative to O(path).
      - A list rather than a mapping so each O(parameters[].value) is C(no_log); from a mapping use
        C(my_dict | dict2items(key_name='name', value_name='value')).
      - Ignored when O(state=absent).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name relative to O(path), letters, digits, C(.), C(-) and C(_).
          - With O(recursive=true) it may contain C(/) (V(db/password)).
        type: str
        required: true
      value:
        description:
          - The value (1 to 4096 bytes). Never logged or returned.
          - Required when O(state=present), unless O(parameters[].overwrite=false).
        type: str
      overwrite:
        description:
          - V(false) writes the value only when the parameter does not exist yet and otherwise keeps the stored
            value (a generated password, a key that cannot be read back); type, KMS key, description and tags are
            still reconciled.
          - With V(false) and no O(parameters[].value), the parameter is only observed, never written, deleted by
            O(purge) or reconciled; its entry in RV(parameters) says whether it exists (C(present)).
        type: bool
        default: true
      type:
        description: The parameter type. Secure by default.
        type: str
        choices: [String, StringList, SecureString]
        default: SecureString
      key_id:
        description:
          - KMS key (id, ARN, alias name or alias ARN) that encrypts this V(SecureString); overrides O(key_id).
          - Only valid with O(parameters[].type=SecureString).
        type: str
      description:
        description: The parameter's description. Not managed when not set.
        type: str
      tags:
        description: Tags of this parameter, merged over O(tags). Tags are not managed when neither is set.
        type: dict
  key_id:
    description:
      - KMS key for every V(SecureString) that does not set O(parameters[].key_id).
      - When neither is set, the AWS managed key V(alias/aws/ssm) is the desired key.
    type: str
  tags:
    description: Tags for every parameter (a parameter's own O(parameters[].tags) win on the same key).
    type: dict
  purge_tags:
    description: Remove tags (other than C(aws:*)) that are not desired, on parameters whose tags are managed.
    type: bool
    default: true
  purge:
    description: Delete the parameters under O(path) (one level, or all levels with O(recursive=true)) that are not listed.
    type: bool
    default: false
    aliases: [purge_parameters]
  recursive:
    description: Manage all levels below O(path) instead of its direct children only.
    type: bool
    default: false
  state:
    description: V(absent) deletes every parameter under O(path) (one level, or all levels with O(recursive=true)).
    type: str
    choices: [present, absent]
    default: present
notes:
  - "IAM: C(ssm:GetParametersByPath), C(ssm:DescribeParameters), C(ssm:PutParameter), C(ssm:DeleteParameters),
    C(ssm:ListTagsForResource), C(ssm:AddTagsToResource), C(ssm:RemoveTagsFromResource); C(kms:Decrypt) and
    C(kms:Encrypt) on the keys; C(kms:DescribeKey) when a key is named differently than AWS reports it."
  - Parameters are written with the C(Standard) tier.
  - "KMS errors: a stored value that KMS cannot decrypt (disabled key, key pending deletion, access denied, key not found,
    invalid ciphertext, ...), a key that C(DescribeKey) cannot describe, or a write KMS refuses fails with the parameter,
    the key, KMS's error code and what to fix. Only C(IncorrectKeyException) (the value is encrypted under a different key)
    leaves a value unread, so it is rewritten under the wanted key. Throttling is retried."
  - "Endpoint: O(endpoint_url), else E(AWS_URL), else botocore's own E(AWS_ENDPOINT_URL). Set connection options
    once with C(module_defaults: {group/m8trx.deployer.aws: ...}), which also covers every amazon.aws module;
    C(group/amazon.aws.aws) does not reach this module."
seealso:
  - module: community.aws.ssm_parameter
  - plugin: amazon.aws.ssm_parameter
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: The agent's parameters, encrypted with the customer's key; nothing else under the path
  m8trx.deployer.ssm_bundle:
    path: /m8trx/acme/
    key_id: alias/m8trx-acme
    tags: {Customer: acme}
    purge: true
    parameters:
      - {name: brain-key, value: "{{ brain.api_key }}"}
      - {name: brain-customer-id, value: cust_acme, type: String}
      - {name: brain-url, value: "https://brain.m8trx.example", type: String}
      - {name: tailscale-auth-key, value: "{{ authkey.key }}"}

- name: Delete the bundle
  m8trx.deployer.ssm_bundle:
    path: /m8trx/acme/
    state: absent
"""

RETURN = r"""
parameters:
  description: The listed parameters by relative name, after the run (predicted in check mode). Never values.
  returned: always
  type: dict
  sample: {"brain-key": {"name": "/m8trx/acme/brain-key", "type": "SecureString", "version": 2,
           "key_id": "alias/m8trx-acme", "changed": true, "present": true}}
deleted:
  description: Full names of the parameters deleted (to be deleted in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/m8trx/acme/old-token"]
operation:
  description: V(create) (nothing was under the path), V(update) or V(delete) (O(state=absent)).
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
from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.m8trx.deployer.plugins.module_utils._reconcile import REDACTED, reconcile

SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
DEFAULT_KEY = "alias/aws/ssm"
WRITTEN = ("value", "type", "key_id", "description")
# AWSRetry's own list has "Throttling" but not the "ThrottlingException" SSM and KMS answer; KMS also asks for these two to be retried
SSM_RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException"])
KMS_RETRY = AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException", "DependencyTimeoutException", "KMSInternalException"])
# SSM reports a KMS failure behind a SecureString as its own InvalidKeyId (or AccessDeniedException) and names KMS's error
# in the message: "... is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException; Request ID: ...)"
KMS_IN_SSM = re.compile(r"Service: AWSKMS;.*?Error Code: (\w+)")
# The one KMS error that means "encrypted under a different key" (Decrypt: the key named cannot decrypt this ciphertext)
DIFFERENT_KEY = "IncorrectKeyException"
KMS_FIX = {
    "DisabledException": "the key is disabled: enable it (kms:EnableKey) or set key_id to an enabled key",
    "KMSInvalidStateException": "the key cannot be used in its state (pending deletion or import): cancel its deletion "
                                "(kms:CancelKeyDeletion) and enable it, or set key_id to another key",
    "NotFoundException": "no such key in this account and region: fix key_id (or the region), or create the key",
    "AccessDeniedException": "the caller may not use the key: allow kms:Decrypt, kms:Encrypt and kms:DescribeKey on it "
                             "(IAM policy and key policy)",
    "InvalidCiphertextException": "the stored value cannot be decrypted (ciphertext or encryption context invalid): "
                                  "delete the parameter and run again to write it anew",
    "KeyUnavailableException": "the key's custom key store is unavailable: reconnect it and run again",
    "InvalidKeyUsageException": "the key is not a symmetric encryption key: set key_id to one",
    "InvalidArnException": "key_id is not a valid KMS ARN: fix key_id",
    "InvalidKeyId": "key_id does not name a usable KMS key: fix key_id",
}


class KmsError(Exception):
    """A KMS error about one parameter's key, to be reported with both names and what to fix (never a value)."""

    def __init__(self, error, key, code, action, name=None):
        super(KmsError, self).__init__(code)
        self.error, self.key, self.code, self.action, self.name = error, key, code, action, name

    def message(self, path):
        return "parameter %s: KMS key %s could not %s (%s): %s" % (
            path + (self.name or "?"), self.key, self.action, self.code,
            KMS_FIX.get(self.code, "KMS kept failing after retries: run again later" if self.code in (
                "ThrottlingException", "DependencyTimeoutException", "KMSInternalException") else "see the AWS error"))


def kms_code(error):
    """The KMS error code behind an SSM error, or None when the error is not about KMS."""
    if not isinstance(error, botocore.exceptions.ClientError):
        return None
    code, text = error.response.get("Error", {}).get("Code"), error.response.get("Error", {}).get("Message") or ""
    found = KMS_IN_SSM.search(text)
    if found:
        return found.group(1)
    if code == "InvalidKeyId" or (code == "AccessDeniedException" and "kms:" in text):
        return code
    return None


def validate(params):
    """(desired {relative name: spec}, None) or (None, what to fix); no API call."""
    path = params["path"] or ""
    segments = path[1:-1].split("/")
    if len(path) < 3 or not path.startswith("/") or not path.endswith("/") or not all(SEGMENT.match(s) for s in segments):
        return None, ("path %r is not valid: it must start and end with '/' and have at least one level of letters, "
                      "digits, '.', '-' or '_' (for example /m8trx/acme/)" % path)
    if segments[0].lower().startswith(("aws", "ssm")):
        return None, "path %r is not valid: SSM reserves names beginning with 'aws' or 'ssm'" % path
    desired = {}
    if params["state"] == "absent":
        return desired, None
    for item in params["parameters"]:
        name, value = item["name"], item["value"]
        parts = name.split("/")
        if not all(SEGMENT.match(p) for p in parts) or (len(parts) > 1 and not params["recursive"]):
            return None, ("parameter name %r is not valid: use letters, digits, '.', '-' and '_'%s" % (
                name, " ('/' between levels)" if params["recursive"] else " ('/' only with recursive=true)"))
        if len(path + name) > 1011 or len(segments) + len(parts) > 15:
            return None, "parameter %r is too long: at most 1011 characters and 15 levels with the path" % name
        if name in desired:
            return None, "parameter %r is listed twice" % name
        if (value is None and item["overwrite"]) or (value is not None and not 1 <= len(value.encode("utf-8")) <= 4096):
            return None, "parameter %r needs a value of 1 to 4096 bytes (state=present)" % name
        if item["key_id"] and item["type"] != "SecureString":
            return None, "parameter %r sets key_id but is a %s: key_id is only for SecureString" % (name, item["type"])
        tags = None
        if params["tags"] is not None or item["tags"] is not None:
            tags = dict((str(k), str(v)) for k, v in dict(params["tags"] or {}, **(item["tags"] or {})).items())
        key_id = (item["key_id"] or params["key_id"] or DEFAULT_KEY) if item["type"] == "SecureString" else None
        desired[name] = dict(value=value, type=item["type"], key_id=key_id, description=item["description"], tags=tags,
                             overwrite=item["overwrite"])
    return desired, None


def keep_stored(desired, current):
    """Apply O(parameters[].overwrite=false): an existing parameter keeps its stored value; one without a
    value is only observed. Returns (desired, {observed name: whether it exists})."""
    kept, observed = {}, {}
    for name, want in desired.items():
        want = dict(want)
        overwrite = want.pop("overwrite", True)
        if want["value"] is None:
            observed[name] = name in current
            continue
        if not overwrite and name in current:
            want["value"] = current[name].get("value") or want["value"]
        kept[name] = want
    return kept, observed


def current_from(path, by_path, described, tags):
    """{relative name: {value, type, key_id, description, version[, tags]}} from the three reads."""
    current = {}
    for meta in described:
        current[meta["Name"][len(path):]] = dict(value=None, type=meta["Type"], key_id=meta.get("KeyId"),
                                                 description=meta.get("Description"), version=meta["Version"])
    for param in by_path:
        entry = current.setdefault(param["Name"][len(path):], dict(type=param["Type"], key_id=None, description=None))
        entry.update(value=param["Value"], version=param["Version"])
    for name, tag_dict in tags.items():
        if name in current:
            current[name]["tags"] = dict((k, v) for k, v in tag_dict.items() if not k.startswith("aws:"))
    return current


def plan(desired, current, state="present", purge=False, purge_tags=True, same_key=None):
    """Per parameter {operation, put, add_tags, remove_tags, before, after} (reconcile() as the diff engine)."""
    actions = {}
    for name in sorted(set(desired) | set(current)):
        want, cur = desired.get(name), current.get(name)
        if want is None and not (state == "absent" or purge):
            continue
        if cur is not None and want is not None and cur.get("key_id") != want["key_id"] and want["key_id"] \
                and cur.get("key_id") and same_key:
            try:
                if same_key(cur["key_id"], want["key_id"]):
                    cur = dict(cur, key_id=want["key_id"])
            except KmsError as e:
                e.name = e.name or name
                raise
        res = reconcile(cur, want, check_mode=True, create=None, update=None, delete=None,
                        state="present" if want is not None else "absent", ignore_keys=("version",),
                        secret_keys=("value",), compare={"tags": "strict" if purge_tags else "value"})
        op, changes = res.get("operation"), res["changes"]
        add, remove = {}, []
        if op == "update" and "tags" in changes:
            add, remove = compare_aws_tags(cur.get("tags") or {}, want["tags"], purge_tags)
        before, after = [dict((k, v) for k, v in res["diff"][side].items() if v is not None) for side in ("before", "after")]
        if "value" in changes:
            after["value"] = REDACTED[:-1] + ":changed]"
        actions[name] = dict(operation=op, put=op == "create" or any(k in changes for k in WRITTEN),
                             add_tags=add, remove_tags=remove, before=before or None, after=after or None)
    return actions


def read_each(ssm, path, described):
    """GetParameter (decrypted) one by one, after a KMS error in GetParametersByPath: finds the parameter and key at fault.
    A value under a different key (IncorrectKeyException) is left unread (None), so it is rewritten under the wanted key."""
    found = []
    for meta in described:
        try:
            found.append(ssm.get_parameter(Name=meta["Name"], WithDecryption=True, aws_retry=True)["Parameter"])
        except is_boto3_error_code("ParameterNotFound"):
            continue  # deleted meanwhile
        except botocore.exceptions.ClientError as e:  # pylint: disable=duplicate-except
            code = kms_code(e)
            if code is None:
                raise
            if code != DIFFERENT_KEY:
                raise KmsError(e, meta.get("KeyId") or DEFAULT_KEY, code, "decrypt the stored value", meta["Name"][len(path):])
    return found


def read(ssm, path, recursive, tag_names):
    try:
        by_path = paginated_query_with_retries(ssm, "get_parameters_by_path", SSM_RETRY, Path=path, Recursive=recursive,
                                               WithDecryption=True)["Parameters"]
    except botocore.exceptions.ClientError as e:
        if kms_code(e) is None:
            raise
        by_path = None
    where = dict(Key="Path", Option="Recursive" if recursive else "OneLevel", Values=[path.rstrip("/")])
    described = paginated_query_with_retries(ssm, "describe_parameters", SSM_RETRY, ParameterFilters=[where])["Parameters"]
    if by_path is None:
        by_path = read_each(ssm, path, described)
    existing = set(p["Name"] for p in by_path) | set(p["Name"] for p in described)
    tags = {}
    for name in tag_names:
        if path + name in existing:
            tags[name] = boto3_tag_list_to_ansible_dict(
                ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=path + name, aws_retry=True)["TagList"])
    return current_from(path, by_path, described, tags)


def key_matcher(module):
    """same_key(a, b): whether two spellings of a KMS key name one key (DescribeKey, only on a mismatch). Keys are
    different only when AWS describes them with different ARNs; a DescribeKey error (once AWSRetry has retried
    throttling) is a KmsError, never "a different key"."""
    cache, clients = {}, []

    def arn(key, which):
        if key not in cache:
            if not clients:
                clients.append(module.client("kms", retry_decorator=KMS_RETRY))
            try:
                cache[key] = clients[0].describe_key(KeyId=key, aws_retry=True)["KeyMetadata"]["Arn"]
            except botocore.exceptions.ClientError as e:
                raise KmsError(e, key, e.response.get("Error", {}).get("Code"), "be described (%s)" % which)
        return cache[key]
    return lambda a, b: arn(a, "the key the parameter is stored under") == arn(b, "the key key_id names")


def put(ssm, args, create_tags):
    """PutParameter, overwriting (a retried or concurrent create converges); tags ride on a create, which
    AWS only allows without Overwrite, so one that finds the parameter already there is redone plainly."""
    if create_tags:
        try:
            return ssm.put_parameter(aws_retry=True, Tags=ansible_dict_to_boto3_tag_list(create_tags), **args)["Version"]
        except is_boto3_error_code("ParameterAlreadyExists"):
            ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=args["Name"], aws_retry=True,
                                     Tags=ansible_dict_to_boto3_tag_list(create_tags))
    return ssm.put_parameter(aws_retry=True, Overwrite=True, **args)["Version"]


def apply(ssm, path, desired, current, actions, result):
    for name, act in actions.items():
        want, full, entry = desired.get(name), path + name, result["parameters"].get(name)
        if act["operation"] == "delete" or act.get("observe"):
            continue
        if act["put"]:
            args = dict(Name=full, Value=want["value"], Type=want["type"], Tier="Standard")
            if want["key_id"]:
                args["KeyId"] = want["key_id"]
            description = want["description"] if want["description"] is not None else (current.get(name) or {}).get("description")
            if description is not None:
                args["Description"] = description
            try:
                entry["version"] = put(ssm, args, want["tags"] if act["operation"] == "create" else None)
            except botocore.exceptions.ClientError as e:
                code = kms_code(e)
                if code is None or not want["key_id"]:
                    raise
                raise KmsError(e, want["key_id"], code, "encrypt the new value", name)
            result["changed"] = True
        if act["add_tags"]:
            ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=full, aws_retry=True,
                                     Tags=ansible_dict_to_boto3_tag_list(act["add_tags"]))
        if act["remove_tags"]:
            ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=full, TagKeys=act["remove_tags"], aws_retry=True)
        result["changed"] = result["changed"] or bool(act["add_tags"] or act["remove_tags"])
    for start in range(0, len(result["deleted"]), 10):
        ssm.delete_parameters(Names=result["deleted"][start:start + 10], aws_retry=True)
        result["changed"] = True


def summary(path, desired, current, actions):
    """The result before any write: predicted versions, deletions and the diff."""
    result = dict(changed=any(a["operation"] for a in actions.values()), parameters={}, deleted=[],
                  diff=dict(before={}, after={}))
    for name, act in actions.items():
        cur, want = current.get(name) or {}, desired.get(name)
        if act.get("observe"):
            result["parameters"][name] = dict(name=path + name, changed=False, present=act["present"])
            if act["present"]:
                result["parameters"][name].update(type=cur.get("type"), version=cur.get("version"))
            continue
        if act["before"]:
            result["diff"]["before"][name] = act["before"]
        if act["operation"] == "delete":
            result["deleted"].append(path + name)
            continue
        result["diff"]["after"][name] = act["after"]
        entry = dict(name=path + name, type=want["type"], changed=bool(act["operation"]), present=True,
                     version=(cur.get("version") or 0) + 1 if act["put"] else cur.get("version"))
        if want["key_id"]:
            entry["key_id"] = want["key_id"]
        result["parameters"][name] = entry
    if result["changed"]:
        result["operation"] = "delete" if not desired else ("create" if not current else "update")
    return result


def main():
    item = dict(name=dict(type="str", required=True), value=dict(type="str", no_log=True),
                type=dict(type="str", choices=["String", "StringList", "SecureString"], default="SecureString"),
                key_id=dict(type="str", no_log=False), description=dict(type="str"), tags=dict(type="dict"),
                overwrite=dict(type="bool", default=True))
    argument_spec = dict(
        path=dict(type="str", required=True),
        parameters=dict(type="list", elements="dict", options=item, default=[]),
        key_id=dict(type="str", no_log=False),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        purge=dict(type="bool", default=False, aliases=["purge_parameters"]),
        recursive=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    desired, error = validate(params)
    if error:
        module.fail_json(msg=error)
    path = params["path"]
    ssm = module.client("ssm", retry_decorator=SSM_RETRY)
    result, phase = dict(changed=False, parameters={}, deleted=[]), "could not read the parameters"
    try:
        current = read(ssm, path, params["recursive"], [n for n, w in desired.items() if w["tags"] is not None])
        desired, observed = keep_stored(desired, current)
        actions = plan(desired, dict((n, c) for n, c in current.items() if n not in observed), params["state"], params["purge"],
                       params["purge_tags"], key_matcher(module))
        actions.update((name, dict(operation=None, observe=True, present=present)) for name, present in observed.items())
        result = summary(path, desired, current, actions)
        diff = result.pop("diff")
        if not module.check_mode:
            result["changed"], phase = False, "could not apply every change (changed says whether some were made)"
            apply(ssm, path, desired, current, actions, result)
    except KmsError as e:
        module.fail_json_aws(e.error, msg=e.message(path), **result)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="%s under %s" % (phase, path), **result)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
