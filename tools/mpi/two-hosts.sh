#!/usr/bin/env bash
# Two "hosts" on one machine: network namespaces attend-h0 (10.77.0.1) and attend-h1 (10.77.0.2) joined by a veth
# pair, and `mpirun -np 2` started in attend-h0 with one rank on each, talking over TCP only (--mca btl tcp,self).
# mpirun reaches the second "host" through an rsh agent that enters its namespace where a cluster would use ssh.
# --bind-to none: each "host" has one slot, and Open MPI would bind each one's rank to core 0 — the same core here.
# Both namespaces share this machine's file system (the dotnet install, the build, the checkpoint folder).
#
#   sudo tools/mpi/two-hosts.sh train lm --data kjv --preset tiny --steps 20 --out /tmp/ck
#
# Needs root (ip netns), Open MPI (openmpi-bin) and a Release build of src/Attend.Cli. ATTEND_CLI overrides the dll.
# On a real cluster: `mpirun --hostfile hosts -np K dotnet Attend.Cli.dll train …` (docs/distributed.md).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cli=${ATTEND_CLI:-$here/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli.dll}
[ -f "$cli" ] || { echo "two-hosts.sh: no $cli (dotnet build -c Release src/Attend.Cli first)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "two-hosts.sh: needs root for ip netns" >&2; exit 2; }
tag=${ATTEND_NETNS_TAG:-$$}
h0=attend-h0-$tag h1=attend-h1-$tag v0=atv0-$tag v1=atv1-$tag
work=$(mktemp -d)
cleanup() { ip netns del "$h0" 2> /dev/null || true; ip netns del "$h1" 2> /dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$h0"
ip netns add "$h1"
ip link add "$v0" type veth peer name "$v1"
ip link set "$v0" netns "$h0"
ip link set "$v1" netns "$h1"
ip -n "$h0" addr add 10.77.0.1/24 dev "$v0"
ip -n "$h1" addr add 10.77.0.2/24 dev "$v1"
for ns in "$h0" "$h1"; do ip -n "$ns" link set lo up; done
ip -n "$h0" link set "$v0" up
ip -n "$h1" link set "$v1" up
# the "ssh" of this cluster: run the daemon's command line inside the namespace that owns the address
cat > "$work/agent" <<AGENT
#!/bin/sh
host=\$1; shift
case \$host in
  10.77.0.1) ns=$h0 ;;
  10.77.0.2) ns=$h1 ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec \$ns sh -c "\$*"
AGENT
chmod +x "$work/agent"
echo "two-hosts: rank 0 in $h0 (10.77.0.1), rank 1 in $h1 (10.77.0.2), TCP over the veth pair"
ip netns exec "$h0" env TERM=dumb mpirun --allow-run-as-root --oversubscribe -np 2 --host 10.77.0.1:1,10.77.0.2:1 \
  --bind-to none --mca plm_rsh_agent "$work/agent" --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
  -x TERM -x ATTEND_NUM_THREADS=1 -x DOTNET_CLI_TELEMETRY_OPTOUT=1 \
  "$(command -v dotnet)" "$cli" "$@"
