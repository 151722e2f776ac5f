#!/usr/bin/env bash
# The Slurm tests (CTest label `slurm`), against the real single-node Slurm of tools/local-slurm.sh:
#   slurm_test.sh start|stop         the cluster (a CTest fixture: stop runs even when a test fails)
#   slurm_test.sh protect            slurm/protect.sbatch with 2 tasks: the noise file is complete
#   slurm_test.sh matrix             a 3-cell matrix (job arrays + afterok gather job): the table
#   slurm_test.sh requeue            USR1 to the batch shell mid-run (the time-limit warning):
#                                    checkpoint, requeue, resume; /delta equals an uninterrupted run's
#   slurm_test.sh preempt            an `urgent` job preempts a running protect job: same check
#   slurm_test.sh scaling            tools/scaling-study through Slurm at 1 and 2 ranks: table, plot
#   slurm_test.sh matrix-local       tools/submit-matrix --dry-run and --local (no Slurm needed)
# Environment (set by CTest): SALM_ROOT, SALM_BIN, SALM_SLURM_DIR, SALM_SLURM_PORT, SALM_TEST_WORK.
# Exit code 77 (skipped) when the cluster cannot run here (not root, no slurm-wlm).
set -euo pipefail
: "${SALM_ROOT:?}" "${SALM_BIN:?}" "${SALM_SLURM_DIR:?}" "${SALM_TEST_WORK:?}"
export SALM_BIN SALM_ROOT SALM_SLURM_DIR SALM_SLURM_PORT
export SLURM_CONF=$SALM_SLURM_DIR/etc/slurm.conf
local_slurm=$SALM_ROOT/tools/local-slurm.sh
case_=${1:?usage: slurm_test.sh start|stop|protect|matrix|requeue|preempt|scaling|matrix-local}
work=$SALM_TEST_WORK/$case_

fail() { echo "FAIL: $*" >&2; exit 1; }
state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
restarts() { scontrol show job "$1" 2>/dev/null | grep -o 'Restarts=[0-9]*' | cut -d= -f2; }
# There is no sacct without slurmdbd: poll scontrol until the job ends (it stays listed for
# MinJobAge = 300 s after that). Slurm holds a requeued job for about two minutes (its begin
# time) so that the node can clean up; once the node is idle, start it after 3 s rather than 120.
wait_job() {
  local id=$1 limit=${2:-300} s i held=0
  for ((i = 0; i < limit * 2; i++)); do
    s=$(state "$id")
    case $s in
      COMPLETED) return 0 ;;
      FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        echo "job $id ended $s" >&2; return 1 ;;
      PENDING)
        if scontrol show job "$id" | grep -q 'Reason=BeginTime' && scontrol show node | grep -q 'CPUAlloc=0'; then
          ((++held >= 6)) && scontrol update jobid="$id" starttime=now 2>/dev/null && held=0
        fi ;;
    esac
    sleep 0.5
  done
  echo "job $id did not end in $limit s (state $s)" >&2; return 1
}
show_logs() { for f in "$@"; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done; }

# Tiny built-in data and a protect config that runs ~5 s on 2 ranks: long enough to interrupt.
prepare() {
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  "$SALM_BIN" synth --out data.h5 --train 256 --val 8 --test 64 --classes 3 --size 16 --channels 1 >/dev/null 2>&1
  cat >tiny.ini <<'EOF'
seed = 0
[protect]
model = small-cnn
k = 10
max-iters = 20
train-steps = 2
pgd-steps = 5
batch-size = 16
stop-acc = 0
[evaluate]
model = small-cnn
epochs = 2
batch-size = 32
EOF
}

