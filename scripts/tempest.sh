#!/usr/bin/env bash
# tempest.sh - run upstream Tempest API tests against any Keystone-v3 cloud
# (onestack, or the upstream anchors in /work/shared/bench/upstream).
#
# Usage:
#   scripts/tempest.sh [options] [-- extra `tempest run` args]
#
# Options:
#   --auth-url URL         identity endpoint (default $OS_AUTH_URL; "/v3" is
#                          appended when missing)
#   --username NAME        admin user            (default $OS_USERNAME or admin)
#   --password PW          admin password        (default $OS_PASSWORD)
#   --project NAME         admin project         (default $OS_PROJECT_NAME or admin)
#   --user-domain NAME     admin user domain     (default $OS_USER_DOMAIN_NAME or Default)
#   --project-domain NAME  admin project domain  (default $OS_PROJECT_DOMAIN_NAME or Default)
#   --region NAME          region                (default $OS_REGION_NAME or RegionOne)
#   --services LIST        comma list of services under test (default
#                          $TEMPEST_SERVICES or "identity"): identity, compute,
#                          image, network, volume, object-storage (OpenStack
#                          project names keystone/nova/glance/neutron/cinder/
#                          swift work too). Only these are "available" in
#                          tempest.conf (compute brings image and network, which
#                          Nova needs); the default regex runs tempest.api.<svc>.
#                          With compute, the cloud gets the images, flavors and
#                          "manager" role the compute tests use (see below).
#   --regex REGEX          stestr selection regex (default
#                          ^tempest\.api\.(<svc>|...)\.)
#   --include-list FILE    run exactly the test ids in FILE (one per line, with
#                          or without the "[id-...]" tag suffix, # comments ok);
#                          every listed test must PASS, a test that fails, is
#                          skipped or no longer exists makes the run fail
#                          (CI guard: tests that passed must keep passing)
#   --record FILE          write the ids of the tests that PASSED (sorted, no
#                          "[...]" suffix) to FILE
#   --concurrency N        tempest workers (default $TEMPEST_CONCURRENCY or 2)
#   --set SECTION.KEY=VAL  extra tempest.conf setting (repeatable), e.g.
#                          --set compute.image_ref=<uuid>
#   -h, --help             this help
#
# Environment:
#   OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_USER_DOMAIN_NAME
#   OS_PROJECT_DOMAIN_NAME OS_REGION_NAME   as set by `source admin-openrc`
#   TEMPEST_VENV        tempest virtualenv (default /root/.venvs/tempest;
#                       created with `pip install tempest` when missing)
#   TEMPEST_WORKDIR     parent dir for the throw-away workspace (default $TMPDIR
#                       or /tmp)
#   TEMPEST_KEEP=1      keep the workspace (tempest.conf, logs/tempest.log,
#                       .stestr) instead of deleting it at exit
#   TEMPEST_CONCURRENCY default worker count (2)
#   TEMPEST_EXTRA_CONF  an ini file merged over the generated tempest.conf
#   TEMPEST_SECURITY_COMPLIANCE  true|false (default true): the server enforces
#                       keystone's [security_compliance] lockout/password history
#   TEMPEST_LOCKOUT_FAILURE_ATTEMPTS (2) TEMPEST_LOCKOUT_DURATION (10)
#   TEMPEST_UNIQUE_LAST_PASSWORD_COUNT (2) TEMPEST_MINIMUM_PASSWORD_AGE (0)
#                       must equal the server's settings (the anchor's values
#                       are the defaults)
#
# Exit status: 0 when every selected test passed (skips allowed, except in
# --include-list mode), 1 when any test failed, 2 on usage/setup errors.
set -euo pipefail

PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 2; }
log() { echo "[$PROG] $*" >&2; }
usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

