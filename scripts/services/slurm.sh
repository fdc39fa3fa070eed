#!/usr/bin/env bash
# A one-node SLURM cluster on localhost in its own folder: munged + slurmctld + slurmd, no
# systemd and no cgroups (proctrack/linuxproc, task/none). Idempotent and quick (~5 s).
#   scripts/services/slurm.sh start [DIR]   # prints `export SLURM_CONF=...`; eval it
#   scripts/services/slurm.sh stop  [DIR]
# slurmd starts job steps as their user, so it runs as root (CI and containers run as root).
set -euo pipefail
cmd=${1:?usage: slurm.sh start|stop [DIR]}
dir=$(realpath -m "${2:-${IMBLLM_SERVICES_DIR:-/tmp/imbllm-services}}/slurm")
conf=$dir/slurm.conf
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

case $cmd in
start)
  for b in munged slurmctld slurmd sbatch; do
    command -v $b >/dev/null || { echo "slurm.sh: $b not found; apt-get install slurm-wlm munge" >&2; exit 3; }
  done
  [ "$(id -u)" = 0 ] || { echo "slurm.sh: slurmd must run as root (run as root or use a real cluster)" >&2; exit 3; }
  mkdir -p "$dir"/{munge,state,spool,log}
  chmod 700 "$dir/munge"
  if [ ! -f "$dir/munge/munge.key" ]; then
    head -c 1024 /dev/urandom > "$dir/munge/munge.key"; chmod 400 "$dir/munge/munge.key"
  fi
  alive "$dir/munge/munged.pid" || munged --force --socket="$dir/munge/munge.socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed"
  host=$(hostname -s)
  if [ ! -f "$conf" ]; then
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    cat > "$conf" <<CONF
ClusterName=imbllm
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MaxArraySize=100001
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  fi
  export SLURM_CONF=$conf
  alive "$dir/slurmctld.pid" || slurmctld -f "$conf"
  alive "$dir/slurmd.pid" || slurmd -f "$conf"
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case $state in idle*|mix*|alloc*) break ;; esac
    sleep 0.5
  done
  case $state in
    idle*|mix*|alloc*) ;;
    *) tail -5 "$dir"/log/*.log >&2; echo "slurm.sh: node state '$state'; logs above" >&2; exit 1 ;;
  esac
  echo "export SLURM_CONF=$conf" ;;
stop)
  for p in slurmd slurmctld munge/munged; do
    if alive "$dir/$p.pid"; then
      pid=$(cat "$dir/$p.pid"); kill "$pid"
      for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
  done ;;
*) echo "slurm.sh: unknown command $cmd (start|stop)" >&2; exit 2 ;;
esac