# Submits protect.sbatch, interrupts it with $1 once iteration 4 has begun, waits for the
# requeued job to finish, and checks its /delta against an uninterrupted run's.
interrupted_run() {
  local how=$1 j ref u
  prepare
  ref=$(sbatch --parsable -J ref "$SALM_ROOT/slurm/protect.sbatch" tiny.ini --data data.h5 --out ref.h5)
  wait_job "$ref" || { show_logs ref-"$ref".*; fail "uninterrupted job"; }
  j=$(sbatch --parsable -J run "$SALM_ROOT/slurm/protect.sbatch" tiny.ini --data data.h5 --out run.h5)
  for _ in $(seq 1 600); do grep -q 'iteration 4/' "run-$j.err" 2>/dev/null && break; sleep 0.1; done
  grep -q 'iteration 4/' "run-$j.err" || { show_logs run-"$j".*; fail "job $j never reached iteration 4"; }
  case $how in
    usr1) scancel --batch --signal=USR1 "$j" ;;  # what --signal=B:USR1@120 sends before the time limit
    preempt) u=$(sbatch --parsable -p urgent --exclusive -J urgent --wrap 'sleep 1') ;;  # needs the whole node
  esac
  wait_job "$j" || { show_logs run-"$j".*; fail "interrupted job"; }
  [[ $(restarts "$j") -ge 1 ]] || { show_logs run-"$j".*; fail "job $j was not requeued (Restarts=$(restarts "$j"))"; }
  grep -q 'checkpoint written' "run-$j.err" || { show_logs run-"$j".*; fail "no checkpoint written"; }
  grep -q 'resuming from checkpoint' "run-$j.err" || { show_logs run-"$j".*; fail "the requeued job did not resume"; }
  grep -q 'restart 1' "run-$j.out" || fail "the log of the first run was not kept (open-mode=append)"
  [[ $how != preempt ]] || wait_job "$u" || fail "the urgent job"
  h5diff ref.h5 run.h5 /delta || fail "/delta of the interrupted and requeued run differs from the uninterrupted run's"
  h5diff ref.h5 run.h5 /mask || fail "/mask differs"
  [[ ! -e run.h5.ckpt ]] || fail "the checkpoint was not removed after the run finished"
  echo "ok: job $j interrupted ($how), requeued, $(grep -o 'resuming from checkpoint.*' "run-$j.err"); /delta identical"
}

write_matrix() {
  cat >matrix.ini <<'EOF'
[matrix]
name = test
out = out
config = tiny.ini
datasets = tiny
methods = clean, salm, random
sources = small-cnn
victims = small-cnn
ranks = 2
time = 00:10:00
[dataset tiny]
data = data.h5
[method salm]
method = salm
max-iters = 2
[method random]
method = random
EOF
}

check_table() {
  cat out/results.md
  python3 - <<'PY'
import csv, json
rows = json.load(open("out/results.json"))["rows"]
assert [r["method"] for r in rows] == ["clean", "salm", "random"], rows
assert all(r["status"] == "ok" and 0 <= r["test_accuracy"] <= 1 for r in rows), rows
assert rows[0]["drop"] == 0 and rows[1]["drop"] is not None, rows
assert len(list(csv.DictReader(open("out/results.csv")))) == 3
md = open("out/results.md").read()
assert md.count("| tiny |") == 3, md
PY
}

case $case_ in
  start)
    [[ $(id -u) -eq 0 ]] || { echo "SKIP: the local Slurm runs as root"; exit 77; }
    PATH=$PATH:/usr/sbin command -v slurmctld >/dev/null && command -v sbatch >/dev/null || { echo "SKIP: slurm-wlm not installed"; exit 77; }
    exec "$local_slurm" start ;;
  stop) exec "$local_slurm" stop ;;
  protect)
    prepare
    # Without SALM_ROOT, from a folder that is not the project: the script finds it by its own path.
    j=$(env -u SALM_ROOT sbatch --parsable "$SALM_ROOT/slurm/protect.sbatch" tiny.ini --data data.h5 --out noise.h5 --report protect.json --max-iters 3)
    wait_job "$j" || { show_logs salm-protect-"$j".*; fail "protect job"; }
    grep -q "2 ranks x 1 threads" "salm-protect-$j.out" || fail "not 2 ranks x 1 thread"
    "$SALM_BIN" inspect noise.h5 >inspect.txt 2>&1 || fail "inspect"
    python3 - <<'PY' || fail "noise file or report"
