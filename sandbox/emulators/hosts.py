"""EC2 hosts for the sandbox: the instances moto runs come up as local systemd containers.

moto keeps instances as records only. This service makes them boot, the way EC2 does:

* A watcher polls moto (``DescribeInstances``) every ``HOSTS_EMU_POLL`` seconds. An instance
  tagged ``m8trx:customer`` that is ``running`` gets a podman container from the sandbox host
  image (systemd as PID 1, host network so it reaches moto and the emulators on 127.0.0.1). One
  that is stopped, terminated or gone has its container removed.
* The container's ``m8trx-sandbox-cloud-init.service`` does what cloud-init's ``scripts-user``
  does: it fetches the instance's user-data from the metadata service and runs it, once. So the
  first-boot script that runs is the one ``deploy`` gave EC2, byte for byte.
* The instance metadata service (IMDSv2) is served here under ``/<instance-id>/latest/...``:
  ``PUT api/token`` (TTL header required), then ``meta-data/…`` (instance-id, placement, IPs,
  instance tags when the instance allows them, IAM role credentials from moto's STS),
  ``user-data`` and ``dynamic/instance-identity/document``. An instance whose metadata options
  say ``HttpTokens: required`` gets 401 without a valid token, as on EC2. Inside a container the
  AWS CLI and SDKs find it through ``AWS_EC2_METADATA_SERVICE_ENDPOINT``, their documented setting.

Emulator helpers: ``GET /_emulator/hosts`` (containers and their first-boot state),
``GET /_emulator/hosts/{instance_id}/first-boot-log``, ``GET|POST /_emulator/hosts/config``
(``{"boot": "all" | "none" | ["acme", ...]}``: which customers' instances boot; the test suite turns
booting off except where it is the subject), and the shared ``/_emulator/requests|faults|reset``
(reset removes every host container and restores the boot policy).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import boto3
from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sandbox.emulators import _common

HOST_DIR = Path(__file__).resolve().parent.parent / "host"
TOKEN_TTL_MAX = 21600
UNIT = "m8trx-sandbox-cloud-init.service"


def utc(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Podman:
    """The few podman commands the service needs (``CONTAINERS_CONF`` comes from the launcher)."""

    def __init__(self, image: str, prefix: str, label: str):
        self.image, self.prefix, self.label = image, prefix, label

    @staticmethod
    def run(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(("podman",) + args, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError("podman %s: %s" % (args[0], (proc.stderr or proc.stdout).strip()[-500:]))
        return proc

    def name(self, instance_id: str) -> str:
        return "%s-%s" % (self.prefix, instance_id)

    def listing(self) -> dict:
        """instance id -> container name, for this sandbox's containers (running or not)."""
        out = self.run("ps", "-a", "--filter", "label=m8trx.sandbox.hosts=%s" % self.label,
                       "--format", "{{.Names}} {{.Labels}}").stdout
        found = {}
        for line in out.splitlines():
            name = line.split(" ", 1)[0]
            if name.startswith(self.prefix + "-"):
                found[name[len(self.prefix) + 1:]] = name
        return found

    def boot(self, instance_id: str, hostname: str, overlay: Path) -> None:
        name = self.name(instance_id)
        self.run("rm", "-f", "-t", "0", name, check=False)
        # SYS_ADMIN: the first boot sets the host name (sethostname in the container's own UTS namespace)
        self.run("create", "--name", name, "--label", "m8trx.sandbox.hosts=%s" % self.label,
                 "--label", "m8trx.instance=%s" % instance_id, "--hostname", hostname, "--network", "host",
                 "--cap-add", "SYS_ADMIN", "--stop-timeout", "5", self.image, "/sbin/init")
        self.run("cp", "%s/." % overlay, "%s:/" % name)
        self.run("start", name)

    def remove(self, name: str) -> None:
        self.run("rm", "-f", "-t", "0", name, check=False)

    def exec(self, name: str, *args: str) -> subprocess.CompletedProcess:
        return self.run("exec", name, *args, check=False, timeout=30)


