#!/usr/bin/env bash
# The main job in one command: Pmd's testpmd forwarding real packets with DPDK's testpmd over a
# vhost-user socket. Prepares the host, builds Release, starts DPDK's vhost backend (forwarding on
# CPU 0), runs our TestPmd (forwarding on CPU 1) for a few seconds with a first burst so that
# packets loop between the two, then prints both sides' counters. Cleans up even on failure.
#
#   bash tools/demo.sh            # io on both sides
#   bash tools/demo.sh macswap    # macswap on both sides
#   PMD_DEMO_SECONDS=10 bash tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-io}
SECONDS_TO_RUN=${PMD_DEMO_SECONDS:-5}
case "$MODE" in io|macswap) ;; *) echo "demo: mode must be io or macswap" >&2; exit 2 ;; esac

SOCK=/tmp/pmd-demo-$$.sock
WORK=$(mktemp -d /tmp/pmd-demo.XXXXXX)
BACKEND_LOG=$WORK/backend.log
OURS_LOG=$WORK/testpmd.log
backend_pid=""

cleanup() {
  exec 3>&- 2>/dev/null || true
  if [[ -n $backend_pid ]] && kill -0 "$backend_pid" 2>/dev/null; then
    kill -INT "$backend_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$backend_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$backend_pid" 2>/dev/null || true
  fi
  rm -f "$SOCK"
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== setup"
bash tools/setup-host.sh

echo "== build (Release)"
dotnet build samples/TestPmd/TestPmd.csproj -c Release -nologo -v q -clp:ErrorsOnly
TESTPMD=samples/TestPmd/bin/Release/net10.0/TestPmd.dll

echo "== DPDK vhost-user backend ($MODE, forwarding on CPU 0) on $SOCK"
backend_args=(-l 0-1 --main-lcore=1 --in-memory --no-pci --log-level=lib.eal:error)
free_huge=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
((free_huge >= 300)) || backend_args+=(--no-huge -m 512)
# DPDK's testpmd exits when its stdin ends ("Press enter to exit"): give it a FIFO we hold open.
mkfifo "$WORK/stdin"
exec 3<>"$WORK/stdin"
stdbuf -oL dpdk-testpmd "${backend_args[@]}" --vdev "net_vhost0,iface=$SOCK,queues=1" -- \
  --forward-mode="$MODE" --nb-cores=1 --total-num-mbufs=32768 --disable-link-check \
  <&3 >"$BACKEND_LOG" 2>&1 &
backend_pid=$!
for _ in $(seq 300); do
  grep -q "Press enter to exit" "$BACKEND_LOG" 2>/dev/null && [[ -S $SOCK ]] && break
  kill -0 "$backend_pid" 2>/dev/null || { echo "demo: dpdk-testpmd exited:"; cat "$BACKEND_LOG"; exit 1; }
  sleep 0.1
done
[[ -S $SOCK ]] || { echo "demo: the backend did not create $SOCK"; cat "$BACKEND_LOG"; exit 1; }

echo "== Pmd testpmd ($MODE, forwarding on CPU 1) for ${SECONDS_TO_RUN} s"
set -x
dotnet "$TESTPMD" --vdev "net_virtio_user0,path=$SOCK" -l 0-1 -- \
  --forward-mode="$MODE" --tx-first --duration="$SECONDS_TO_RUN" --stats-period=1 | tee "$OURS_LOG"
{ set +x; } 2>/dev/null

echo "== DPDK backend's counters"
kill -INT "$backend_pid"
wait "$backend_pid" || true
backend_pid=""
grep -A3 "Forward statistics for port 0" "$BACKEND_LOG" | tail -4

# Both sides counted the same packets: everything we sent, the backend received.
ours_tx=$(grep -A2 "Forward statistics for port 0" "$OURS_LOG" | sed -n 's/.*TX-packets: *\([0-9]*\).*/\1/p')
ours_rx=$(grep -A2 "Forward statistics for port 0" "$OURS_LOG" | sed -n 's/.*RX-packets: *\([0-9]*\).*/\1/p')
backend_rx=$(grep -A2 "Forward statistics for port 0" "$BACKEND_LOG" | tail -3 | sed -n 's/.*RX-packets: *\([0-9]*\).*/\1/p')
backend_tx=$(grep -A2 "Forward statistics for port 0" "$BACKEND_LOG" | tail -3 | sed -n 's/.*TX-packets: *\([0-9]*\).*/\1/p')
echo
echo "== summary"
grep "^Throughput:" "$OURS_LOG"
echo "Pmd sent $ours_tx, DPDK received $backend_rx; DPDK sent $backend_tx, Pmd received $ours_rx"
if [[ -z $ours_tx || $ours_tx -eq 0 || $ours_tx != "$backend_rx" ]]; then
  echo "demo: FAILED: the counts do not match"
  exit 1
fi
echo "demo: OK"
