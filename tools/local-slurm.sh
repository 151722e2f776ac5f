#!/usr/bin/env bash
# A real single-node Slurm (Debian's slurm-wlm + munge) for the tests and for users without a
# cluster: no systemd, everything (config, keys, sockets, state, logs) under one directory.
#   tools/local-slurm.sh start|stop|status|env
#   eval "$(tools/local-slurm.sh env)"     # then sbatch, squeue, scontrol, srun work in this shell
# Environment:
#   SALM_SLURM_DIR    the directory (default /tmp/salm-slurm); one cluster per directory
#   SALM_SLURM_PORT   slurmctld's port; slurmd uses the next one (default 6817)
#   SALM_SLURM_CPUS   CPUs of the node (default: all, nproc)
# Partitions: `batch` (default; jobs there are preempted by `urgent` jobs: signalled, given
# GraceTime=60 s, then requeued) and `urgent` (higher priority tier). Runs as root (SlurmUser=root).
# Needs: SALM_SETUP_SLURM=1 tools/setup.sh (slurm-wlm, munge).
set -euo pipefail
export PATH=$PATH:/usr/sbin   # the daemons live there on Debian

dir=${SALM_SLURM_DIR:-/tmp/salm-slurm}
port=${SALM_SLURM_PORT:-6817}
cpus=${SALM_SLURM_CPUS:-$(nproc)}
node=$(hostname -s)
conf=$dir/etc/slurm.conf
sock=$dir/munge/munge.socket
cmd=${1:-}

die() { echo "local-slurm: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found; run SALM_SETUP_SLURM=1 tools/setup.sh"; }
pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

print_env() {
  printf 'export SLURM_CONF=%q\n' "$conf"
  printf 'export SALM_SLURM_DIR=%q\n' "$dir"
}

write_conf() {
  local mem
  mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  mkdir -p "$dir"/{etc,state,spool,log,run,munge}
  cat >"$conf" <<EOF
# Written by tools/local-slurm.sh: a single-node cluster under $dir.
ClusterName=salm-local
SlurmctldHost=$node
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups and no systemd here: track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=1
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
KillWait=30
# Preemption: an urgent job requeues batch jobs, which first get GraceTime to checkpoint.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
# On preemption also send the job's --signal (B:USR1 for salm's scripts) to the batch shell, so
# that ranks started by mpirun (not job steps) checkpoint too.
SlurmctldParameters=preempt_send_user_signal
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=batch Nodes=$node Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=60 OverSubscribe=NO
PartitionName=urgent Nodes=$node MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF
}

start() {
  need munged; need slurmctld; need slurmd; need scontrol
  [[ $(id -u) -eq 0 ]] || die "must run as root (SlurmUser=root)"
  if pid_alive "$dir/run/slurmctld.pid" && pid_alive "$dir/run/slurmd.pid"; then
    echo "local-slurm: already running in $dir"; return 0
  fi
  stop >/dev/null 2>&1 || true
  write_conf
  chmod 700 "$dir/munge"
  [[ -f $dir/munge/munge.key ]] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none; chmod 400 "$dir/munge/munge.key"; }
  munged --force --socket="$sock" --key-file="$dir/munge/munge.key" --pid-file="$dir/run/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    || die "munged did not start (see $dir/log/munged.log)"
  export SLURM_CONF=$conf
  # -c: a clean start (no jobs from an earlier cluster in this directory); -i: ignore stale state.
  slurmctld -c -i || die "slurmctld did not start (see $dir/log/slurmctld.log)"
  slurmd || die "slurmd did not start (see $dir/log/slurmd.log)"
  local i
  for i in $(seq 1 60); do
    if scontrol show node "$node" 2>/dev/null | grep -q 'State=IDLE'; then
      echo "local-slurm: up in $dir (node $node, $cpus CPUs, partitions batch, urgent); eval \"\$($0 env)\""
      return 0
    fi
    sleep 0.5
  done
  scontrol show node "$node" >&2 || true
  die "node $node did not become idle in 30 s (see $dir/log/)"
}

stop() {
  export SLURM_CONF=$conf
  if [[ -f $conf ]] && pid_alive "$dir/run/slurmctld.pid" && pid_alive "$dir/run/slurmd.pid"; then
    # Cancel every job and wait (bounded) until the queue is empty; then kill whatever job
    # process slurmd still knows of, so that nothing of a failed test keeps running.
    scancel --quiet --partition=batch,urgent 2>/dev/null || true
    for _ in $(seq 1 10); do [[ -z $(squeue -h -t PD,R 2>/dev/null) ]] && break; sleep 0.5; done
    local pids
    pids=$(scontrol listpids 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}' || true)
    [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
  fi
  local d p
  for d in slurmd slurmctld munged; do
    p=$dir/run/$d.pid
    if pid_alive "$p"; then
      kill "$(cat "$p")" 2>/dev/null || true
      for _ in $(seq 1 40); do pid_alive "$p" || break; sleep 0.25; done
      pid_alive "$p" && kill -9 "$(cat "$p")" 2>/dev/null || true
    fi
    rm -f "$p"
  done
  echo "local-slurm: stopped ($dir)"
}

status() {
  local d ok=0
  for d in munged slurmctld slurmd; do
    if pid_alive "$dir/run/$d.pid"; then echo "$d: running (pid $(cat "$dir/run/$d.pid"))"; else echo "$d: not running"; ok=1; fi
  done
  if ((ok == 0)); then
    SLURM_CONF=$conf sinfo
    SLURM_CONF=$conf squeue
  fi
  return $ok
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