AUTH_URL=${OS_AUTH_URL:-}
USERNAME=${OS_USERNAME:-admin}
PASSWORD=${OS_PASSWORD:-}
PROJECT=${OS_PROJECT_NAME:-${OS_TENANT_NAME:-admin}}
USER_DOMAIN=${OS_USER_DOMAIN_NAME:-Default}
PROJECT_DOMAIN=${OS_PROJECT_DOMAIN_NAME:-Default}
REGION=${OS_REGION_NAME:-RegionOne}
SERVICES=${TEMPEST_SERVICES:-identity}
REGEX=
INCLUDE_LIST=
RECORD=
CONCURRENCY=${TEMPEST_CONCURRENCY:-2}
TEMPEST_VENV=${TEMPEST_VENV:-/root/.venvs/tempest}
SETS=()
EXTRA=()

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value"; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --auth-url) need_arg "$@"; AUTH_URL=$2; shift 2 ;;
        --username) need_arg "$@"; USERNAME=$2; shift 2 ;;
        --password) need_arg "$@"; PASSWORD=$2; shift 2 ;;
        --project) need_arg "$@"; PROJECT=$2; shift 2 ;;
        --user-domain) need_arg "$@"; USER_DOMAIN=$2; shift 2 ;;
        --project-domain) need_arg "$@"; PROJECT_DOMAIN=$2; shift 2 ;;
        --region) need_arg "$@"; REGION=$2; shift 2 ;;
        --services) need_arg "$@"; SERVICES=$2; shift 2 ;;
        --regex) need_arg "$@"; REGEX=$2; shift 2 ;;
        --include-list) need_arg "$@"; INCLUDE_LIST=$2; shift 2 ;;
        --record) need_arg "$@"; RECORD=$2; shift 2 ;;
        --concurrency) need_arg "$@"; CONCURRENCY=$2; shift 2 ;;
        --set) need_arg "$@"; SETS+=("$2"); shift 2 ;;
        --auth-url=*|--username=*|--password=*|--project=*|--user-domain=*|\
        --project-domain=*|--region=*|--services=*|--regex=*|--include-list=*|\
        --record=*|--concurrency=*|--set=*)
            set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
        -h|--help) usage; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) die "unknown argument '$1' (see $PROG --help)" ;;
    esac
done

# ---------------------------------------------------------------- validation
[[ -n $AUTH_URL ]] || die "no auth URL: pass --auth-url or 'source admin-openrc' (OS_AUTH_URL)"
[[ -n $PASSWORD ]] || die "no admin password: pass --password or set OS_PASSWORD"
[[ $CONCURRENCY =~ ^[1-9][0-9]*$ ]] || die "--concurrency must be a positive integer, got '$CONCURRENCY'"
AUTH_URL=${AUTH_URL%/}
[[ $AUTH_URL == */v3 ]] || AUTH_URL=$AUTH_URL/v3
if [[ -n $INCLUDE_LIST ]]; then
    [[ -r $INCLUDE_LIST ]] || die "include list '$INCLUDE_LIST' is not a readable file"
    INCLUDE_LIST=$(cd "$(dirname "$INCLUDE_LIST")" && pwd)/$(basename "$INCLUDE_LIST")
fi
if [[ -n $RECORD ]]; then
    RECORD_DIR=$(dirname "$RECORD")
    [[ -d $RECORD_DIR && -w $RECORD_DIR ]] || die "cannot write --record file in '$RECORD_DIR'"
    RECORD=$(cd "$RECORD_DIR" && pwd)/$(basename "$RECORD")
fi
SECURITY_COMPLIANCE=${TEMPEST_SECURITY_COMPLIANCE:-true}
[[ $SECURITY_COMPLIANCE == true || $SECURITY_COMPLIANCE == false ]] \
    || die "TEMPEST_SECURITY_COMPLIANCE must be true or false"

# service (type or project name) -> "<tempest.api package> <service_available flag>"
declare -A AVAILABLE=([nova]=false [glance]=false [neutron]=false [cinder]=false [swift]=false [horizon]=false)
API_PKGS=()
IFS=',' read -r -a SERVICE_LIST <<<"$SERVICES"
for svc in "${SERVICE_LIST[@]}"; do
    svc=${svc// /}
    case $svc in
        '') continue ;;
        identity|keystone) pkg=identity; flag= ;;
        compute|nova) pkg=compute; flag=nova ;;
        image|glance) pkg=image; flag=glance ;;
        network|neutron) pkg=network; flag=neutron ;;
        volume|block-storage|block_storage|cinder) pkg=volume; flag=cinder ;;
        object|object-store|object-storage|object_storage|swift) pkg=object_storage; flag=swift ;;
        placement) log "note: tempest has no placement API tests (they live in the placement tempest plugin); ignoring 'placement'"; continue ;;
        *) die "unknown service '$svc' (known: identity compute image network volume object-storage)" ;;
    esac
    [[ -n $flag ]] && AVAILABLE[$flag]=true
    [[ " ${API_PKGS[*]} " == *" $pkg "* ]] || API_PKGS+=("$pkg")
