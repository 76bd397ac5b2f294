#!/usr/bin/env bash
# Prepares a Debian 12 host for Pmd, idempotently, as root: the packages the tests and the demo
# need (DPDK's testpmd as the vhost-user peer, Open vSwitch-DPDK as the peer the reconnect test
# restarts, gcc for the layout tests, ping and iproute2 for the migration test's bridge, afl++ for
# the fuzz smoke test, clang and zlib for the NativeAOT TestPmd, tshark and capinfos to read back
# the packet captures), the repository's dotnet tools
# (.config/dotnet-tools.json: SharpFuzz, dotnet-counters) and 2 MiB hugepages.
set -euo pipefail

HUGEPAGES=${PMD_HUGEPAGES:-1024}
packages=(dpdk dpdk-dev openvswitch-switch-dpdk gcc libc6-dev linux-libc-dev python3 iputils-ping iproute2 ethtool afl++ clang zlib1g-dev tshark)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian ships two ovs-vswitchd builds; the DPDK one must be selected for dpdkvhostuser ports.
# (The test runs its own ovs-vswitchd-dpdk with its own database; nothing here starts a switch.)
ovs_dpdk=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
if [[ -x $ovs_dpdk ]] && [[ $(readlink -f /usr/sbin/ovs-vswitchd) != "$ovs_dpdk" ]]; then
  update-alternatives --set ovs-vswitchd "$ovs_dpdk" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
  echo "setup-host: the .NET 10 SDK is required (dotnet on PATH)" >&2
  exit 1
fi
# The local tools (dotnet tool run dotnet-counters, sharpfuzz), from the NuGet feed.
(cd "$(dirname "$0")/.." && dotnet tool restore >/dev/null)

# Hugepages: DPDK's vhost backend wants them, and Pmd's pools use them when present.
current=$(cat /proc/sys/vm/nr_hugepages)
if ((current < HUGEPAGES)); then
  echo "$HUGEPAGES" > /proc/sys/vm/nr_hugepages || true
fi
mkdir -p /dev/hugepages
mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
echo "setup-host: $(grep HugePages_Total /proc/meminfo | tr -s ' '), $(grep HugePages_Free /proc/meminfo | tr -s ' ')"
