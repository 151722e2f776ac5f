#!/usr/bin/env bash
# Fault injection on 1 and 2 ranks (issue 19): every fault a cluster or a user can inflict on a
# protect job, with its expected outcome, checked; a summary table (case, expected, outcome,
# seconds) at the end; exit 1 if any case did not behave.
#   tests/reliability/fault_injection.sh SALM_BINARY [WORK_DIR]
# Full-disk cases mount small tmpfs file systems and need root; they are reported as skipped
# (with the reason) otherwise. Run by CTest as reliability.faults; the table is in docs/reliability.md.
set -uo pipefail
salm=$(readlink -f "$1")
work=${2:-$(mktemp -d)}
mkdir -p "$work" && cd "$work" || exit 2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
mpi=(mpirun -n 2)
mounts=()
cleanup() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done; }
trap cleanup EXIT

rows=() failed=0
record() {  # case, expected, outcome ("ok" or the problem), seconds
  rows+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")")
  [[ $3 == ok || $3 == skipped* ]] || failed=1
  printf '%-44s %s (%s s)\n' "$1" "$3" "$4"
}
noise_sum() { h5dump -d /delta -d /protected "$1" 2>/dev/null | tail -n +2 | md5sum | cut -c1-32; }
errors_in() { grep -c '^salm: error:' "$1"; }
tmpfs() {  # tmpfs DIR SIZE: a fresh small file system at DIR ("" if not root)
  mkdir -p "$1"
  if [[ $(id -u) != 0 ]] || ! mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null; then return 1; fi
  mounts+=("$1")
}
# The outcome of a failed run: "ok" when it exited `want`, with exactly one error line naming
# `needle`, left no `leftover` files, and did not hang (timeout's 124) or die of a signal.
judge_failure() {  # rc want log needle leftover...
  local rc=$1 want=$2 log=$3 needle=$4; shift 4
  ((rc == 124)) && { echo "HANG (killed after the timeout)"; return; }
  ((rc > 128)) && { echo "signal $((rc - 128))"; return; }
  ((rc != want)) && { echo "exit $rc, expected $want: $(grep -m1 '^salm: error' "$log")"; return; }
  [[ $(errors_in "$log") -ge 1 ]] || { echo "no 'salm: error:' line"; return; }
  grep -q "$needle" "$log" || { echo "message lacks '$needle': $(grep -m1 '^salm: error' "$log")"; return; }
  local f
  for f in "$@"; do [[ -e $f ]] && { echo "left $f behind"; return; }; done
  echo ok
}

"$salm" synth --out data.h5 --classes 3 --train 400 --val 0 --test 24 --size 28 >/dev/null 2>&1 || { echo "synth failed"; exit 2; }
iters=(--max-iters 3)
P=(protect --data "$work/data.h5" --model small-cnn --pgd-steps 3 --train-steps 2 --batch-size 16 --stop-acc 0)
"${mpi[@]}" "$salm" "${P[@]}" "${iters[@]}" --out ref2.h5 --no-checkpoint >/dev/null 2>&1 || { echo "reference run failed"; exit 2; }
"$salm" "${P[@]}" "${iters[@]}" --out ref1.h5 --no-checkpoint >/dev/null 2>&1 || { echo "reference run failed"; exit 2; }
ref=$(noise_sum ref2.h5)
t0=0; start() { t0=$(date +%s); }; secs() { echo $(( $(date +%s) - t0 )); }

# --- a full disk ---------------------------------------------------------------------------
for ranks in 1 2; do
  launch=(); ((ranks == 2)) && launch=("${mpi[@]}")
  for midway in 0 1; do
    what="reserved up front"; ((midway)) && what="met half-way through a write"
    for sub in synth protect; do
      name="full disk at --out: $sub, $ranks rank(s), $what"
      start
      if ! tmpfs "$work/full" 600k; then record "$name" "exit 1, one line" "skipped: not root (cannot mount a tmpfs)" 0; continue; fi
      args=(synth --train 2000 --out "$work/full/out.h5")
      [[ $sub == protect ]] && args=("${P[@]}" "${iters[@]}" --no-checkpoint --out "$work/full/out.h5")
      SALM_TEST_NO_RESERVE=$midway timeout 120 "${launch[@]}" "$salm" "${args[@]}" >log 2>&1; rc=$?
      record "$name" "exit 1, 'no space left on device writing OUT', nothing left" \
        "$(judge_failure $rc 1 log 'no space left on device writing' full/out.h5 full/out.h5.partial)" "$(secs)"
      umount "$work/full"; mounts=()
    done
  done