done
[[ ${#API_PKGS[@]} -gt 0 ]] || die "--services selects no service"
# Nova cannot boot without Glance and Neutron: under test with compute, they are
# available too (their own tests run only when selected).
if [[ ${AVAILABLE[nova]} == true ]]; then
    AVAILABLE[glance]=true
    AVAILABLE[neutron]=true
fi
if [[ -z $REGEX && -z $INCLUDE_LIST ]]; then
    REGEX="^tempest\\.api\\.($(IFS='|'; echo "${API_PKGS[*]}"))\\."
fi
NETWORK_AVAILABLE=${AVAILABLE[neutron]}

# ------------------------------------------------------------------- tempest
if [[ ! -x $TEMPEST_VENV/bin/tempest ]]; then
    log "creating tempest venv $TEMPEST_VENV (pip install tempest)"
    python3 -m venv "$TEMPEST_VENV" || die "cannot create venv $TEMPEST_VENV"
    "$TEMPEST_VENV/bin/pip" install -q tempest || die "pip install tempest failed"
fi
PY=$TEMPEST_VENV/bin/python
for tool in tempest stestr subunit2csv; do
    [[ -x $TEMPEST_VENV/bin/$tool ]] || die "$TEMPEST_VENV/bin/$tool missing (broken venv? remove it and rerun)"
done

# ----------------------------------------------------------------- workspace
WORKDIR_PARENT=${TEMPEST_WORKDIR:-${TMPDIR:-/tmp}}
mkdir -p "$WORKDIR_PARENT" || die "cannot create TEMPEST_WORKDIR '$WORKDIR_PARENT'"
WS_ROOT=$(mktemp -d "$WORKDIR_PARENT/onestack-tempest.XXXXXX")
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    if [[ ${TEMPEST_KEEP:-0} == 1 ]]; then
        log "workspace kept: $WS_ROOT/workspace (tempest.conf in etc/, log in logs/tempest.log)"
    else
        rm -rf "$WS_ROOT"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
WS=$WS_ROOT/workspace
"$TEMPEST_VENV/bin/tempest" init --workspace-path "$WS_ROOT/workspace.yaml" "$WS" >/dev/null \
    || die "tempest init failed"
CONF=$WS/etc/tempest.conf

cat >"$CONF" <<EOF
# generated by $PROG for $AUTH_URL
[DEFAULT]
log_dir = $WS/logs
log_file = tempest.log

[oslo_concurrency]
lock_path = $WS/tempest_lock

[auth]
use_dynamic_credentials = true
create_isolated_networks = $NETWORK_AVAILABLE
admin_username = $USERNAME
admin_password = $PASSWORD
admin_project_name = $PROJECT
admin_domain_name = $USER_DOMAIN
admin_user_domain_name = $USER_DOMAIN
admin_project_domain_name = $PROJECT_DOMAIN
default_credentials_domain_name = $USER_DOMAIN

[identity]
uri_v3 = $AUTH_URL
auth_version = v3
region = $REGION
v3_endpoint_type = public
admin_role = admin
# must match the server's keystone.conf [security_compliance]
user_lockout_failure_attempts = ${TEMPEST_LOCKOUT_FAILURE_ATTEMPTS:-2}
user_lockout_duration = ${TEMPEST_LOCKOUT_DURATION:-10}
user_unique_last_password_count = ${TEMPEST_UNIQUE_LAST_PASSWORD_COUNT:-2}
user_minimum_password_age = ${TEMPEST_MINIMUM_PASSWORD_AGE:-0}

[identity-feature-enabled]
# Every flag tempest's identity tests read (tempest/config.py
# IdentityFeatureGroup); the older project_tags / application_credentials /
# ... flags no longer exist: those tests always run.
api_v2 = false
api_v3 = true
api_extensions = all
trust = true
access_rules = true
security_compliance = $SECURITY_COMPLIANCE
domain_specific_drivers = false
immutable_user_source = false

[service_available]
nova = ${AVAILABLE[nova]}
glance = ${AVAILABLE[glance]}
neutron = ${AVAILABLE[neutron]}
cinder = ${AVAILABLE[cinder]}
swift = ${AVAILABLE[swift]}
horizon = ${AVAILABLE[horizon]}

[validation]
run_validation = false

[image]
# onestack checks that qcow2, vmdk, vhd, vhdx, vdi and iso uploads are what they
# claim to be; raw, ami, ari and aki take any bytes. The tests that upload random
# bytes use the first disk formats listed here, so only those are listed.
disk_formats = raw,ami,ari,aki
container_formats = bare,ami,ari,aki,ovf,ova

[image-feature-enabled]
image_format_enforcement = false
EOF
chmod 600 "$CONF"

if [[ ${#SETS[@]} -gt 0 || -n ${TEMPEST_EXTRA_CONF:-} ]]; then
    [[ -z ${TEMPEST_EXTRA_CONF:-} || -r $TEMPEST_EXTRA_CONF ]] \
        || die "TEMPEST_EXTRA_CONF '$TEMPEST_EXTRA_CONF' is not readable"
    "$PY" - "$CONF" "${TEMPEST_EXTRA_CONF:-}" "${SETS[@]}" <<'PYEOF' || die "bad --set / TEMPEST_EXTRA_CONF"
import configparser, sys
conf, extra, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
cp = configparser.ConfigParser(interpolation=None)
cp.optionxform = str
cp.read(conf)
if extra:
    cp.read(extra)
for item in sets:
    key, sep, value = item.partition("=")
    section, dot, option = key.rpartition(".")
    if not sep or not dot or not section or not option:
        sys.exit(f"--set wants SECTION.KEY=VALUE, got {item!r}")
    if section != "DEFAULT" and not cp.has_section(section):
        cp.add_section(section)
    cp.set(section, option, value)
with open(conf, "w") as f:
    cp.write(f)
PYEOF
fi

# ------------------------------------------------------- reachability / creds
"$PY" - "$AUTH_URL" "$USERNAME" "$PASSWORD" "$USER_DOMAIN" "$PROJECT" "$PROJECT_DOMAIN" <<'PYEOF' \
    || die "cannot authenticate to $AUTH_URL (see message above)"
import json, sys, urllib.error, urllib.request
url, user, pw, udom, proj, pdom = sys.argv[1:]
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": user, "password": pw, "domain": {"name": udom}}}},
    "scope": {"project": {"name": proj, "domain": {"name": pdom}}}}}
req = urllib.request.Request(url + "/auth/tokens", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=30) as resp:
        if not resp.headers.get("X-Subject-Token"):
            sys.exit(f"{url}/auth/tokens answered {resp.status} without X-Subject-Token")
except urllib.error.HTTPError as e:
    sys.exit(f"POST {url}/auth/tokens as {user}@{udom} -> HTTP {e.code}: {e.read()[:300]!r}")
except (urllib.error.URLError, OSError) as e:
    sys.exit(f"{url} is unreachable: {e}")
PYEOF

# ------------------------------------------------------------------- network
# Under test, the network API tells what it implements: api_extensions is what
# /v2.0/extensions lists, and an external network (found, else created as
# "public" with 172.24.4.0/24) becomes public_network_id, so the router and
# floating IP tests run. Settings given with --set or TEMPEST_EXTRA_CONF win.
if [[ $NETWORK_AVAILABLE == true ]]; then
    "$PY" - "$CONF" "$AUTH_URL" "$USERNAME" "$PASSWORD" "$USER_DOMAIN" "$PROJECT" "$PROJECT_DOMAIN" "$REGION" <<'PYEOF' \
        || die "cannot prepare the network settings (see message above)"
import configparser, json, sys, urllib.request
conf, url, user, pw, udom, proj, pdom, region = sys.argv[1:]
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": user, "password": pw, "domain": {"name": udom}}}},
    "scope": {"project": {"name": proj, "domain": {"name": pdom}}}}}
req = urllib.request.Request(url + "/auth/tokens", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as resp:
    token = resp.headers["X-Subject-Token"]
    catalog = json.load(resp)["token"].get("catalog", [])
endpoint = next((e["url"] for s in catalog if s["type"] == "network" for e in s["endpoints"]
                 if e["interface"] == "public" and e.get("region", region) == region), None)
if endpoint is None:
    sys.exit("no network endpoint in the catalog")
endpoint = endpoint.rstrip("/")

def call(method, path, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(endpoint + path, data, method=method, headers={
        "X-Auth-Token": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)

aliases = sorted(e["alias"] for e in call("GET", "/v2.0/extensions")["extensions"])
cp = configparser.ConfigParser(interpolation=None)
cp.optionxform = str
cp.read(conf)
for section in ("network", "network-feature-enabled"):
    if not cp.has_section(section):
        cp.add_section(section)
if not cp.has_option("network-feature-enabled", "api_extensions"):
    cp.set("network-feature-enabled", "api_extensions", ",".join(aliases))
if not cp.has_option("network", "public_network_id") and "external-net" in aliases:
    external = call("GET", "/v2.0/networks?router:external=True")["networks"]
    if external:
        public = external[0]
    else:
        public = call("POST", "/v2.0/networks", {"network": {
            "name": "public", "router:external": True}})["network"]
        call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": public["id"], "cidr": "172.24.4.0/24", "ip_version": 4,
            "enable_dhcp": False, "name": "public-subnet"}})
    cp.set("network", "public_network_id", public["id"])
    cp.set("network", "floating_network_name", public["name"])
with open(conf, "w") as f:
    cp.write(f)
PYEOF
fi

# ------------------------------------------------------------------- compute
# Under test, compute gets what its tests boot from: two active public raw
# images (image_ref, image_ref_alt) and two flavors (flavor_ref, flavor_ref_alt),
# found by name or created. min_compute_nodes is the number of enabled, up
# compute services; cold and live migration are tested when there are two or
# more. The feature flags say what the compute API implements on a host without
# a guest to log into. Settings given with --set or TEMPEST_EXTRA_CONF win.
if [[ ${AVAILABLE[nova]} == true ]]; then
    "$PY" - "$CONF" "$AUTH_URL" "$USERNAME" "$PASSWORD" "$USER_DOMAIN" "$PROJECT" "$PROJECT_DOMAIN" "$REGION" <<'PYEOF' \
        || die "cannot prepare the compute settings (see message above)"
import configparser, json, sys, urllib.error, urllib.request
conf, url, user, pw, udom, proj, pdom, region = sys.argv[1:]
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": user, "password": pw, "domain": {"name": udom}}}},
    "scope": {"project": {"name": proj, "domain": {"name": pdom}}}}}
