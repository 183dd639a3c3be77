#!/usr/bin/env bash
# tempest-guard.sh SERVICE: start a private `onestack up`, run every Tempest test
# recorded as passing in tests/tempest/SERVICE.passing.txt, stop the cloud.
# Every listed test must pass: what passed once must keep passing.
set -euo pipefail
cd "$(dirname "$0")/.."
service=${1:?usage: tempest-guard.sh SERVICE}
list=tests/tempest/$service.passing.txt
[ -s "$list" ] || { echo "tempest-guard: $list is missing or empty" >&2; exit 2; }

work=$(mktemp -d /tmp/onestack-guard.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free port for every service, so a guard never collides with a running cloud.
ports=$(python3 - <<'PY'
import socket
from onestack.kernel.config import SERVICE_PORTS
held = []
for name in SERVICE_PORTS:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    held.append(sock)
    print(f"{name} = {sock.getsockname()[1]}")
PY
)
# The security-compliance values scripts/tempest.sh writes into tempest.conf.
cat > "$work/onestack.toml" <<TOML
[api.ports]
$ports
[identity]
password_hash_rounds = 4
lockout_failure_attempts = ${TEMPEST_LOCKOUT_FAILURE_ATTEMPTS:-2}
lockout_duration = ${TEMPEST_LOCKOUT_DURATION:-10}
unique_last_password_count = ${TEMPEST_UNIQUE_LAST_PASSWORD_COUNT:-2}
minimum_password_age = ${TEMPEST_MINIMUM_PASSWORD_AGE:-0}
[compute]
virt_driver = "fake"
TOML
# What a service's recorded run needs of the cloud beyond the defaults.
extra=()
case $service in
  # two fake hosts: the multi-host tests (migrations, affinity) run; the fake
  # driver builds at once, so a server that is not ready in a minute never will be
  compute)
    printf 'fake_hosts = 2\n' >> "$work/onestack.toml"
    extra=(--set compute.build_timeout=60 --set image.build_timeout=60) ;;
esac
onestack up --state-dir "$work/state" --config "$work/onestack.toml" \
  >"$work/onestack.out" 2>"$work/onestack.log" &
pid=$!
for _ in $(seq 100); do
  grep -q "is up in" "$work/onestack.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/onestack.log" >&2; exit 2; }
  sleep 0.2
done
grep -q "is up in" "$work/onestack.out" || { echo "onestack did not start" >&2; exit 2; }
# shellcheck disable=SC1091
source "$work/state/admin-openrc"
status=0
scripts/tempest.sh --services "$service" --include-list "$list" "${extra[@]}" || status=$?
if [ "$status" != 0 ]; then
  echo "tempest-guard: failures; the last lines of the onestack log:" >&2
  grep -E "ERROR|Traceback" -A3 "$work/onestack.log" | tail -40 >&2 || true
fi
exit "$status"