class Hosts:
    def __init__(self):
        self.endpoint = os.environ["HOSTS_EMU_AWS_ENDPOINT"]
        self.public_url = os.environ["HOSTS_EMU_URL"].rstrip("/")
        self.region = os.environ.get("HOSTS_EMU_REGION", "us-east-2")
        self.default_boot = self._parse_boot(json.loads(os.environ.get("HOSTS_EMU_BOOT", '"all"')))
        self.poll = float(os.environ.get("HOSTS_EMU_POLL", "1"))
        label = os.environ.get("HOSTS_EMU_LABEL", "default")
        self.podman = Podman(os.environ.get("HOSTS_EMU_IMAGE", "localhost/m8trx-sandbox-host:bookworm"),
                             "m8trx-host-%s" % label, label)
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=self.region)
        self.ec2 = session.client("ec2", endpoint_url=self.endpoint)
        self.iam = session.client("iam", endpoint_url=self.endpoint)
        self.sts = session.client("sts", endpoint_url=self.endpoint)
        self.lock = threading.RLock()
        self.boot_policy = self.default_boot
        self.tokens: dict = {}          # token -> (instance id, expiry)
        self.hosts: dict = {}           # instance id -> {container, customer, state, booted, error}
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.stop = threading.Event()
        for instance_id, name in self.podman.listing().items():  # adopt the containers of an earlier run
            self.hosts[instance_id] = {"container": name, "customer": None, "state": "running",
                                       "booted": None, "error": None}
        threading.Thread(target=self.watch, name="hosts-watcher", daemon=True).start()

    @staticmethod
    def _parse_boot(value):
        if value in ("all", "none"):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return sorted(set(value))
        raise ValueError('"boot" is "all", "none" or a list of customer names')

    # ------------------------------------------------------------------ moto
    def instance(self, instance_id: str) -> Optional[dict]:
        try:
            reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except self.ec2.exceptions.ClientError:
            return None
        for reservation in reservations:
            for item in reservation["Instances"]:
                return item
        return None

    def instances(self) -> list:
        found = []
        for page in self.ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "tag-key", "Values": ["m8trx:customer"]}]):
            for reservation in page["Reservations"]:
                found.extend(reservation["Instances"])
        return found

    @staticmethod
    def tags(instance: dict) -> dict:
        return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}

    def wants_boot(self, customer: str) -> bool:
        policy = self.boot_policy
        return policy == "all" or (isinstance(policy, list) and customer in policy)

    # ------------------------------------------------------------------ the watcher
    def watch(self) -> None:
        while not self.stop.wait(self.poll):
            try:
                self.reconcile()
            except Exception as exc:  # moto restarting, podman busy: try again next round
                print("hosts: reconcile failed: %s" % exc, flush=True)

    def reconcile(self) -> None:
        seen = set()
        for item in self.instances():
            instance_id, state = item["InstanceId"], item["State"]["Name"]
            customer = self.tags(item).get("m8trx:customer", "")
            seen.add(instance_id)
            with self.lock:
                host = self.hosts.get(instance_id)
                if state == "running" and host is None and self.wants_boot(customer):
                    self.hosts[instance_id] = {"container": self.podman.name(instance_id), "customer": customer,
                                               "state": "booting", "booted": None, "error": None}
                    self.pool.submit(self.boot, instance_id, item)
                elif state != "running" and host is not None and host["state"] != "removing":
                    host["state"] = "removing"
                    self.pool.submit(self.remove, instance_id)
        with self.lock:
            for instance_id, host in list(self.hosts.items()):
                if instance_id not in seen and host["state"] != "removing":
                    host["state"] = "removing"
                    self.pool.submit(self.remove, instance_id)

    def boot(self, instance_id: str, item: dict) -> None:
        overlay = Path(tempfile.mkdtemp(prefix="m8trx-host-overlay-"))
        try:
            self.write_overlay(overlay, instance_id)
            hostname = item.get("PrivateDnsName", "").split(".")[0] or "ip-" + instance_id
            self.podman.boot(instance_id, hostname, overlay)
            with self.lock:
                self.hosts[instance_id].update(state="running", booted=time.time())
        except Exception as exc:
            with self.lock:
                self.hosts[instance_id].update(state="failed", error=str(exc))
        finally:
            shutil.rmtree(overlay, ignore_errors=True)

    def remove(self, instance_id: str) -> None:
        with self.lock:
            host = self.hosts.get(instance_id)
        if host is not None:
            self.podman.remove(host["container"])
        with self.lock:
            self.hosts.pop(instance_id, None)

    def remove_all(self) -> None:
        for name in self.podman.listing().values():
            self.podman.remove(name)
        with self.lock:
            self.hosts.clear()

    def write_overlay(self, root: Path, instance_id: str) -> None:
        """Files put into the container before it starts: cloud-init's stand-in, the CLI stand-ins."""
        system = root / "etc/systemd/system"
        (system / "multi-user.target.wants").mkdir(parents=True)
        shutil.copy(HOST_DIR / UNIT, system / UNIT)
        (system / "multi-user.target.wants" / UNIT).symlink_to("/etc/systemd/system/" + UNIT)
        (root / "usr/local/bin").mkdir(parents=True)
        for tool in ("tailscale", "m8trx-sandbox-cloud-init"):
            shutil.copy(HOST_DIR / tool, root / "usr/local/bin" / tool)
            os.chmod(root / "usr/local/bin" / tool, 0o755)
        env = root / "etc/m8trx-sandbox"
        env.mkdir(parents=True)
        # the AWS CLI/SDK settings an EC2 host does not need: where IMDS and the AWS endpoints are
        (env / "cloud.env").write_text("AWS_EC2_METADATA_SERVICE_ENDPOINT=%s/%s/\nAWS_ENDPOINT_URL=%s\n"
                                       % (self.public_url, instance_id, self.endpoint))

    # ------------------------------------------------------------------ IMDS
    def token_owner(self, request: Request) -> Optional[str]:
        token = request.headers.get("x-aws-ec2-metadata-token")
        if not token:
            return None
        with self.lock:
            owner = self.tokens.get(token)
        if owner is None or owner[1] < time.time():
            return ""
        return owner[0]

    def credentials(self, item: dict) -> Optional[tuple]:
        profile_arn = (item.get("IamInstanceProfile") or {}).get("Arn")
        if not profile_arn:
            return None
        profile = self.iam.get_instance_profile(InstanceProfileName=profile_arn.rsplit("/", 1)[1])["InstanceProfile"]
        if not profile["Roles"]:
            return None
        role = profile["Roles"][0]
        creds = self.sts.assume_role(RoleArn=role["Arn"], RoleSessionName=item["InstanceId"])["Credentials"]
        return role["RoleName"], {
            "Code": "Success", "LastUpdated": utc(time.time()), "Type": "AWS-HMAC",
            "AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
            "Token": creds["SessionToken"], "Expiration": utc(creds["Expiration"].timestamp())}

    def metadata(self, item: dict, path: str):
        """The value (str) or listing (list) at meta-data/<path>, None when there is none."""
        placement = item.get("Placement", {})
        tags = self.tags(item)
        tags_allowed = (item.get("MetadataOptions") or {}).get("InstanceMetadataTags") == "enabled"
        simple = {
            "instance-id": item["InstanceId"], "instance-type": item.get("InstanceType"),
            "ami-id": item.get("ImageId"), "local-ipv4": item.get("PrivateIpAddress"),
            "public-ipv4": item.get("PublicIpAddress"), "local-hostname": item.get("PrivateDnsName"),
            "hostname": item.get("PrivateDnsName"), "placement/availability-zone": placement.get("AvailabilityZone"),
            "placement/region": self.region,
        }
        path = path.strip("/")
        if path in simple:
            return simple[path]
        if path == "":
            return sorted({key.split("/")[0] + ("/" if "/" in key else "") for key in simple if simple[key]}
                          | {"iam/"} | ({"tags/"} if tags_allowed else set()))
        if path == "placement":
            return ["availability-zone", "region"]
        if path == "tags/instance" and tags_allowed:
            return sorted(tags)
        if path.startswith("tags/instance/") and tags_allowed:
            return tags.get(path[len("tags/instance/"):])
        if path == "iam":
            return ["info", "security-credentials/"]
        if path.startswith("iam/"):
            found = self.credentials(item)
            if found is None:
                return None
            role, creds = found
            if path == "iam/security-credentials":
                return [role]
            if path == "iam/security-credentials/" + role:
                return json.dumps(creds, indent=2)
            if path == "iam/info":
                return json.dumps({"Code": "Success", "LastUpdated": creds["LastUpdated"],
                                   "InstanceProfileArn": item["IamInstanceProfile"]["Arn"],
                                   "InstanceProfileId": item["IamInstanceProfile"].get("Id", "")}, indent=2)
        return None

    def view(self) -> list:
        with self.lock:
            hosts = {k: dict(v) for k, v in self.hosts.items()}
        for instance_id, host in sorted(hosts.items()):
            host["instance_id"] = instance_id
            host["first_boot"] = None
            if host["state"] == "running":
                shown = self.podman.exec(host["container"], "systemctl", "show", "-p", "ActiveState,Result", UNIT)
                values = dict(line.partition("=")[::2] for line in shown.stdout.splitlines())
                if shown.returncode == 0 and "ActiveState" in values:
                    # active + success: the user-data ran and exited 0; failed: it stopped at an error
                    host["first_boot"] = {"active": values["ActiveState"], "result": values.get("Result")}
        return [hosts[k] for k in sorted(hosts)]


