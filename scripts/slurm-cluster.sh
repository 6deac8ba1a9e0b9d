#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the test of the README's Slurm driver
# (crates/cli/tests/slurm_cluster.rs): munged, slurmctld and slurmd from Debian's `slurm-wlm` and
# `munge`, on localhost, with a configuration written here (the node's CPUs and memory as `slurmd
# -C` reads them). Run as root (slurmd starts the jobs as the submitting user).
#   scripts/slurm-cluster.sh start   write the configuration, start the daemons, wait for the node
#   scripts/slurm-cluster.sh stop    stop them
# State, logs and the configuration live in $RECTIFY_SLURM_DIR (default /var/tmp/rectify-slurm);
# nothing outside it is touched (not /etc/slurm), so the Slurm commands need
# SLURM_CONF=$RECTIFY_SLURM_DIR/slurm.conf in their environment (the script prints the line).
set -euo pipefail
dir=${RECTIFY_SLURM_DIR:-/var/tmp/rectify-slurm}
conf=$dir/slurm.conf
cmd=${1:-start}

stop() { # each daemon by its pid file, waiting until it is gone (its ports free again)
  local d pid
  for d in slurmd slurmctld munged; do
    [ -f "$dir/$d.pid" ] || continue
    pid=$(cat "$dir/$d.pid")
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$d" ]; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/$d.pid"
  done
  return 0
}

case "$cmd" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: scripts/slurm-cluster.sh start|stop" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "slurm-cluster: run as root (slurmd starts jobs as their users)" >&2; exit 1; }
for bin in munged slurmctld slurmd sinfo sbatch; do
  command -v "$bin" >/dev/null || { echo "slurm-cluster: $bin not found: apt-get install slurm-wlm munge" >&2; exit 1; }
done
# The folder runs daemons as root: it must be root's own, not a link another user planted.
if [ -e "$dir" ] || [ -L "$dir" ]; then
  if [ -L "$dir" ] || [ ! -d "$dir" ] || [ "$(stat -c %u "$dir")" != 0 ]; then
    echo "slurm-cluster: $dir exists and is not root's own folder; remove it or set RECTIFY_SLURM_DIR" >&2
    exit 1
  fi
fi
stop
mkdir -p "$dir"
chmod 755 "$dir"
mkdir -p "$dir"/{state,spool,key,munge}
# munge: a key of our own (root only), a socket every user may reach (their sbatch talks to it).
chmod 700 "$dir/key" "$dir/state" "$dir/spool"
chmod 755 "$dir/munge"
key=$dir/key/munge.key
[ -f "$key" ] || dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
chmod 400 "$key"
munged --force --key-file="$key" --socket="$dir/munge/munge.socket" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/key/munge.seed"

node=$(hostname -s)
hw=$(slurmd -C | sed -n -e "1s/^NodeName=[^ ]* //p")
cat > "$conf" <<CONF
# Written by rectify's scripts/slurm-cluster.sh: one node, on this machine.
ClusterName=rectify
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
InactiveLimit=0
KillWait=30
MinJobAge=300
Waittime=0
NodeName=$node NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
# No cgroup plugin is configured, so no cgroup.conf is read.
slurmctld -f "$conf" -i
slurmd -f "$conf"
export SLURM_CONF=$conf
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mix|alloc)
      echo "slurm-cluster: node $node is $state ($hw); logs in $dir" >&2
      echo "export SLURM_CONF=$conf"
      exit 0 ;;
  esac
  sleep 1
done
echo "slurm-cluster: the node did not come up (state: ${state:-none}); see $dir/slurmctld.log and $dir/slurmd.log" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
