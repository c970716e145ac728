#!/usr/bin/env bash
# The test command (README; .ci/run calls it): installs and starts what the tests need (PostgreSQL,
# RabbitMQ, Chromium, bubblewrap, Node for the Puppeteer client), runs every test project, then starts
# the whole platform with up.sh and runs the end-to-end tests against it. Ends with one summary line.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
source "$REPO/scripts/lib/infra.sh"
cd "$REPO"

ensure_packages
start_postgres
start_rabbitmq

log "installing the Puppeteer client for the end-to-end tests"
(cd tests/e2e-node && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error >/dev/null)

export BOXES_TEST_PG="Host=127.0.0.1;Port=$PG_PORT;Username=boxes;Password=boxes;Database=postgres"
export BOXES_TEST_RABBITMQ="amqp://boxes:boxes@127.0.0.1:5672/"
export BOXES_TEST_RABBITMQ_MANAGEMENT="http://boxes:boxes@127.0.0.1:15672"
export BOXES_CHROMIUM="$(command -v chromium)"

log "building"
dotnet build Platform.sln -c Release -nologo -v q -clp:ErrorsOnly

RESULTS="$RUN/test-results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
failed=0
run_tests() {
  local project="$1" name
  name="$(basename "$project" .csproj)"
  log "testing $name"
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$RESULTS" || failed=1
}

for project in tests/*/*.Tests.csproj; do
  [[ "$project" == *EndToEnd* ]] && continue
  run_tests "$project"
done

# End to end: the platform as a user starts it, driven only through its public contract.
trap 'bash "$REPO/scripts/down.sh" >/dev/null 2>&1 || true' EXIT
bash scripts/up.sh
set -a && source "$RUN/env" && set +a
run_tests tests/Boxes.EndToEnd.Tests/Boxes.EndToEnd.Tests.csproj

# One summary line over every run, read from the trx files.
summary=0
python3 - "$RESULTS" <<'PY' || summary=1
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    skipped += int(c.get("total", 0)) - int(c.get("executed", 0))
line = f"tests: {passed} passed, {failed} failed"
print(line + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
PY
exit $(( failed || summary ))