done

for ranks in 1 2; do
  launch=(); ((ranks == 2)) && launch=("${mpi[@]}")
  name="full disk at the checkpoint, $ranks rank(s): previous checkpoint kept"
  start
  if tmpfs "$work/ckfull" 6m; then
    rm -rf ck-copy out-ck.h5
    timeout 120 "${launch[@]}" "$salm" "${P[@]}" "${iters[@]}" --out out-ck.h5 --checkpoint-dir "$work/ckfull/ck" >log 2>&1; rc=$?
    outcome=$(judge_failure $rc 1 log 'no space left on device writing' out-ck.h5 out-ck.h5.partial)
    if [[ $outcome == ok ]]; then
      cp -a ckfull/ck ck-copy
      gen=$(cat ck-copy/latest)
      if [[ $gen != it0001-stage0-step000000 ]]; then outcome="latest names $gen, not the previous generation"
      elif ! timeout 120 "${launch[@]}" "$salm" "${P[@]}" "${iters[@]}" --out out-ck.h5 --checkpoint-dir "$work/ck-copy" >log2 2>&1; then
        outcome="the resume failed: $(grep -m1 '^salm: error' log2)"
      elif [[ $(noise_sum out-ck.h5) != "$(noise_sum ref$ranks.h5)" ]]; then outcome="the resumed noise differs from an uninterrupted run"
      fi
    fi
    record "$name" "exit 1; the previous generation intact; its resume bit-identical" "$outcome" "$(secs)"
    umount "$work/ckfull"; mounts=()
  else
    record "$name" "exit 1; previous generation intact" "skipped: not root (cannot mount a tmpfs)" 0
  fi

  name="full disk: convert, $ranks rank(s)"
  start
  if tmpfs "$work/full" 300k; then
    timeout 120 "${launch[@]}" "$salm" convert --in data.h5 --out "$work/full/c.h5" >log 2>&1; rc=$?
    record "$name" "exit 1, one line, nothing left" "$(judge_failure $rc 1 log 'no space left on device writing' full/c.h5 full/c.h5.partial)" "$(secs)"
    umount "$work/full"; mounts=()
  else
    record "$name" "exit 1, one line" "skipped: not root (cannot mount a tmpfs)" 0
  fi
done

# --- signals ---------------------------------------------------------------------------------
# The ranks pause at a known step (SALM_TEST_PAUSE_AT_STEP, docs/testing.md) and the signal
# arrives there: a stop at an exact, repeatable point.
signal_case() {  # name, target (mpirun|rank), signal, expected rc
  local name=$1 target=$2 sig=$3 want=$4 out="sig-$2-$3.h5"
  start
  rm -rf "$out" "$out.ckpt" paused
  SALM_TEST_PAUSE_AT_STEP=5 SALM_TEST_PAUSED_FILE="$work/paused" timeout 120 "${mpi[@]}" "$salm" "${P[@]}" "${iters[@]}" --out "$out" >log 2>&1 &
  local job=$! i
  for i in $(seq 300); do [[ -f paused && $(wc -l <paused) -ge 2 ]] && break; sleep 0.1; done
  local mpirun_pid
  mpirun_pid=$(pgrep -P $job mpirun || echo $job)
  if [[ $target == mpirun ]]; then kill -"$sig" "$mpirun_pid"
  else kill -"$sig" "$(head -1 paused)"; sleep 0.5; rm -f paused; fi  # the other rank goes on to the next step
  wait $job; local rc=$? outcome=ok
  if ((rc == 124)); then outcome="HANG"
  elif ((rc != want)); then outcome="exit $rc, expected $want"
  elif [[ $sig != KILL ]] && ! grep -q "checkpoint written" log; then outcome="no 'checkpoint written' message"
  elif [[ -e $out ]]; then outcome="$out was published by a stopped run"
  elif ! timeout 120 "${mpi[@]}" "$salm" "${P[@]}" "${iters[@]}" --out "$out" >log2 2>&1; then outcome="the resume failed: $(grep -m1 '^salm: error' log2)"
  elif [[ $(noise_sum "$out") != "$ref" ]]; then outcome="the resumed noise differs from an uninterrupted run"
  fi
  record "$name" "exit $want; resume bit-identical" "$outcome" "$(secs)"
}
signal_case "SIGTERM to one rank, 2 ranks" rank TERM 3
signal_case "SIGUSR1 to mpirun, 2 ranks" mpirun USR1 3
# Open MPI's mpirun ends with 1 whenever it is signalled with TERM, whatever its ranks return;
# the ranks still checkpoint. slurm/salm-job.sh turns TERM into USR1 for them (exit 3).
signal_case "SIGTERM to mpirun, 2 ranks (Open MPI: exit 1)" mpirun TERM 1
signal_case "SIGKILL to one rank, 2 ranks" rank KILL 137

