"""Testinfra checks for roles/host_hardening, one group per control.

Every command goes through testinfra's podman backend (``podman exec``), not through ansible
(toolchain §10 P5). converge.yml turns off the four switches that need the real kernel
(sysctl apply, auditd service, firewall enable, AppArmor load): for those controls the files are
checked, and the tests below also check that nothing claims to run what cannot.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = [
    "podman://" + name
    for name in testinfra.utils.ansible_runner.AnsibleRunner(
        os.environ["MOLECULE_INVENTORY_FILE"]
    ).get_hosts("all")
]

AUDIT_KEYS = (
    "auth_config",
    "sudoers",
    "sshd_config",
    "file_deletion",
    "privilege_escalation",
    "agent_data_access",
    "kernel_modules",
)


def effective_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def assert_root_file(host, path, mode):
    f = host.file(path)
    assert f.is_file, path
    assert (f.user, f.group, f.mode) == ("root", "root", mode), "%s: %s:%s %o" % (path, f.user, f.group, f.mode)
    return f


@pytest.fixture(scope="module")
def sshd_t(host):
    out = host.check_output("/usr/sbin/sshd -T -C user=nobody,host=example.com,addr=192.0.2.1")
    settings = {}
    for line in out.splitlines():
        key, _sep, value = line.partition(" ")
        settings.setdefault(key, value)
    return settings


# --- packages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["auditd", "fail2ban", "ufw", "apparmor", "apparmor-utils", "aide", "unattended-upgrades", "openssh-server",
     "libpam-pwquality", "libpam-tmpdir", "acct", "sysstat", "needrestart", "debsums", "apt-listchanges",
     "apt-show-versions", "chkrootkit"],
)
def test_package_installed(host, name):
    assert host.package(name).is_installed


def test_security_suite_source(host):
    text = host.file("/etc/apt/sources.list.d/m8trx-security.list").content_string
    assert re.search(r"(?m)^deb http://deb\.debian\.org/debian-security bookworm-security main$", text)
    assert "bookworm-security" in host.check_output("apt-cache policy")


# --- 1. sysctl ----------------------------------------------------------------------------------


def test_sysctl_file(host):
    f = assert_root_file(host, "/etc/sysctl.d/60-m8trx-hardening.conf", 0o644)
    settings = dict(line.split(" = ", 1) for line in effective_lines(f.content_string))
    expected = {
        "kernel.randomize_va_space": "2",
        "kernel.yama.ptrace_scope": "2",
        "net.ipv4.tcp_syncookies": "1",
        "kernel.kptr_restrict": "2",
        "kernel.dmesg_restrict": "1",
        "fs.suid_dumpable": "0",
        "net.ipv4.conf.all.rp_filter": "1",
        "net.ipv4.conf.all.accept_redirects": "0",
        "net.ipv4.conf.all.send_redirects": "0",
        "net.ipv4.conf.all.accept_source_route": "0",
        "net.ipv6.conf.all.accept_redirects": "0",
        "kernel.unprivileged_bpf_disabled": "1",
        "net.core.bpf_jit_harden": "2",
    }
    assert {k: settings.get(k) for k in expected} == expected
    # a Docker host keeps ip_forward out (dockerd turns it on)
    assert "net.ipv4.ip_forward" not in settings


def test_sysctl_file_parses(host):
    # sysctl reads the file (dry: -e ignores unknown keys, writing fails on the read-only /proc/sys,
    # so only the parse is checked: no "Invalid syntax" complaint)
    result = host.run("sysctl -e -p /etc/sysctl.d/60-m8trx-hardening.conf")
    assert "nvalid" not in result.stderr and "must be of the form" not in result.stderr
    assert "kernel.randomize_va_space" in result.stderr + result.stdout


# --- 2. auditd ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audit_rules(host):
    return effective_lines(assert_root_file(host, "/etc/audit/rules.d/60-m8trx.rules", 0o640).content_string)


def test_audit_rules_have_the_seven_keys(audit_rules):
    keys = {m.group(1) for m in (re.search(r" -k (\S+)$", line) for line in audit_rules) if m}
    assert keys == set(AUDIT_KEYS)
    assert all(re.search(r" -k \S+$", line) for line in audit_rules if line.startswith(("-a ", "-w ")))


def test_audit_rules_end_immutable(audit_rules):
    assert audit_rules[-1] == "-e 2"
    assert audit_rules.count("-e 2") == 1


@pytest.mark.parametrize(
    "rule",
    [
        "-w /etc/pam.d/ -p wa -k auth_config",
        "-w /etc/shadow -p wa -k auth_config",
        "-w /etc/passwd -p wa -k auth_config",
        "-w /etc/group -p wa -k auth_config",
        "-w /etc/gshadow -p wa -k auth_config",
        "-w /etc/sudoers -p wa -k sudoers",
        "-w /etc/sudoers.d/ -p wa -k sudoers",
        "-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k sudoers",
        "-w /etc/ssh/sshd_config -p wa -k sshd_config",
        "-a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat,renameat2 -F auid>=1000 -F auid!=unset -k file_deletion",
        "-a always,exit -F arch=b64 -S execve -F euid=0 -F auid>=1000 -F auid!=unset -k privilege_escalation",
        "-a always,exit -F dir=/var/m8trx -F perm=rwa -F auid>=1000 -F auid!=unset -k agent_data_access",
        "-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k kernel_modules",
        "-w /usr/sbin/modprobe -p x -k kernel_modules",
        "-w /usr/sbin/insmod -p x -k kernel_modules",
        "-w /usr/sbin/rmmod -p x -k kernel_modules",
    ],
)
def test_audit_rule(audit_rules, rule):
    assert rule in audit_rules


def test_augenrules_keeps_e2_last(host):
    # augenrules without --load only merges rules.d into audit.rules, what auditd loads at boot
    host.check_output("augenrules")
    merged = effective_lines(host.file("/etc/audit/audit.rules").content_string)
    assert merged[0] == "-D"
    assert merged[-1] == "-e 2"
    assert sum(1 for line in merged if line.endswith(AUDIT_KEYS)) >= 20


def test_auditd_conf_and_data_dir(host):
    text = assert_root_file(host, "/etc/audit/auditd.conf", 0o640).content_string
    assert re.search(r"(?m)^max_log_file_action = ROTATE$", text)
    data = host.file("/var/m8trx")
    assert data.is_directory and data.user == "root"


# --- 3. fail2ban --------------------------------------------------------------------------------


def test_fail2ban_running_with_sshd_jail(host):
    assert host.service("fail2ban").is_running
    assert host.service("fail2ban").is_enabled
    status = host.check_output("fail2ban-client status sshd")
    assert "Journal matches:" in status or "File list:" in status
    jail = host.file("/etc/fail2ban/jail.local").content_string
    assert re.search(r"(?m)^backend = systemd$", jail)
    assert re.search(r"(?m)^maxretry = 3$", jail)


# --- 4. UFW and the metadata block --------------------------------------------------------------


def test_ufw_files(host):
    default = host.file("/etc/default/ufw").content_string
    assert re.search(r'(?m)^DEFAULT_INPUT_POLICY="DROP"$', default)
    assert re.search(r'(?m)^DEFAULT_FORWARD_POLICY="DROP"$', default)
    # the enable switch is off in the container: ufw must not claim to be on
    assert re.search(r"(?m)^ENABLED=no$", host.file("/etc/ufw/ufw.conf").content_string)
    rules = assert_root_file(host, "/etc/ufw/user.rules", 0o640).content_string
    accepts = re.findall(r"(?m)^-A ufw-user-input .*-j ACCEPT$", rules)
    assert accepts == [
        "-A ufw-user-input -p tcp --dport 8080 -j ACCEPT",
        "-A ufw-user-input -p udp -m multiport --dports 6000:6010 -j ACCEPT",
    ]
    assert "-A ufw6-user-input -p tcp --dport 8080 -j ACCEPT" in host.file("/etc/ufw/user6.rules").content_string


def test_ufw_reads_the_rules_back(host):
    # `ufw show added` parses the tuple lines the template wrote
    out = host.check_output("ufw show added 2>/dev/null")
    assert "ufw allow 8080/tcp" in out
    assert "ufw allow 6000:6010/udp" in out


def test_metadata_block_unit(host):
    unit = host.file("/etc/systemd/system/m8trx-metadata-block.service")
    assert (unit.user, unit.mode) == ("root", 0o644)
    text = unit.content_string
    assert "Before=network-pre.target docker.service" in text
    assert "iptables -w -I DOCKER-USER 1 -d 169.254.169.254/32 -j DROP" in text
    assert host.run("systemd-analyze verify /etc/systemd/system/m8trx-metadata-block.service").rc == 0
    # the enable switch is off in the container: installed, not enabled
    assert not host.service("m8trx-metadata-block").is_enabled


# --- 5. AppArmor --------------------------------------------------------------------------------


def test_apparmor_profile(host):
    text = assert_root_file(host, "/etc/apparmor.d/m8trx-agent", 0o644).content_string
    assert "profile m8trx-agent " in text
    for rule in ("deny mount,", "deny network raw,", "deny @{PROC}/sys/** w,", "deny capability sys_admin,"):
        assert rule in text
    result = host.run("apparmor_parser --skip-kernel-load --skip-cache -QK /etc/apparmor.d/m8trx-agent")
    assert result.rc == 0, result.stderr


# --- 6. AIDE ------------------------------------------------------------------------------------


def test_aide(host):
    conf = assert_root_file(host, "/etc/aide/aide.conf", 0o600).content_string
    assert re.search(r"(?m)^/etc M8TRX$", conf)
    assert not re.search(r"(?m)^/ ", conf)  # not the whole file system
    db = host.file("/var/lib/aide/aide.db")
    assert db.is_file and db.size > 10000
    assert host.service("m8trx-aide-check.timer").is_enabled
    assert host.service("m8trx-aide-check.timer").is_running
    # the database matches the system it describes (the check finds nothing changed)
    check = host.run("aide --check --config /etc/aide/aide.conf")
    assert check.rc == 0, check.stdout[-2000:]


# --- 7. unattended-upgrades ---------------------------------------------------------------------


def test_unattended_upgrades(host):
    auto = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1";' in auto
    assert 'APT::Periodic::Update-Package-Lists "1";' in auto
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "label=Debian-Security" in dump
    dry = host.run("unattended-upgrade --dry-run --debug 2>&1 | grep -i 'Allowed origins'")
    assert "Debian-Security" in dry.stdout
    assert host.service("apt-daily-upgrade.timer").is_enabled


# --- 8. SSH -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value",
    [
        ("passwordauthentication", "no"),
        ("permitrootlogin", "no"),
        ("pubkeyauthentication", "yes"),
        ("authenticationmethods", "publickey"),
        ("kbdinteractiveauthentication", "no"),
        ("permitemptypasswords", "no"),
        ("maxauthtries", "3"),
        ("maxsessions", "2"),
        ("clientalivecountmax", "2"),
        ("allowtcpforwarding", "no"),
        ("allowagentforwarding", "no"),
        ("x11forwarding", "no"),
        ("permittunnel", "no"),
        ("loglevel", "VERBOSE"),
        ("ciphers", "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"),
        ("macs", "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"),
    ],
)
def test_sshd_effective_setting(sshd_t, key, value):
    assert sshd_t[key] == value


def test_sshd_config_file_and_service(host):
    assert_root_file(host, "/etc/ssh/sshd_config", 0o600)
    assert host.service("ssh").is_running


def test_sshd_drop_in_cannot_loosen(host):
    # a cloud-init style drop-in comes after the role's settings, so the first value (ours) wins
    host.check_output("echo 'PasswordAuthentication yes' > /etc/ssh/sshd_config.d/99-molecule-test.conf")
    try:
        assert "passwordauthentication no" in host.check_output("/usr/sbin/sshd -T").splitlines()
    finally:
        host.check_output("rm -f /etc/ssh/sshd_config.d/99-molecule-test.conf")


# --- 9. core dumps ------------------------------------------------------------------------------


def test_core_dumps_off(host):
    limits = host.file("/etc/security/limits.d/10-m8trx-coredump.conf").content_string
    assert re.search(r"(?m)^\*\s+hard\s+core\s+0$", limits)
    coredump = host.file("/etc/systemd/coredump.conf.d/60-m8trx.conf").content_string
    assert "Storage=none" in coredump and "ProcessSizeMax=0" in coredump


# --- 10. cron -----------------------------------------------------------------------------------


def test_cron_restricted_to_root(host):
    for path in ("/etc/cron.allow", "/etc/at.allow"):
        f = assert_root_file(host, path, 0o600)
        assert effective_lines(f.content_string) == ["root"]
    for path in ("/etc/cron.deny", "/etc/at.deny"):
        assert not host.file(path).exists
    # the directories that exist (cron itself is not in the image) are root only
    for path in ("/etc/crontab", "/etc/cron.d", "/etc/cron.daily", "/etc/cron.hourly", "/etc/cron.weekly", "/etc/cron.monthly"):
        f = host.file(path)
        if f.exists:
            assert f.user == "root" and f.mode & 0o077 == 0, path
    assert host.file("/etc/cron.daily").exists  # packages put jobs there: the loop was exercised


# --- accounts, modules, banners, tools ----------------------------------------------------------


def test_login_defs(host):
    text = host.file("/etc/login.defs").content_string
    for line in ("UMASK           027", "PASS_MAX_DAYS   365", "ENCRYPT_METHOD  YESCRYPT", "SHA_CRYPT_MIN_ROUNDS 65536"):
        assert re.search(r"(?m)^%s$" % re.escape(line), text), line


def test_pam_stacks(host):
    auth = host.file("/etc/pam.d/common-auth").content_string
    assert re.search(r"(?m)^auth\s+required\s+pam_faillock\.so preauth$", auth)
    assert "nullok" not in auth
    password = host.file("/etc/pam.d/common-password").content_string
    assert re.search(r"(?m)^password\s+requisite\s+pam_pwquality\.so retry=3$", password)
    assert "yescrypt rounds=11 remember=2" in password
    assert re.search(r"(?m)^deny = 3$", host.file("/etc/security/faillock.conf").content_string)
    assert re.search(r"(?m)^minlen = 15$", host.file("/etc/security/pwquality.conf").content_string)
    assert "pam_tmpdir.so" in host.file("/etc/pam.d/common-session").content_string
    # PAM still works with the new stacks: su from root to a system user
    assert host.check_output("su -s /bin/sh -c 'id -un' nobody") == "nobody"


def test_sudo_defaults(host):
    assert_root_file(host, "/etc/sudoers.d/m8trx-hardening", 0o440)
    assert host.run("visudo -c").rc == 0
    assert host.file("/etc/sudoers.d").mode == 0o750
    assert host.check_output("chage -l root | grep -i 'Maximum number'").endswith(": 365")


def test_modprobe_blacklist(host):
    text = host.file("/etc/modprobe.d/m8trx-blacklist.conf").content_string
    for module in ("usb-storage", "dccp", "sctp", "rds", "tipc", "cramfs", "firewire-core"):
        assert "install %s /bin/false" % module in text
    for module in ("squashfs", "vfat"):  # snaps and the EFI partition need them
        assert "blacklist %s\n" % module not in text


def test_banners(host):
    for path in ("/etc/issue", "/etc/issue.net"):
        assert "Authorized access only" in host.file(path).content_string


def test_sysstat_enabled(host):
    assert 'ENABLED="true"' in host.file("/etc/default/sysstat").content_string


def test_compilers_root_only(host):
    assembler = host.file(host.check_output("readlink -f /usr/bin/as"))
    assert (assembler.user, assembler.group, assembler.mode) == ("root", "root", 0o750)
    assert assembler.path in host.check_output("dpkg-statoverride --list")


def test_legacy_clients_absent(host):
    for name in ("telnet", "rsh-client", "talk", "xinetd"):
        assert not host.package(name).is_installed


# --- Docker sandbox defaults --------------------------------------------------------------------


def test_docker_daemon_json(host):
    daemon = json.loads(assert_root_file(host, "/etc/docker/daemon.json", 0o644).content_string)
    assert daemon["no-new-privileges"] is True
    assert daemon["seccomp-profile"] == "/etc/docker/seccomp/m8trx-agent.json"
    assert daemon["icc"] is False
    assert daemon["live-restore"] is True
    assert daemon["userland-proxy"] is False
    assert daemon["log-opts"]["max-size"] == "10m"


def test_seccomp_profile(host):
    profile = json.loads(assert_root_file(host, "/etc/docker/seccomp/m8trx-agent.json", 0o644).content_string)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = {name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for name in rule["names"]}
    assert {"read", "write", "openat", "execve", "futex", "epoll_wait"} <= allowed
    dangerous = {"ptrace", "mount", "umount2", "unshare", "setns", "bpf", "perf_event_open", "kexec_load",
                 "init_module", "finit_module", "delete_module", "open_by_handle_at", "keyctl", "add_key",
                 "process_vm_readv", "process_vm_writev", "io_uring_setup", "reboot", "swapon", "acct"}
    assert not allowed & dangerous
    # clone only without namespace flags
    clone = [rule for rule in profile["syscalls"] if "clone" in rule["names"]]
    assert clone and all(rule.get("args") for rule in clone)


def test_docker_not_installed(host):
    assert not host.file("/usr/bin/dockerd").exists


# --- USB devices --------------------------------------------------------------------------------


def test_usbguard_blocks_by_default(host):
    conf = dict(
        line.split("=", 1) for line in effective_lines(assert_root_file(host, "/etc/usbguard/usbguard-daemon.conf", 0o600).content_string)
    )
    assert conf["ImplicitPolicyTarget"] == "block"
    assert conf["PresentControllerPolicy"] == "apply-policy"
    assert conf["PresentDevicePolicy"] == conf["InsertedDevicePolicy"] == "apply-policy"
    assert conf["AuditBackend"] == "LinuxAudit"
    assert effective_lines(assert_root_file(host, "/etc/usbguard/rules.conf", 0o600).content_string) == []
    # the service switch is off in the container: masked before the install, never started
    assert host.run("systemctl is-enabled usbguard").stdout.strip() == "masked"
    assert host.run("systemctl is-active usbguard").stdout.strip() == "inactive"
    assert "usbguard-daemon" not in host.check_output("ps -eo args")
