"""deploy and destroy through real ansible-playbook runs against moto and the emulators.

State is asserted by reading AWS (moto) and the emulators back, never from task output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from _aws_state import aws, inventory_of, live_instances, tailscale_policy
from conftest import ANSIBLE_PLAYBOOK, inventory, playbook_env

REPO = Path(__file__).resolve().parents[2]
# the deploy steps: customer_stop_after's choices, the one list the argument spec, the role and the tests read
STEPS = [s for s in yaml.safe_load((REPO / "roles/customer/meta/argument_specs.yml").read_text())[
    "argument_specs"]["main"]["options"]["customer_stop_after"]["choices"] if s]
# acme's policy rules, each exactly once: within the customer, to the brain's port, from operators and brain
EXPECTED_RULES = [repr(r) for r in (
    {"action": "accept", "src": ["tag:m8trx-cust-acme"], "dst": ["tag:m8trx-cust-acme:*"]},
    {"action": "accept", "src": ["tag:m8trx-cust-acme"], "dst": ["tag:m8trx-brain:443"]},
    {"action": "accept", "src": ["tag:mgmt", "tag:m8trx-brain"], "dst": ["tag:m8trx-cust-acme:*"]})]
NOTHING = {"vpcs": [], "subnets": [], "igws": [], "route_tables": [], "security_groups": [], "flow_logs": [], "instances": [],
           "eips": [], "kms_keys": [], "iam_roles": [], "instance_profiles": [], "buckets": [], "log_groups": [], "ssm": [],
           "brain": [], "ts_keys": [], "ts_devices": [], "ts_tag_owners": [], "ts_rules": [], "dns": []}


def recap(stdout):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    out = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", stdout, re.M):
        out[host] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", counts))
    return out


@pytest.fixture(scope="module")
def deploy(run_playbook, tmp_path_factory):
    artifacts = tmp_path_factory.mktemp("artifacts")

    def _run(*args, playbook="playbooks/deploy.yml"):
        return run_playbook(playbook, "-e", "customer_artifacts_dir=%s" % artifacts, *args)
    _run.artifacts = artifacts
    return _run


@pytest.fixture(scope="module")
def acme(deploy, sandbox_env, emulators):
    """acme (m8trx_agent) and beta (baseline) from the sandbox inventory, deployed once."""
    first = deploy("-e", "customer=acme")
    assert first.returncode == 0, first.stdout[-5000:]
    beta = deploy("-e", "customer=beta")
    assert beta.returncode == 0, beta.stdout[-5000:]
    return first


def test_deploy_creates_every_resource_with_its_properties(acme, deploy, sandbox_env, emulators):
    state = inventory_of(sandbox_env, "acme", emulators)
    assert {k: len(v) for k, v in state.items()} == {
        "vpcs": 1, "subnets": 1, "igws": 1, "route_tables": 1, "security_groups": 1, "flow_logs": 1, "instances": 1, "eips": 1,
        "kms_keys": 1, "iam_roles": 1, "instance_profiles": 1, "buckets": 1, "log_groups": 1, "ssm": 6, "brain": 1,
        "ts_keys": 1, "ts_devices": 0, "ts_tag_owners": 1, "ts_rules": len(EXPECTED_RULES), "dns": 1}
    assert sorted(state["ts_rules"]) == sorted(EXPECTED_RULES)  # each rule once: a duplicate fails
    ec2, kms, s3, iam, ssm = (aws(sandbox_env, s) for s in ("ec2", "kms", "s3", "iam", "ssm"))

    key_id = next(a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/m8trx-acme")
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    key_arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert any(s["Principal"].get("AWS", "").endswith(":role/m8trx-acme-instance") for s in key_policy["Statement"])

    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:m8trx:customer", "Values": ["acme"]}])["Vpcs"][0]
    routes = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                {"Name": "tag:m8trx:customer", "Values": ["acme"]}])["RouteTables"][0]
    assert any(r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("GatewayId", "").startswith("igw-") for r in routes["Routes"])
    flow = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"][0]
    assert (flow["TrafficType"], flow["LogGroupName"], flow["MaxAggregationInterval"]) == ("ALL", "/m8trx/acme/vpc-flow-logs", 60)
    group = aws(sandbox_env, "logs").describe_log_groups(logGroupNamePrefix="/m8trx/acme/")["logGroups"][0]
    assert group["retentionInDays"] == 30 and group.get("kmsKeyId") == key_arn
    sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                               {"Name": "group-name", "Values": ["m8trx-acme-m8trx_agent"]}])["SecurityGroups"][0]
    assert sorted(p["FromPort"] for p in sg["IpPermissions"]) == [80, 443]

    bucket = state["buckets"][0]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"TlsOnly", "CustomerKeyOnly", "KmsEncryptionOnly"}

    role = iam.get_role(RoleName="m8trx-acme-instance")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(":policy/m8trx-customer-boundary")
    scope = iam.get_role_policy(RoleName="m8trx-acme-instance", PolicyName="m8trx-customer-scope")["PolicyDocument"]
    assert scope["Statement"][0]["Resource"].endswith(":parameter/m8trx/acme/*")

    instance = live_instances(sandbox_env, "acme")[0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required" and instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert instance["MetadataOptions"]["InstanceMetadataTags"] == "enabled"
    assert instance["IamInstanceProfile"]["Arn"].endswith(":instance-profile/m8trx-acme")
    assert ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="disableApiTermination")[
        "DisableApiTermination"]["Value"] is True
    volume_id = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert volume["Encrypted"] and volume["KmsKeyId"] == key_arn and volume["VolumeType"] == "gp3"
    user_data = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")["UserData"]["Value"]
    assert len(user_data) < 16384 * 4 / 3 + 4
    address = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance["InstanceId"]]}])["Addresses"][0]

    params = {p["Name"].rsplit("/", 1)[1]: p for p in ssm.get_parameters_by_path(Path="/m8trx/acme/", WithDecryption=False)["Parameters"]}
    assert set(params) == {"brain-key", "brain-customer-id", "brain-url", "tailscale-auth-key", "agent-fetch-pat", "agent-ui-password"}
    described = {p["Name"].rsplit("/", 1)[1]: p for p in ssm.describe_parameters(
        ParameterFilters=[{"Key": "Path", "Values": ["/m8trx/acme"]}])["Parameters"]}
    for name in ("brain-key", "tailscale-auth-key", "agent-fetch-pat", "agent-ui-password"):
        assert described[name]["Type"] == "SecureString" and described[name]["KeyId"] in ("alias/m8trx-acme", key_id, key_arn)
    brain_key = ssm.get_parameter(Name="/m8trx/acme/brain-key", WithDecryption=True)["Parameter"]["Value"]

    # the stored brain key really is acme's: the brain accepts a heartbeat with it
    import httpx
    posted = httpx.post(sandbox_env["M8TRX_BRAIN_URL"] + "/v1/events", json={"event_type": "heartbeat", "payload": {"hostname": "t"}},
                        headers={"Authorization": "Bearer " + brain_key}, timeout=10)
    assert posted.status_code in (200, 201, 202), posted.text

    records = [r for r in emulators["cloudflare"].get("/_emulator/cloudflare/records").json()
               if r["name"] == "acme." + sandbox_env["CLOUDFLARE_ZONE_NAME"]]
    assert [(r["type"], r["content"], r["proxied"]) for r in records] == [("A", address["PublicIp"], False)]

    policy = tailscale_policy(sandbox_env)
    assert policy["tagOwners"]["tag:m8trx-cust-acme"] == ["autogroup:admin"]

    card = (deploy.artifacts / "acme-welcome.txt").read_text()
    assert "https://acme." + sandbox_env["CLOUDFLARE_ZONE_NAME"] in card and "/m8trx/acme/agent-ui-password" in card
    assert brain_key not in acme.stdout and brain_key not in card

    beta = inventory_of(sandbox_env, "beta", emulators)
    assert (len(beta["instances"]), beta["brain"], beta["ssm"], beta["ts_tag_owners"]) == (1, [], [], [])
    beta_sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["m8trx-beta-baseline"]}])["SecurityGroups"][0]
    assert [p["FromPort"] for p in beta_sg["IpPermissions"]] == [8080]


def test_second_run_and_check_diff_change_nothing_and_show_no_secret(acme, deploy, sandbox_env, secrets_of):
    again = deploy("-e", "customer=acme", "-vvv")
    assert again.returncode == 0 and recap(again.stdout)["acme"]["changed"] == 0, again.stdout[-4000:]
    check = deploy("-e", "customer=acme", "--check", "--diff")
    assert check.returncode == 0 and recap(check.stdout)["acme"]["changed"] == 0, check.stdout[-4000:]
    ssm = aws(sandbox_env, "ssm")
    stored = [p["Value"] for p in ssm.get_parameters_by_path(Path="/m8trx/acme/", WithDecryption=True)["Parameters"]
              if p["Type"] == "SecureString"]
    assert len(stored) == 4
    for output in (acme.stdout + acme.stderr, again.stdout + again.stderr, check.stdout + check.stderr):
        leaked = [s for s in stored + list(secrets_of) if s in output]
        assert not leaked, "%d secret(s) in the deploy output" % len(leaked)


def test_every_step_is_crash_safe(deploy, sandbox_env, emulators, tmp_path):
    """One deployment per step stops right after it (as a crash there would leave it); one more run
    finishes them all, and each ends exactly like an uninterrupted deploy, with nothing orphaned."""
    hosts = dict(("crash-%s" % step.replace("_", ""), {"m8trx_template": "m8trx_agent", "customer_stop_after": step}) for step in STEPS)
    hosts["crash-none"] = {"m8trx_template": "m8trx_agent"}
    inv = inventory(tmp_path, hosts)
    try:
        partial = deploy("-i", inv, "--forks", "5", "-e", "customer=all")
        assert partial.returncode == 0, partial.stdout[-4000:]
        reference = inventory_of(sandbox_env, "crash-none", emulators)
        assert inventory_of(sandbox_env, "crash-plan", emulators) == NOTHING  # stop_after=plan wrote nothing
        finish = deploy("-i", inv, "--forks", "5", "-e", "customer=all", "-e", "customer_stop_after=")
        assert finish.returncode == 0, finish.stdout[-4000:]
        for host in hosts:
            state = inventory_of(sandbox_env, host, emulators)
            assert {k: len(v) for k, v in state.items()} == {k: len(v) for k, v in reference.items()}, host
    finally:
        gone = deploy("-i", inv, "--forks", "5", "-e", "customer=%s" % ",".join(hosts), "-e", "destroy_confirm=%s" % ",".join(hosts),
                      playbook="playbooks/destroy.yml")
    assert gone.returncode == 0, gone.stdout[-4000:]
    for host in hosts:
        assert inventory_of(sandbox_env, host, emulators) == NOTHING, host


def test_destroy_refuses_without_confirmation_then_removes_everything_and_only_acme(acme, deploy, sandbox_env, emulators):
    beta_before = inventory_of(sandbox_env, "beta", emulators)
    refused = deploy("-e", "customer=acme", playbook="playbooks/destroy.yml")
    assert refused.returncode != 0 and "destroy_confirm=acme" in refused.stdout
    assert len(inventory_of(sandbox_env, "acme", emulators)["instances"]) == 1
    wrong = deploy("-e", "customer=acme", "-e", "destroy_confirm=beta", playbook="playbooks/destroy.yml")
    assert wrong.returncode != 0 and "does not name a selected customer" in wrong.stdout

    gone = deploy("-e", "customer=acme", "-e", "destroy_confirm=acme", playbook="playbooks/destroy.yml")
    assert gone.returncode == 0, gone.stdout[-4000:]
    assert inventory_of(sandbox_env, "acme", emulators) == NOTHING
    assert inventory_of(sandbox_env, "beta", emulators) == beta_before
    again = deploy("-e", "customer=acme", "-e", "destroy_confirm=acme", playbook="playbooks/destroy.yml")
    assert again.returncode == 0 and recap(again.stdout)["acme"]["changed"] == 0, again.stdout[-4000:]


def test_a_second_agent_shares_the_customer_and_has_its_own_instance_and_subdomain(deploy, sandbox_env, emulators, tmp_path):
    inv = inventory(tmp_path, {"mat": {"m8trx_template": "m8trx_agent"},
                               "mat-two": {"m8trx_template": "m8trx_agent", "m8trx_customer": "mat", "m8trx_subdomain": "mat-two"}})
    try:
        first = deploy("-i", inv, "-e", "customer=mat")
        assert first.returncode == 0, first.stdout[-4000:]
        state = inventory_of(sandbox_env, "mat", emulators, labels=["mat", "mat-two"])
        assert (state["instances"], state["dns"]) == (["mat", "mat-two"], ["mat-two.%s" % sandbox_env["CLOUDFLARE_ZONE_NAME"],
                                                                          "mat.%s" % sandbox_env["CLOUDFLARE_ZONE_NAME"]])
        assert (len(state["vpcs"]), state["brain"], len(state["ssm"]), len(state["ts_keys"]), state["ts_tag_owners"]) == \
            (1, ["cust_mat"], 6, 1, ["tag:m8trx-cust-mat"])
        profiles = {i["IamInstanceProfile"]["Arn"].rsplit("/", 1)[1] for i in live_instances(sandbox_env, "mat")}
        assert profiles == {"m8trx-mat"}

        # destroying one agent leaves the customer's shared resources to the other
        one = deploy("-i", inv, "--limit", "mat-two", "-e", "destroy_confirm=mat", playbook="playbooks/destroy.yml")
        assert one.returncode == 0, one.stdout[-4000:]
        state = inventory_of(sandbox_env, "mat", emulators, labels=["mat", "mat-two"])
        assert (state["instances"], state["dns"], state["brain"], len(state["ssm"])) == \
            (["mat"], ["mat.%s" % sandbox_env["CLOUDFLARE_ZONE_NAME"]], ["cust_mat"], 6)
    finally:
        gone = deploy("-i", inv, "-e", "customer=mat", "-e", "destroy_confirm=mat", playbook="playbooks/destroy.yml")
    assert gone.returncode == 0, gone.stdout[-4000:]
    assert inventory_of(sandbox_env, "mat", emulators, labels=["mat", "mat-two"]) == NOTHING


def _requests(emulators, sandbox_env):
    """Requests the emulators and moto have seen: bad input must not add one. Of moto's, the STS ones
    count: a run's first AWS call is the plan's GetCallerIdentity (the sandbox's hosts service polls EC2)."""
    import httpx
    moto = httpx.get(sandbox_env["AWS_ENDPOINT_URL"] + "/_emulator/requests", timeout=30).json()
    return len([r for r in moto if r["service"] == "sts"]) + sum(len(client.get("/_emulator/requests").json()) for client in emulators.values())


@pytest.mark.parametrize("hosts, args, message", [
    ({"Bad_Name": {"m8trx_template": "m8trx_agent"}}, [], "inventory host name='Bad_Name' is not valid"),
    ({"ab": {"m8trx_template": "baseline"}}, [], "'ab' is not valid"),
    ({"okname": {"m8trx_template": "agent"}}, [], "m8trx_template='agent' is not valid"),
    ({"okname": {"m8trx_template": "baseline", "m8trx_volume_size_gb": 10}}, [], "m8trx_volume_size_gb=10 is not valid"),
    ({"okname": {"m8trx_template": "baseline", "m8trx_volume_size_gb": "big"}}, [], "m8trx_volume_size_gb='big' is not valid"),
    ({"okname": {"m8trx_template": "baseline", "m8trx_instance_type": "x1.32xlarge"}}, [], "m8trx_instance_type='x1.32xlarge'"),
    ({"okname": {"m8trx_template": "baseline", "m8trx_subdomain": "a.b"}}, [], "m8trx_subdomain='a.b' is not valid"),
    ({"okname": {"m8trx_template": "baseline", "m8trx_subdomain": "x" * 64}}, [], "m8trx_subdomain="),
    ({"one": {"m8trx_template": "baseline", "m8trx_subdomain": "same"},
      "two": {"m8trx_template": "baseline", "m8trx_subdomain": "same"}}, [], "is used by 2 deployments"),
    ({"one": {"m8trx_template": "baseline"}, "one-b": {"m8trx_template": "m8trx_agent", "m8trx_customer": "one"}}, [],
     "mix templates"),
    ({"okname": {"m8trx_template": "baseline"}}, ["-e", "customer=zeta"], "customer 'zeta' is not in the inventory"),
    ({"okname": {"m8trx_template": "baseline"}}, ["-e", "customer_stop_after=dnss"], "value of customer_stop_after must be one of"),
    ({"okname": {"m8trx_template": "m8trx_agent"}}, ["-e", "customer=okname", "-e", "customer_agent_fetch_pat="],
     "needs the brain URL"),
    # wrong types name the host, the variable, the value and what is expected (they used to crash the check)
    ({"okname": {"m8trx_template": "baseline", "m8trx_customer": 123}}, [],
     "okname: m8trx_customer=123 is not valid: expected a string"),
    ({"okname": {"m8trx_template": ["baseline"]}}, [], "okname: m8trx_template=['baseline'] is not valid: expected a string"),
    ({"okname": {"m8trx_template": "baseline", "m8trx_subdomain": {"a": 1}}}, [], "m8trx_subdomain={'a': 1} is not valid"),
    ({"okname": {"m8trx_template": "baseline", "m8trx_volume_size_gb": [30]}}, [], "m8trx_volume_size_gb=[30] is not valid"),
    # an empty or missing selection never widens to the whole inventory
    ({"okname": {"m8trx_template": "baseline"}}, ["-e", "customer="], "customer='' is empty"),
    ({"okname": {"m8trx_template": "baseline"}}, ["-e", "customer=  "], "is empty"),
    ({"okname": {"m8trx_template": "baseline"}}, [], "no deployment is selected"),
    ({"okname": {"m8trx_template": "baseline"}}, ["-e", '{"customer": ["okname"]}'], "customer=['okname'] is not valid"),
])
def test_bad_input_fails_fast_with_a_clear_message_and_no_api_call(deploy, emulators, sandbox_env, tmp_path, hosts, args, message):
    before = _requests(emulators, sandbox_env)
    result = deploy("-i", inventory(tmp_path, hosts), *args)
    assert result.returncode != 0 and message in result.stdout, result.stdout[-3000:]
    assert _requests(emulators, sandbox_env) == before
    assert "aws_caller_info" not in result.stdout and "Identify the account" not in result.stdout


@pytest.mark.parametrize("args, message", [
    (["-e", "customer=all"], "customer=all is refused"),
    ([], "no deployment is selected"),
    (["-e", "customer="], "is empty"),
    (["--limit", "customers"], "destroy never acts on the whole inventory"),
    (["-e", "customer=one"], "destroy_confirm=one,two does not name a selected customer"),
])
def test_destroy_never_takes_a_fleet_wide_selection(deploy, emulators, sandbox_env, tmp_path, args, message):
    before = _requests(emulators, sandbox_env)
    hosts = {"one": {"m8trx_template": "baseline"}, "two": {"m8trx_template": "baseline"}}
    result = deploy("-i", inventory(tmp_path, hosts), "-e", "destroy_confirm=one,two", *args, playbook="playbooks/destroy.yml")
    assert result.returncode != 0 and message in result.stdout, result.stdout[-3000:]
    assert _requests(emulators, sandbox_env) == before


def test_a_deploy_killed_mid_step_is_finished_by_running_it_again(deploy, run_playbook, sandbox_env, emulators, tmp_path):
    """SIGKILL (no clean-up at all) while the brain customer is minted and while the instance is
    launched; the next run converges to exactly one of everything."""
    import os
    import signal
    import subprocess
    import time

    inv = inventory(tmp_path, {"killed": {"m8trx_template": "m8trx_agent"}})
    env = playbook_env(sandbox_env)
    try:
        for marker in ("TASK [m8trx.deployer.customer : Brain customer]", "TASK [m8trx.deployer.customer : Instance ("):
            proc = subprocess.Popen([ANSIBLE_PLAYBOOK, "playbooks/deploy.yml", "-i", inv, "-e", "customer=killed",
                                     "-e", "customer_artifacts_dir=%s" % tmp_path], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
            for line in proc.stdout:
                if line.startswith(marker):
                    time.sleep(1.0)
                    break
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stdout.close()
            assert proc.returncode == -signal.SIGKILL
        again = deploy("-i", inv, "-e", "customer=killed")
        assert again.returncode == 0, again.stdout[-4000:]
        state = inventory_of(sandbox_env, "killed", emulators)
        assert {k: len(v) for k, v in state.items() if k not in ("ts_rules", "ts_devices")} == {
            "vpcs": 1, "subnets": 1, "igws": 1, "route_tables": 1, "security_groups": 1, "flow_logs": 1, "instances": 1, "eips": 1,
            "kms_keys": 1, "iam_roles": 1, "instance_profiles": 1, "buckets": 1, "log_groups": 1, "ssm": 6, "brain": 1,
            "ts_keys": 1, "ts_tag_owners": 1, "dns": 1}
        instances = aws(sandbox_env, "ec2").describe_instances(Filters=[{"Name": "tag:m8trx:customer", "Values": ["killed"]}])
        assert len([i for r in instances["Reservations"] for i in r["Instances"]]) == 1, "an orphaned instance was launched"
    finally:
        gone = deploy("-i", inv, "-e", "customer=killed", "-e", "destroy_confirm=killed", playbook="playbooks/destroy.yml")
    assert gone.returncode == 0, gone.stdout[-4000:]
    assert inventory_of(sandbox_env, "killed", emulators) == NOTHING
