#!/usr/bin/env bash
# The test suite must not depend on the time of day or on an idle machine. This runs it (or the
# pytest arguments given) under both, one pass/fail line per run:
#   (a) with the wall clock of pytest and of every Python process it starts (`serve`, the CLI)
#       moved to 15:59, 16:01 and 23:59 UTC today, and to 00:01 in Chengyang (Asia/Shanghai) on
#       1 January next year — where the district's day, month and year have turned and UTC's have
#       not (POLICY_ASSISTANT_TEST_CLOCK_OFFSET: tests/conftest.py, tests/clock/sitecustomize.py);
#   (b) three times in a row while a CPU hog keeps both cores busy (stress-ng, or busy loops).
#
#   scripts/test_robustness.sh                       # the whole suite, as `make test` runs it
#   scripts/test_robustness.sh -q tests/test_admin.py -k dashboard
#   ROBUSTNESS=clock scripts/test_robustness.sh ...  # only (a); ROBUSTNESS=load: only (b)
#
# The clock is moved by an offset in seconds, so processes started later agree with earlier ones;
# monotonic clocks stay real. (libfaketime is no substitute here: 0.9.10 breaks Python's sleep
# and timed waits.) The CPU hog is stress-ng when installed (apt-get install -y stress-ng).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
MODE=${ROBUSTNESS:-all}
if [ "$#" -gt 0 ]; then
  ARGS=("$@")
else
  # The whole suite as `make test` runs it (the Makefile's PYTEST_ARGS).
  read -r -a ARGS <<<"$(make -s --no-print-directory print-pytest-args)"
fi
failures=0

run() {  # run LABEL [VAR=value ...]: the selection with the given environment, one summary line
  local label=$1 started rc log
  shift
  log=$(mktemp /tmp/test-robustness.XXXXXX.log)
  started=$(date +%s)
  env "$@" "$PYTHON" -m pytest -p no:cacheprovider "${ARGS[@]}" >"$log" 2>&1
  rc=$?
  local summary
  summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$log" | tail -n 1 | tr -d '=')
  if [ "$rc" -eq 0 ]; then
    printf 'PASS  %-44s %4ss  %s\n' "$label" "$(($(date +%s) - started))" "$summary"
    rm -f "$log"
  else
    printf 'FAIL  %-44s %4ss  %s  (log: %s)\n' "$label" "$(($(date +%s) - started))" "$summary" "$log"
    failures=$((failures + 1))
  fi
}

if [ "$MODE" = all ] || [ "$MODE" = clock ]; then
  today=$(date -u +%F)
  next_year=$(($(date -u +%Y) + 1))
  for target in "$today 15:59:00 UTC" "$today 16:01:00 UTC" "$today 23:59:00 UTC" \
                "TZ=\"Asia/Shanghai\" $next_year-01-01 00:01:00"; do
    offset=$(($(date -d "$target" +%s) - $(date +%s)))
    run "clock $(date -u -d "$target" '+%F %H:%M UTC') ($(TZ=Asia/Shanghai date -d "$target" '+%m-%d %H:%M') 城阳)" \
      POLICY_ASSISTANT_TEST_CLOCK_OFFSET="$offset"
  done
fi

if [ "$MODE" = all ] || [ "$MODE" = load ]; then
  cores=$(nproc)
  if command -v stress-ng >/dev/null 2>&1; then
    stress-ng --cpu "$cores" --quiet &
    hog=$!
    hog_name="stress-ng --cpu $cores"
  else
    # Each loop also ends when its parent is gone: killed by a signal, the parent never reaps its daemon children,
    # and loops left spinning slowed every later run on the machine (found still running an hour later).
    "$PYTHON" -c "
import multiprocessing as mp, os
def spin(parent):
    while os.getppid() == parent:
        pass
ps = [mp.Process(target=spin, args=(os.getpid(),), daemon=True) for _ in range($cores)]
[p.start() for p in ps]
[p.join() for p in ps]" &
    hog=$!
    hog_name="$cores busy loops"
  fi
  # Always stopped, whatever happens to the runs (only the processes started here).
  # Children first: once the parent is gone they belong to init and pkill -P finds none.
  trap 'pkill -P "$hog" 2>/dev/null; kill -- "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
  for i in 1 2 3; do
    run "load $i/3 ($hog_name)"
  done
  pkill -P "$hog" 2>/dev/null
  kill -- "$hog" 2>/dev/null
  wait "$hog" 2>/dev/null
  trap - EXIT
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures 次运行失败"
  exit 1
fi
echo "全部通过"