def create_app():
    hosts = Hosts()

    def reset():
        hosts.remove_all()
        with hosts.lock:
            hosts.boot_policy = hosts.default_boot
            hosts.tokens.clear()

    api, asgi = _common.create_app("hosts", reset, lambda status, message: {"message": message})

    def imds_error(status: int) -> Response:
        # IMDS answers errors as a bare HTML page; the status is what clients act on
        return PlainTextResponse("", status_code=status)

    @api.put("/{instance_id}/latest/api/token")
    def imds_token(instance_id: str, request: Request):
        ttl = request.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= TOKEN_TTL_MAX:
            return imds_error(400)
        if request.headers.get("x-forwarded-for"):  # EC2 refuses token requests that went through a proxy
            return imds_error(403)
        if hosts.instance(instance_id) is None:
            return imds_error(404)
        token = base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()
        with hosts.lock:
            hosts.tokens[token] = (instance_id, time.time() + int(ttl))
        return PlainTextResponse(token, headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def authorised(instance_id: str, request: Request):
        """The instance, or an error response (IMDSv2 token rules as the instance's metadata options say)."""
        item = hosts.instance(instance_id)
        if item is None:
            return None, imds_error(404)
        owner = hosts.token_owner(request)
        required = (item.get("MetadataOptions") or {}).get("HttpTokens", "optional") == "required"
        if owner == "" or (owner is not None and owner != instance_id) or (owner is None and required):
            return None, imds_error(401)
        return item, None

    @api.get("/{instance_id}/latest/meta-data/{path:path}")
    def imds_metadata(instance_id: str, path: str, request: Request):
        item, error = authorised(instance_id, request)
        if error is not None:
            return error
        value = hosts.metadata(item, path)
        if value is None:
            return imds_error(404)
        return PlainTextResponse("\n".join(value) if isinstance(value, list) else str(value))

    @api.get("/{instance_id}/latest/user-data")
    def imds_user_data(instance_id: str, request: Request):
        item, error = authorised(instance_id, request)
        if error is not None:
            return error
        attribute = hosts.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        encoded = (attribute.get("UserData") or {}).get("Value")
        if not encoded:
            return imds_error(404)
        return Response(base64.b64decode(encoded), media_type="application/octet-stream")

    @api.get("/{instance_id}/latest/dynamic/instance-identity/document")
    def imds_identity(instance_id: str, request: Request):
        item, error = authorised(instance_id, request)
        if error is not None:
            return error
        return JSONResponse({"instanceId": instance_id, "region": hosts.region, "imageId": item.get("ImageId"),
                             "instanceType": item.get("InstanceType"), "privateIp": item.get("PrivateIpAddress"),
                             "availabilityZone": item.get("Placement", {}).get("AvailabilityZone"),
                             "accountId": item.get("OwnerId", "123456789012")})

    # ------------------------------------------------------------------ emulator helpers
    @api.get("/_emulator/hosts")
    def list_hosts():
        return {"boot": hosts.boot_policy, "hosts": hosts.view()}

    @api.get("/_emulator/hosts/config")
    def get_config():
        return {"boot": hosts.boot_policy}

    @api.post("/_emulator/hosts/config")
    async def set_config(request: Request):
        body = await request.json()
        try:
            policy = hosts._parse_boot(body.get("boot") if isinstance(body, dict) else None)
        except ValueError as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        with hosts.lock:
            hosts.boot_policy = policy
        return {"boot": policy}

    @api.get("/_emulator/hosts/{instance_id}/first-boot-log")
    def first_boot_log(instance_id: str):
        with hosts.lock:
            host = hosts.hosts.get(instance_id)
        if host is None or host["state"] != "running":
            return JSONResponse({"message": "no running host for %s" % instance_id}, status_code=404)
        shown = hosts.podman.exec(host["container"], "cat", "/var/log/m8trx-agent/first-boot.log")
        if shown.returncode != 0:
            return JSONResponse({"message": "no first-boot log yet"}, status_code=404)
        return PlainTextResponse(shown.stdout)

    return asgi