# --- damaged checkpoints -----------------------------------------------------------------------
damaged_case() {  # name, what to do to the checkpoint (a function), needle
  local name=$1 damage=$2 needle=$3
  start
  rm -rf dmg.h5 dmg.h5.ckpt
  SALM_STOP_AFTER_STEPS=6 timeout 120 "${mpi[@]}" "$salm" "${P[@]}" "${iters[@]}" --out dmg.h5 >/dev/null 2>&1
  local gen="dmg.h5.ckpt/$(cat dmg.h5.ckpt/latest 2>/dev/null)"
  $damage "$gen"
  local again=("${iters[@]}")
  [[ $damage == other_options ]] && again=(--max-iters 4)
  timeout 120 "${mpi[@]}" "$salm" "${P[@]}" "${again[@]}" --out dmg.h5 >log 2>&1; local rc=$?
  record "$name" "exit 2, one line naming the checkpoint, nothing published" "$(judge_failure $rc 2 log "$needle" dmg.h5 dmg.h5.partial)" "$(secs)"
}
flip_state() { printf '\xff\xff\xff\xff' | dd of="$1/state.h5" bs=1 seek=3000 conv=notrunc status=none; }
flip_model() { printf '\x00\x01' | dd of="$1/model.pt" bs=1 seek=200 conv=notrunc status=none; }
edit_meta() { sed -i 's/"iterations_done": [0-9]*/"iterations_done": 2/' "$1/meta.json"; }
other_options() { :; }
damaged_case "checkpoint state.h5 with 4 bytes changed" flip_state "SHA-256"
damaged_case "checkpoint model.pt with 2 bytes changed" flip_model "SHA-256"
damaged_case "checkpoint meta.json edited" edit_meta "SHA-256"
damaged_case "checkpoint resumed under another --max-iters" other_options "other options"

# --- two runs on one output ------------------------------------------------------------------
name="two concurrent runs on one --out, 2 ranks each"
start
rm -rf conc.h5 conc.h5.ckpt paused
SALM_TEST_PAUSE_AT_STEP=3 SALM_TEST_PAUSED_FILE="$work/paused" timeout 120 "${mpi[@]}" "$salm" "${P[@]}" "${iters[@]}" --out conc.h5 >log1 2>&1 &
first=$!
for i in $(seq 300); do [[ -f paused && $(wc -l <paused) -ge 2 ]] && break; sleep 0.1; done
timeout 60 "${mpi[@]}" "$salm" "${P[@]}" "${iters[@]}" --out conc.h5 >log 2>&1; rc=$?
outcome=$(judge_failure $rc 2 log "in use by another salm run")
for p in $(cat paused); do kill -USR1 "$p" 2>/dev/null; done  # let the first one stop (exit 3)
wait $first; rc1=$?
[[ $outcome == ok && $rc1 != 3 ]] && outcome="the first run ended with $rc1, expected 3 (stopped by USR1)"
record "$name" "the second refused at once (exit 2); the first unharmed" "$outcome" "$(secs)"

echo
echo "| case | expected | outcome | seconds |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $failed
