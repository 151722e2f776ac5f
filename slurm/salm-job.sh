#!/usr/bin/env bash
# The body of every salm batch job (slurm/*.sbatch exec it; it also runs by hand inside salloc):
#   slurm/salm-job.sh SUBCOMMAND [CONFIG.ini] [more salm options]
# - The binary: $SALM_BIN if set, else `salm` on PATH, else the project's build/salm.
# - The launcher: one MPI rank per Slurm task, `srun --mpi=pmix` (SALM_LAUNCHER=srun, the default
#   inside a job) or `mpirun` (SALM_LAUNCHER=mpirun); threads per rank from SLURM_CPUS_PER_TASK.
# - Signals: USR1 (the time-limit warning of `#SBATCH --signal=B:USR1@120`) reaches the batch
#   shell and is passed on to the ranks; on preemption Slurm sends TERM to the job step itself
#   (with SlurmctldParameters=preempt_send_user_signal, also the job's --signal to the batch shell).
#   Either makes `salm protect` finish its current step, write its checkpoint and exit with code 3,
#   and then the job requeues itself (`scontrol requeue`; needs `--requeue`). The requeued job
#   (SLURM_RESTART_COUNT > 0) runs the same command, and protect resumes from the checkpoint
#   (OUT.ckpt unless --checkpoint-dir): nothing is lost. The other subcommands keep no checkpoint:
#   they ignore the time-limit warning, and a preempted one (killed by TERM, exit code 143) is
#   requeued to start over.
# Environment: SALM_BIN, SALM_LAUNCHER (srun|mpirun), SALM_SRUN_MPI (default pmix),
#   SALM_REQUEUE (default 1; 0: exit 3 after a checkpoint instead of requeueing).
set -uo pipefail
# All of it is one function, read whole before it runs: updating the project (git pull) while a
# job runs must not change the lines bash has yet to read.
main() {

  [[ $# -ge 1 ]] || { echo "usage: salm-job.sh SUBCOMMAND [CONFIG.ini] [salm options]" >&2; exit 2; }
  sub=$1; shift
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  root=$(dirname "$here")

  # The binary.
  if [[ -n ${SALM_BIN:-} ]]; then bin=$SALM_BIN
  elif command -v salm >/dev/null 2>&1; then bin=$(command -v salm)
  else bin=$root/build/salm
  fi
  [[ -x $bin ]] || { echo "salm-job: no salm binary at $bin (set SALM_BIN, put salm on PATH, or run tools/build.sh)" >&2; exit 2; }

  # A first argument ending in .ini is the config file: --config FILE.
  args=()
  if [[ $# -ge 1 && $1 == *.ini ]]; then
    [[ -r $1 ]] || { echo "salm-job: $1: cannot read config file" >&2; exit 2; }
    args+=(--config "$1"); shift
  fi
  args+=("$@")

  # Threads per rank: the task's CPUs (salm also reads SLURM_CPUS_PER_TASK itself).
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-${OMP_NUM_THREADS:-1}}
  launcher=${SALM_LAUNCHER:-}
  if [[ -z $launcher ]]; then
    if [[ -n ${SLURM_JOB_ID:-} ]] && command -v srun >/dev/null 2>&1; then launcher=srun; else launcher=mpirun; fi
  fi
  case $launcher in
    # srun does not inherit the batch job's --cpus-per-task (Slurm >= 22.05): pass it on.
    srun) launch=(srun --mpi="${SALM_SRUN_MPI:-pmix}" --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}") ;;
    mpirun)
      if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
      launch=(mpirun --bind-to none)
      [[ -z ${SLURM_JOB_ID:-} ]] && launch+=(-n "${SALM_RANKS:-1}") ;;
    *) echo "salm-job: SALM_LAUNCHER must be srun or mpirun, not '$launcher'" >&2; exit 2 ;;
  esac

  echo "salm-job: $(date -Is) job ${SLURM_JOB_ID:-none}${SLURM_ARRAY_TASK_ID:+ task $SLURM_ARRAY_TASK_ID}" \
       "restart ${SLURM_RESTART_COUNT:-0} on ${SLURM_JOB_NODELIST:-$(hostname -s)}:" \
       "${SLURM_NTASKS:-1} ranks x $OMP_NUM_THREADS threads"
  echo "salm-job: ${launch[*]} $bin $sub ${args[*]}"

  # Only protect checkpoints on a signal; the others would just die early, so they keep running.
  checkpoints=0
  [[ $sub == protect ]] && checkpoints=1
  why=""
  child=""
  forward() {  # the ranks checkpoint on USR1; mpirun would abort the job on TERM, so never pass TERM on
    why=$1
    if ((checkpoints)); then
      echo "salm-job: $(date -Is) got $1: asking the ranks to checkpoint"
      [[ -n $child ]] && kill -USR1 "$child" 2>/dev/null
    else
      echo "salm-job: $(date -Is) got $1: $sub keeps no checkpoint; it goes on"
    fi
  }
  trap 'forward time-limit' USR1
  trap 'forward preemption' TERM

  "${launch[@]}" "$bin" "$sub" "${args[@]}" &
  child=$!
  # A signal that came before $child was known: pass it on now.
  [[ -n $why ]] && ((checkpoints)) && kill -USR1 "$child" 2>/dev/null
  # `wait` returns early (> 128) when a trapped signal arrives; wait again until the launcher has
  # exited. If it exited just as the signal came, one more `wait` gives its own status.
  while :; do
    wait "$child"; rc=$?
    kill -0 "$child" 2>/dev/null && continue
    if ((rc > 128)) && [[ -n $why ]]; then
      wait "$child" 2>/dev/null; again=$?
      ((again != 127)) && rc=$again
    fi
    break
  done
  echo "salm-job: $(date -Is) exit code $rc"

  # Exit code 3: the ranks checkpointed on a signal and stopped. That signal came through this shell
  # (time limit) or straight to the job step (preemption: Slurm signals the steps with TERM, and a
  # job that ends within GraceTime counts as ended, not preempted). Either way: requeue.
  # A subcommand without checkpoints that was killed by TERM (preemption) starts over.
  if [[ ( $rc -eq 3 || ( $checkpoints -eq 0 && $rc -eq 143 ) ) && ${SALM_REQUEUE:-1} == 1 && -n ${SLURM_JOB_ID:-} ]]; then
    if [[ $rc -eq 3 ]]; then echo "salm-job: checkpointed (${why:-signal to the job step}); requeueing job $SLURM_JOB_ID"
    else echo "salm-job: $sub was stopped by TERM (preemption?); requeueing job $SLURM_JOB_ID to start it over"; fi
    scontrol requeue "$SLURM_JOB_ID" && exit 0
    echo "salm-job: scontrol requeue failed (was the job submitted with --no-requeue?); resubmit the same command to resume"
  fi
  exit "$rc"
}
main "$@"; exit $?