import json, subprocess
r = json.load(open("protect.json"))
assert r["ranks"] == 2, r["ranks"]
assert r["rows"] == 256 and r["iterations"] == 3, (r["rows"], r["iterations"])
for ds in ("/delta", "/mask", "/protected"):
    out = subprocess.run(["h5ls", "noise.h5" + ds], capture_output=True, text=True).stdout
    assert "256" in out, (ds, out)
PY
    echo "ok: job $j wrote noise.h5 with 2 ranks" ;;
  matrix)
    prepare
    write_matrix
    "$SALM_ROOT/tools/submit-matrix" matrix.ini | tee submit.txt
    g=$(awk '$1 == "gather" {print $2}' out/jobs.txt)
    e=$(awk '$1 == "evaluate" {print $2}' out/jobs.txt)
    [[ -n $g && -n $e ]] || fail "no job ids in out/jobs.txt"
    scontrol show job "$e" | grep -q 'ArrayTaskId' || fail "the evaluate stage is not a job array"
    scontrol show job "$g" | grep -q "Dependency=afterok:${e}" || [[ $(state "$g") != PENDING ]] || fail "gather does not depend on the array"
    wait_job "$g" 600 || { show_logs out/logs/*; fail "gather job"; }
    check_table || { show_logs out/logs/*; fail "results table"; }
    echo "ok: 3-cell matrix gathered into out/results.md, .csv, .json" ;;
  matrix-local)  # no Slurm: the same cells with mpirun
    prepare
    write_matrix
    unset SLURM_CONF
    "$SALM_ROOT/tools/submit-matrix" matrix.ini --dry-run >dry.txt
    grep -q 'EVALUATE=$(sbatch .*--array 0-2 .*--dependency afterok:$PROTECT' dry.txt || { cat dry.txt; fail "dry run"; }
    [[ ! -e out ]] || fail "--dry-run wrote files"
    "$SALM_ROOT/tools/submit-matrix" matrix.ini --local
    check_table || fail "results table"
    "$SALM_ROOT/tools/submit-matrix" matrix.ini --local 2>err.txt && fail "a second run overwrote out/"
    grep -q 'not empty' err.txt || fail "no clear error for an existing output folder: $(cat err.txt)"
    # A lost cell: --resume runs only that one again.
    rm out/eval/tiny-random-small-cnn-small-cnn-none.json
    "$SALM_ROOT/tools/submit-matrix" matrix.ini --local --resume | tee resume.txt
    grep -q '0 synth, 0 protect, 1 evaluate cells to resume' resume.txt || fail "--resume did not pick the one missing cell"
    check_table || fail "results table after --resume"
    echo "ok: 3-cell matrix run locally, gathered, and one lost cell resumed" ;;
  scaling)
    rm -rf "$work" && mkdir -p "$work" && cd "$work"
    "$SALM_ROOT/tools/scaling-study" --launcher slurm --out study --rows 64 --max-iters 1 --train-steps 2 --pgd-steps 2
    python3 - <<'PY' || fail "scaling table"
import csv
rows = list(csv.DictReader(open("study/scaling.csv")))
assert [(r["mode"], r["ranks"]) for r in rows] == [("strong", "1"), ("strong", "2"), ("weak", "1"), ("weak", "2")], rows
assert all(float(r["efficiency"]) > 0 and float(r["model_efficiency"]) > 0 for r in rows), rows
assert rows[3]["rows"] == "128" and rows[3]["batch"] == "256", rows
import json
for mode, r in (("strong", 1), ("strong", 2), ("weak", 1), ("weak", 2)):
    rep = json.load(open(f"study/runs/{mode}-{r}-0.json"))
    assert rep["ranks"] == r, (mode, r, rep["ranks"])
assert open("study/scaling.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
PY
    echo "ok: scaling study over 1 and 2 ranks through Slurm" ;;
  requeue) interrupted_run usr1 ;;
  preempt) interrupted_run preempt ;;
  *) fail "unknown case $case_" ;;
esac
