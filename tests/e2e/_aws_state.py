"""Reading a customer's resources back from AWS (moto) and the emulators: what deploy must have
created, and what an orphan scan after destroy must not find. Plain boto3/httpx reads only."""

from __future__ import annotations

import boto3
import httpx


def aws(sandbox_env, service):
    return boto3.client(service, endpoint_url=sandbox_env["AWS_ENDPOINT_URL"], region_name=sandbox_env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=sandbox_env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=sandbox_env["AWS_SECRET_ACCESS_KEY"])


def tagged(sandbox_env, customer):
    return [{"Name": "tag:m8trx:customer", "Values": [customer]}]


def live_instances(sandbox_env, customer):
    ec2 = aws(sandbox_env, "ec2")
    found = ec2.describe_instances(Filters=tagged(sandbox_env, customer) + [
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    return [i for r in found["Reservations"] for i in r["Instances"]]


def tailscale_policy(sandbox_env):
    response = httpx.get("%s/api/v2/tailnet/%s/acl" % (sandbox_env["TAILSCALE_BASE_URL"], sandbox_env["TAILSCALE_TAILNET"]),
                         headers={"Accept": "application/json"}, auth=(sandbox_env["TAILSCALE_API_KEY"], ""), timeout=10)
    response.raise_for_status()
    return response.json()


def inventory_of(sandbox_env, customer, emulators, labels=None):
    """Everything that exists for ``customer``, as {kind: sorted list of identities}; empty lists when
    nothing is left. KMS keys pending deletion do not count (AWS keeps them for the waiting period)."""
    ec2, out = aws(sandbox_env, "ec2"), {}
    flt = tagged(sandbox_env, customer)
    vpcs = ec2.describe_vpcs(Filters=flt)["Vpcs"]
    vpc_ids = [v["VpcId"] for v in vpcs]
    out["vpcs"] = sorted(v["CidrBlock"] for v in vpcs)
    out["subnets"] = sorted(s["CidrBlock"] for s in ec2.describe_subnets(Filters=flt)["Subnets"])
    out["igws"] = sorted(g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=flt)["InternetGateways"])
    out["route_tables"] = sorted(t["RouteTableId"] for t in ec2.describe_route_tables(Filters=flt)["RouteTables"])
    out["security_groups"] = sorted(g["GroupName"] for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"])
    out["flow_logs"] = sorted(f["FlowLogId"] for f in ec2.describe_flow_logs(
        Filters=[{"Name": "resource-id", "Values": vpc_ids}])["FlowLogs"]) if vpc_ids else []
    instances = live_instances(sandbox_env, customer)
    out["instances"] = sorted(next(t["Value"] for t in i["Tags"] if t["Key"] == "m8trx:deployment") for i in instances)
    instance_ids = [i["InstanceId"] for i in instances]
    out["eips"] = sorted(a["InstanceId"] for a in ec2.describe_addresses()["Addresses"] if a.get("InstanceId") in instance_ids)
    kms = aws(sandbox_env, "kms")
    aliases = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/m8trx-%s" % customer]
    out["kms_keys"] = [a["AliasName"] for a in aliases
                       if kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"]
    iam = aws(sandbox_env, "iam")
    out["iam_roles"] = sorted(r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("m8trx-%s-" % customer))
    out["instance_profiles"] = sorted(p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
                                      if p["InstanceProfileName"] == "m8trx-%s" % customer)
    out["buckets"] = sorted(b["Name"] for b in aws(sandbox_env, "s3").list_buckets()["Buckets"]
                            if b["Name"].startswith("m8trx-%s-" % customer))
    out["log_groups"] = sorted(g["logGroupName"] for g in aws(sandbox_env, "logs").describe_log_groups(
        logGroupNamePrefix="/m8trx/%s/" % customer)["logGroups"])
    out["ssm"] = sorted(p["Name"] for p in aws(sandbox_env, "ssm").get_parameters_by_path(
        Path="/m8trx/%s/" % customer, Recursive=True)["Parameters"])
    customer_id = "cust_" + customer.replace("-", "_")
    out["brain"] = [c["customer_id"] for c in emulators["brain"].get("/_emulator/brain/customers").json()
                    if c["customer_id"] == customer_id]
    tag = "tag:m8trx-cust-%s" % customer
    state = emulators["tailscale"].get("/_emulator/tailscale/state").json()
    out["ts_keys"] = sorted(k["id"] for k in state["keys"] if k.get("description") == "%s agents" % customer and not k.get("invalid"))
    out["ts_devices"] = sorted(d["hostname"] for d in state["devices"] if tag in (d.get("tags") or []))
    policy = tailscale_policy(sandbox_env)
    out["ts_tag_owners"] = [t for t in policy.get("tagOwners", {}) if t == tag]
    out["ts_rules"] = sorted(repr(a) for a in policy.get("acls", []) if tag in repr(a))
    zone = sandbox_env["CLOUDFLARE_ZONE_NAME"]
    out["dns"] = sorted(r["name"] for r in emulators["cloudflare"].get("/_emulator/cloudflare/records").json()
                        if r.get("comment") == "m8trx-managed:customer" and r["name"].endswith("." + zone)
                        and r["name"][:-len(zone) - 1] in (labels or [customer]))
    return out
