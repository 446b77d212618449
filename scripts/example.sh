#!/usr/bin/env bash
# Set up opentaskpy and run the example batch (local protocol, no SSH needed):
# a producer execution, a transfer that file-watches for its output, delivers it
# atomically, writes a flag and archives the source, then a verifying execution.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WORK_DIR="${WORK_DIR:-$(mktemp -d /tmp/otf-example.XXXXXX)}"
export OTF_LOG_DIRECTORY="$WORK_DIR/logs"
# Run records of the example stay in its work directory.
export OTF_RUNS_DB="${OTF_RUNS_DB:-$WORK_DIR/runs.sqlite3}"
echo "Running examples/cfg batch 'example-batch' in $WORK_DIR"
status=0
.venv/bin/task-run -t example-batch -c examples/cfg || status=$?
echo
echo "Exit code: $status. Log files:"
find "$OTF_LOG_DIRECTORY" -type f | sort
echo
echo "Run history (otf-runs history --steps):"
.venv/bin/otf-runs history --steps || true
exit $status
