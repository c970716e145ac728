#!/usr/bin/env bash
# The test command (README; .ci/run calls it). Installs and starts what the tests need (PostgreSQL,
# RabbitMQ, Chromium, bubblewrap, slirp4netns, bun, the Puppeteer client), builds, runs every test project under tests/,
# then starts the whole platform with up.sh and runs the end-to-end tests against it, and stops it.
# Ends with one line: "tests: N passed, M failed[, K skipped]"; exits non-zero if anything failed or
# no test ran.
set -euo pipefail
# shellcheck source=lib/infra.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/infra.sh"
cd "$REPO"

RESULTS="$RUN/test-results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
: >"$RESULTS/runs.tsv" # one line per run: name, exit code (its counts are in name.trx)
platform=""

# On any exit, failures included: stop the platform, then the summary line, last, from the trx files.
# A run that failed without a failed test (crash, hang, up.sh) and a step that failed before any test
# (build) count as one failure each, so the line never says "0 failed" when the exit code is not 0.
finish() {
  local rc=$?
  trap - EXIT
  set +e
  [ -z "$platform" ] || bash scripts/down.sh >/dev/null 2>&1
  python3 - "$RESULTS" "$rc" <<'PY'
import os, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
results, rc = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
for line in open(os.path.join(results, "runs.tsv")):
    name, status = line.rstrip("\n").split("\t")
    run_failed = 0
    try:
        c = ET.parse(os.path.join(results, name + ".trx")).getroot().find("t:ResultSummary/t:Counters", ns)
        n = lambda key: int(c.get(key, 0))
        passed += n("passed")
        run_failed = n("failed") + n("error") + n("timeout") + n("aborted")
        skipped += n("total") - n("executed")
    except (OSError, ET.ParseError, AttributeError):
        pass
    if status != "0" and run_failed == 0:
        print(f"[boxes] {name} exited with {status} without a failed test", file=sys.stderr)
        run_failed = 1
    failed += run_failed
if rc != 0 and failed == 0:
    print(f"[boxes] test.sh stopped with exit code {rc} (see above)", file=sys.stderr)
    failed = 1
if passed + failed == 0:
    print("[boxes] no test ran", file=sys.stderr)
print(f"tests: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
PY
  exit $?
}
trap finish EXIT

run_tests() {
  local project="$1" name status=0
  name="$(basename "$project" .csproj)"
  log "testing $name"
  # A hung test is stopped after 10 minutes instead of eating CI's whole time budget.
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$RESULTS" \
    --blame-hang-timeout 10m --blame-hang-dump-type none || status=$?
  printf '%s\t%s\n' "$name" "$status" >>"$RESULTS/runs.tsv"
}

ensure_packages
start_postgres
start_rabbitmq

# The Puppeteer client the end-to-end tests drive (Debian's Chromium, so no browser download).
if [ -f tests/e2e-node/package.json ]; then
  want="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["puppeteer-core"])' tests/e2e-node/package.json)"
  have="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' tests/e2e-node/node_modules/puppeteer-core/package.json 2>/dev/null || true)"
  if [ "$want" != "$have" ]; then
    log "installing puppeteer-core $want in tests/e2e-node"
    (cd tests/e2e-node && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi

export BOXES_TEST_PG="Host=127.0.0.1;Port=$PG_PORT;Username=boxes;Password=boxes;Database=postgres"
export BOXES_TEST_RABBITMQ="amqp://boxes:boxes@127.0.0.1:$AMQP_PORT/"
export BOXES_TEST_RABBITMQ_MANAGEMENT="http://boxes:boxes@127.0.0.1:$MGMT_PORT"
BOXES_CHROMIUM="$(command -v chromium)"
export BOXES_CHROMIUM
# The bun runtime the sandbox tests run code with.
BOXES_BUN="$(ensure_bun)"
export BOXES_BUN

log "building"
dotnet build Platform.sln -c Release -nologo -v q -clp:ErrorsOnly

# Every test project (a project that references the test SDK: tests/Boxes.Testing is a helper library)
# except those that need the platform running: they say so with <RunsAgainstPlatform>true</RunsAgainstPlatform>
# (the end-to-end tests, the SDK's and the CLI's tests against the real platform).
platform_projects=()
for project in tests/*/*.csproj; do
  grep -qE 'Microsoft\.NET\.Test\.Sdk|<IsTestProject>true' "$project" || continue
  if grep -q '<RunsAgainstPlatform>true</RunsAgainstPlatform>' "$project"; then
    platform_projects+=("$project")
    continue
  fi
  run_tests "$project"
done

# End to end: the platform as a user starts it, driven only through its public contract.
if [ "${#platform_projects[@]}" -gt 0 ]; then
  platform=1
  if bash scripts/up.sh --no-build; then
    set -a
    # shellcheck source=/dev/null
    source "$RUN/env"
    set +a
    # The end-to-end tests also look at the worker directly (its port moves with BOXES_SERVICE_PORT_BASE).
    export BOXES_WORKER_URL="http://127.0.0.1:${SERVICE_PORTS[worker]}"
    for project in "${platform_projects[@]}"; do
      run_tests "$project"
    done
  else
    printf 'up.sh\t1\n' >>"$RESULTS/runs.tsv"
  fi
fi