req = urllib.request.Request(url + "/auth/tokens", json.dumps(body).encode(),
                             {"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as resp:
    token = resp.headers["X-Subject-Token"]
    catalog = json.load(resp)["token"].get("catalog", [])


def endpoint_of(kind):
    found = next((e["url"] for s in catalog if s["type"] == kind for e in s["endpoints"]
                  if e["interface"] == "public" and e.get("region", region) == region), None)
    if found is None:
        sys.exit(f"no {kind} endpoint in the catalog")
    return found.rstrip("/")


image_api, compute_api = endpoint_of("image"), endpoint_of("compute")


def call(method, address, payload=None, raw=None, headers=None):
    data = raw if raw is not None else (
        json.dumps(payload).encode() if payload is not None else None)
    request = urllib.request.Request(address, data, method=method, headers={
        "X-Auth-Token": token, "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def image(name):
    for found in call("GET", f"{image_api}/v2/images?name={name}")["images"]:
        if found["status"] == "active":
            return found["id"]
    made = call("POST", f"{image_api}/v2/images", {
        "name": name, "disk_format": "raw", "container_format": "bare",
        "visibility": "public", "min_disk": 0, "min_ram": 0})
    # Any bytes make a raw disk; the fake driver never reads them.
    call("PUT", f"{image_api}/v2/images/{made['id']}/file", raw=b"\0" * 1024,
         headers={"Content-Type": "application/octet-stream"})
    return made["id"]


def flavor(name, ram, vcpus, disk):
    for found in call("GET", f"{compute_api}/flavors/detail?is_public=None")["flavors"]:
        if found["name"] == name:
            return found["id"]
    return call("POST", f"{compute_api}/flavors", {"flavor": {
        "name": name, "ram": ram, "vcpus": vcpus, "disk": disk}})["flavor"]["id"]


# Nova's project-manager tests (migrations) need Keystone's "manager" role, which
# keystone-manage bootstrap makes since 2024.2 (admin implies manager implies member).
identity_api = url.rsplit("/v3", 1)[0] + "/v3"
if not call("GET", f"{identity_api}/roles?name=manager")["roles"]:
    role_ids = {r["name"]: r["id"] for r in call("GET", f"{identity_api}/roles")["roles"]}
    manager = call("POST", f"{identity_api}/roles", {"role": {"name": "manager"}})["role"]
    call("PUT", f"{identity_api}/roles/{manager['id']}/implies/{role_ids['member']}")
    call("PUT", f"{identity_api}/roles/{role_ids['admin']}/implies/{manager['id']}")

services = call("GET", f"{compute_api}/os-services?binary=nova-compute")["services"]
hosts = sum(1 for s in services if s["status"] == "enabled" and s["state"] == "up")
multi = "true" if hosts >= 2 else "false"
settings = {
    "compute": {
        "image_ref": image("cirros-tempest"),
        "image_ref_alt": image("cirros-tempest-alt"),
        "flavor_ref": flavor("m1.tempest", 64, 1, 1),
        "flavor_ref_alt": flavor("m1.tempest-alt", 128, 1, 1),
        "min_microversion": "2.1",
        "max_microversion": "2.100",
        "min_compute_nodes": str(max(hosts, 1)),
        "build_interval": "1",
    },
    "compute-feature-enabled": {
        "disk_config": "true",
        "console_output": "true",
        "change_password": "true",
        "enable_instance_password": "true",
        "pause": "true",
        "suspend": "true",
        "rescue": "true",
        "stable_rescue": "true",
        "shelve": "true",
        "shelve_migrate": "false",
        "snapshot": "true",
        "resize": "true",
        "cold_migration": multi,
        "live_migration": multi,
        "live_migrate_back_and_forth": "false",
        "block_migration_for_live_migration": "false",
        "can_migrate_between_any_hosts": "true",
        "interface_attach": "true",
        "metadata_service": "false",
        "personality": "false",
        "config_drive": "false",
        # noVNC and serial consoles through the cloud's proxies (the noVNC page
        # needs the novnc package on the cloud's host)
        "vnc_console": "true",
        "spice_console": "false",
        "serial_console": "true",
        "hostname_fqdn_sanitization": "true",
        # no volume service yet
        "attach_encrypted_volume": "false",
        "swap_volume": "false",
        "volume_backed_live_migration": "false",
        "volume_multiattach": "false",
        "ide_bus": "false",
    },
}
cp = configparser.ConfigParser(interpolation=None)
cp.optionxform = str
cp.read(conf)
for section, options in settings.items():
    if not cp.has_section(section):
        cp.add_section(section)
    for option, value in options.items():
        if not cp.has_option(section, option):
            cp.set(section, option, value)
with open(conf, "w") as f:
    cp.write(f)
PYEOF
fi

# ----------------------------------------------------------------------- run
RUN_ARGS=(run --config-file "$CONF" --concurrency "$CONCURRENCY")
[[ -n $REGEX ]] && RUN_ARGS+=(--regex "$REGEX")
if [[ -n $INCLUDE_LIST ]]; then
    # ids without their "[id-...,smoke]" suffix are prefixes of other ids
    # (test_list_users vs test_list_users_with_name): anchor each one.
    "$PY" - "$INCLUDE_LIST" >"$WS/include.regex" <<'PYEOF'
import re, sys
for line in open(sys.argv[1]):
    tid = line.split("#", 1)[0].strip()
    if tid:
        print("^" + re.escape(re.sub(r"\[.*\]$", "", tid)) + r"(\[.*\])?$")
PYEOF
    [[ -s $WS/include.regex ]] || die "include list '$INCLUDE_LIST' has no test ids"
    RUN_ARGS+=(--include-list "$WS/include.regex")
fi
RUN_ARGS+=("${EXTRA[@]}")

log "running $("$TEMPEST_VENV/bin/tempest" --version 2>/dev/null || echo tempest) against $AUTH_URL; services: ${API_PKGS[*]}; workers: $CONCURRENCY"
log "selection: ${REGEX:+regex $REGEX }${INCLUDE_LIST:+include-list $INCLUDE_LIST}"
set +e
(cd "$WS" && "$TEMPEST_VENV/bin/tempest" "${RUN_ARGS[@]}")
RC=$?
set -e

# ------------------------------------------------------------------- results
# status<TAB>id for every test of the last run (ids without the [...] tag).
# subunit2csv statuses: success, failure, error, skip, xfail, uxsuccess.
# (`stestr last` and subunit2csv exit 1 when the run had failures.)
(cd "$WS" && "$TEMPEST_VENV/bin/stestr" last --subunit >"$WS/last.subunit" 2>/dev/null) || true
if ! { "$TEMPEST_VENV/bin/subunit2csv" --no-passthrough <"$WS/last.subunit" || true; } \
        | "$PY" -c '
import csv, re, sys
for row in list(csv.reader(sys.stdin))[1:]:
    if len(row) >= 2:
        print(row[1] + "\t" + re.sub(r"\[.*\]$", "", row[0]))
' >"$WS/results.tsv"; then
    log "could not read the subunit results of the run"
    : >"$WS/results.tsv"
fi
awk -F'\t' '$1 == "success" {print $2}' "$WS/results.tsv" | LC_ALL=C sort -u >"$WS/passed.txt"
awk -F'\t' '$1 != "success" && $1 != "skip" && $1 != "xfail" {print $2}' "$WS/results.tsv" \
    | LC_ALL=C sort -u >"$WS/failed.txt"
awk -F'\t' '$1 == "skip" {print $2}' "$WS/results.tsv" | LC_ALL=C sort -u >"$WS/skipped.txt"
N_PASS=$(wc -l <"$WS/passed.txt")
N_FAIL=$(wc -l <"$WS/failed.txt")
N_SKIP=$(wc -l <"$WS/skipped.txt")

STATUS=0
echo
echo "==== $PROG summary ($AUTH_URL) ===="
echo "passed: $N_PASS   failed: $N_FAIL   skipped: $N_SKIP   (tempest exit code $RC)"
if [[ $N_FAIL -gt 0 ]]; then
    echo "failed tests:"
    sed 's/^/  /' "$WS/failed.txt"
    STATUS=1
fi
if [[ -n $INCLUDE_LIST ]]; then
    "$PY" - "$INCLUDE_LIST" "$WS/passed.txt" >"$WS/missing.txt" <<'PYEOF'
import re, sys
want = {re.sub(r"\[.*\]$", "", line.split("#", 1)[0].strip())
        for line in open(sys.argv[1])} - {""}
got = {line.strip() for line in open(sys.argv[2])}
print("\n".join(sorted(want - got)))
PYEOF
    sed -i '/^$/d' "$WS/missing.txt"
    N_MISSING=$(wc -l <"$WS/missing.txt")
    if [[ $N_MISSING -gt 0 ]]; then
        echo "guard: $N_MISSING of the listed tests did not pass (failed, skipped or not found):"
        sed 's/^/  /' "$WS/missing.txt"
        STATUS=1
    else
        echo "guard: all $(grep -cv '^[[:space:]]*\(#\|$\)' "$INCLUDE_LIST") listed tests passed"
    fi
fi
if [[ $((N_PASS + N_FAIL + N_SKIP)) -eq 0 ]]; then
    echo "no test ran (bad selection, or tempest failed to start: see its output above)"
    STATUS=1
elif [[ $RC -ne 0 && $STATUS -eq 0 ]]; then
    echo "tempest exited with $RC"
    STATUS=1
fi
if [[ -n $RECORD ]]; then
    cp "$WS/passed.txt" "$RECORD"
    echo "recorded $N_PASS passed test ids in $RECORD"
fi
exit "$STATUS"
