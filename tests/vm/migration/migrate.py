#!/usr/bin/env python3
"""tests/vm/migration/migrate.py - live-migrates a failover guest with traffic, and measures what it lost.

The host side is a network namespace with a Linux bridge (br0, 10.77.0.1/24), and each QEMU device has
its own tap on it, as on a real host: site A's standby and primary (A0, A1) and site B's (B0, B1). The
guest has virtio-net-pci failover=on (the standby, MAC 52:54:00:12:34:56) and a hidden e1000e with
failover_pair_id and the same MAC (the primary), a vIOMMU, and its whole root in the initramfs
(payload.sh), since a mounted 9p share blocks migration. In it runs either
  --mode pmd:    TestPmd on the virtio device alone (icmpecho, --hotplug-allow=8086:10d3): Pmd's
                 failover port takes the primary QEMU plugs in, on the source and on the destination;
  --mode kernel: the reference, the guest kernel's own e1000e + virtio_net + net_failover with
                 10.77.0.2/24 on the failover netdev, answering by itself.
Traffic, from the namespace to 10.77.0.2: `ping -i 0.01`, and the peer (peer.py), which exchanges
sequence-numbered ICMP echoes at --rate a second and watches every bridge port. The guest then
migrates (QMP migrate) to a QEMU on site B, and for --rounds > 1 back to a new one on site A, and so on.

Each request is put in a phase by the time it was sent:
  before        until the migrate command
  wait-unplug   until QEMU leaves wait-unplug (the guest let go of the primary)
  on-virtio     until the source stops the guest
  switchover    until the destination resumes it
  dest-virtio   until the re-plugged primary carries the guest's replies (first reply in on its tap)
  after         the rest
and counted as lost (no reply), duplicated or reordered; a lost request that the bridge sent to a
device is put down to that device. The pings are split the same way.

Output: a table on stdout, and with --json all numbers. The exit status is 0 when the run completed
(goals are the caller's to judge), 2 on a harness error. Run as root.
  tests/vm/migration/migrate.py --mode pmd --rounds 1
  tests/vm/migration/migrate.py --mode kernel --rounds 3 --json /tmp/kernel.json
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import Peer  # noqa: E402
from qmp import EventLog, Qmp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VMDIR = os.environ.get("PMD_VM_DIR", "/var/tmp/pmd-vm")
GUEST_MAC, GUEST_IP, PEER_IP = "52:54:00:12:34:56", "10.77.0.2", "10.77.0.1"
PHASES = ["before", "wait-unplug", "on-virtio", "switchover", "dest-virtio", "after"]
CLONE_NEWNET = 0x40000000
GUEST_TESTPMD_DIR = "/opt/pmd/testpmd"   # where payload.sh puts the build


def guest_testpmd(host_dir):
    """The guest's command for the build in host_dir: an assembly under dotnet, or a NativeAOT
    executable (tools/publish-aot.sh; no TestPmd.dll beside it), which starts in a fraction of the
    time under TCG and has no JIT tier-up pauses while echoes are counted."""
    if os.path.exists(os.path.join(host_dir, "TestPmd.dll")):
        return f"dotnet '{GUEST_TESTPMD_DIR}/TestPmd.dll'"
    return f"'{GUEST_TESTPMD_DIR}/TestPmd'"
DOWNTIME_LIMIT_MS = 300     # as in shared/vm/RECIPE.md


def log(msg):
    print(f"migrate: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


# ---- the host side: a namespace with a bridge and one tap per device


class Namespace:
    def __init__(self, name, taps):
        self.name = name
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
        sh("ip", "netns", "add", name)
        # From here on this process (and every child: QEMU, ping) lives in the namespace.
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        os.close(fd)
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
        sh("ip", "addr", "add", f"{PEER_IP}/24", "dev", "br0")
        for tap in taps:
            sh("ip", "tuntap", "add", "dev", tap, "mode", "tap")
            sh("ip", "link", "set", tap, "master", "br0")
            sh("ip", "link", "set", tap, "up")
        sh("ip", "link", "set", "br0", "up")

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)


# ---- the guest


def guest_script(mode, testpmd):
    find = """
# No echo of what the host types: it would land in the middle of the output the host parses.
stty -F /dev/ttyS0 -echo
find_pci() { for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor)" = "$1" ] && [ "$(cat $d/device)" = "$2" ] && { basename $d; return 0; }; done; return 1; }
"""
    if mode == "pmd":
        return find + f"""
ADDR=$(find_pci 0x1af4 0x1041) || {{ echo "PMDVM-ERROR: no virtio-net device"; exit 1; }}
echo "PMDVM-TESTPMD-START $ADDR"
# Commands come over the serial port (the host writes to its socket): nothing on a share while migrating.
# Through a fifo, so TestPmd reads a plain stream rather than a terminal, and the reader can be stopped after.
# Line by line, up to and including "quit", after which TestPmd sees the end of its input.
mkfifo /tmp/testpmd-stdin
(exec 3< /dev/ttyS0; while IFS= read -r line <&3; do printf '%s\n' "$line"; [ "$line" = quit ] && break; done) > /tmp/testpmd-stdin &
feeder=$!
{testpmd} -a "$ADDR" --log-level=pmd.hotplug:info -- -i --auto-start --forward-mode=icmpecho --hotplug-allow=8086:10d3 < /tmp/testpmd-stdin
rc=$?
kill $feeder 2> /dev/null
echo "PMDVM-TESTPMD-EXIT=$rc"
"""
    return find + f"""
# The kernel's drivers, e1000e first: nothing else (no udev) would load it for the primary QEMU plugs in.
for m in $(cat /mods-kernel/order); do insmod /mods-kernel/$m.ko 2>/dev/null; done
M=
for i in $(seq 1 300); do
  # net_failover's master: the netdev with our MAC that has the other two as its lower devices.
  for n in /sys/class/net/*; do
    ls -d $n/lower_* > /dev/null 2>&1 && [ "$(cat $n/address)" = "{GUEST_MAC}" ] && M=$(basename $n)
  done
  [ -n "$M" ] && break; sleep 0.1
done
[ -n "$M" ] || {{ echo "PMDVM-ERROR: no failover netdev"; exit 1; }}
ip addr add {GUEST_IP}/24 dev $M
ip link set $M up
echo "PMDVM-KERNEL-FAILOVER $M"
for i in $(seq 1 600); do
  for l in /sys/class/net/$M/lower_*; do
    d=$(readlink -f $l/device/driver 2>/dev/null)
    [ "${{d##*/}}" = e1000e ] && [ "$(cat $l/operstate)" = up ] && {{ echo "PMDVM-KERNEL-PRIMARY-UP ${{l##*lower_}}"; break 2; }}
  done
  sleep 0.1
done
while read -r line < /dev/ttyS0; do [ "$line" = quit ] && break; done
ip -s link show dev $M
echo "PMDVM-KERNEL-EXIT"
"""


class Guest:
    """One QEMU (tests/vm/run-vm.sh) on one site's taps; the first boots, the others wait for the guest."""

    def __init__(self, name, root, site, script=None, incoming=None, primary=True):
        self.name, self.site = name, site
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.serial = os.path.join(self.dir, "serial.sock")
        env = dict(os.environ,
                   PMD_VM_RESULTS=self.dir, PMD_VM_NIC="failover", PMD_VM_MAC=GUEST_MAC,
                   PMD_VM_TAP0=f"{site}0", PMD_VM_TAP1=f"{site}1",
                   PMD_VM_INITRD=os.path.join(VMDIR, "initramfs-migratable.img"),
                   PMD_VM_SERIAL_SOCKET=self.serial, PMD_VM_QMP_EVENTS=os.path.join(self.dir, "events.sock"),
                   PMD_VM_IOMMU_AW_BITS="48", PMD_VM_TIMEOUT="1500", PMD_VM_CMD=script or "true",
                   # The kernel's PCIe hotplug lines (KERN_INFO) on the console: what became of an unplug or re-plug.
                   PMD_VM_LOGLEVEL="7")
        if incoming:
            env["PMD_VM_INCOMING"] = incoming
        if not primary:
            env["PMD_VM_NO_PRIMARY"] = "1"
        self._out = open(os.path.join(self.dir, "run-vm.out"), "w")
        self.proc = subprocess.Popen(["bash", os.path.join(REPO, "tests/vm/run-vm.sh")], env=env,
                                     stdout=self._out, stderr=subprocess.STDOUT)
        self._connect_console()
        self.events = EventLog(os.path.join(self.dir, "events.sock"), name)
        self.qmp = Qmp(self.qmp_path)

    def _connect_console(self):
        """The serial port's socket, held for the guest's whole life: what the guest writes is read here
        (QEMU's own serial.log doubles characters while a client is connected), commands go back on it."""
        deadline = time.time() + 60
        while True:
            try:
                self._console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._console.connect(self.serial)
                break
            except OSError:
                self._console.close()
                if time.time() > deadline:
                    raise TimeoutError(f"{self.name}: no serial socket at {self.serial}")
                time.sleep(0.1)
        self._text, self._text_lock = [], threading.Lock()
        self._copy = open(os.path.join(self.dir, "console.log"), "wb")
        threading.Thread(target=self._read_console, daemon=True, name=f"console-{self.name}").start()

    def _read_console(self):
        try:
            while data := self._console.recv(65536):
                self._copy.write(data)
                self._copy.flush()
                with self._text_lock:
                    self._text.append(data.decode(errors="replace"))
        except OSError:
            pass

    def serial_log(self):
        with self._text_lock:
            self._text[:] = ["".join(self._text)]
            return self._text[0]

    def wait_serial(self, text, timeout, start=0):
        deadline = time.time() + timeout
        while text not in (log := self.serial_log()[start:]):
            if time.time() > deadline or self.proc.poll() is not None or "PMDVM: guest command exit" in log:
                raise TimeoutError(f"{self.name}: no '{text}' on the console within {timeout} s (see {self.dir}/console.log)")
            time.sleep(0.2)

    def send(self, *lines):
        """Types lines on the guest's serial port (the console's input)."""
        for line in lines:
            self._console.sendall(line.encode() + b"\n")
            time.sleep(0.3)

    def quit(self):
        try:
            self.qmp.execute("quit")
        except (ConnectionError, OSError, RuntimeError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def migrate(src, dst, port, cancel_once=None):
    """Migrates src to dst; returns the QMP timeline (host wall-clock times) and query-migrate's numbers.
    With cancel_once, the migration is cancelled once that returns (it is called in wait-unplug)."""
    for g in (src, dst):
        g.qmp.execute("migrate-set-capabilities", capabilities=[{"capability": "events", "state": True}])
    # A migration to be cancelled is slowed down so that it cannot complete before the cancel.
    bandwidth = (1 << 20) if cancel_once else (10 << 30)
    src.qmp.execute("migrate-set-parameters", **{"max-bandwidth": bandwidth, "downtime-limit": DOWNTIME_LIMIT_MS})
    t = {"command": time.time()}
    src.qmp.execute("migrate", uri=f"tcp:127.0.0.1:{port}")
    if cancel_once is not None:
        src.events.wait("MIGRATION", 60, after=t["command"], status="wait-unplug")
        cancel_once()
        # QEMU leaves wait-unplug once the guest has ejected the device (Pmd closing it comes first).
        src.events.wait("MIGRATION", 90, after=t["command"], status="active")
        t["cancel"] = time.time()
        src.qmp.execute("migrate_cancel")
        t["cancelled"] = src.events.wait("MIGRATION", 120, after=t["command"], status="cancelled")
        return t, {}
    t["completed"] = src.events.wait("MIGRATION", 300, after=t["command"], status="completed")
    t["unplug_request"] = src.events.first("UNPLUG_PRIMARY", t["command"])
    t["wait_unplug"] = src.events.first("MIGRATION", t["command"], status="wait-unplug")
    t["active"] = src.events.first("MIGRATION", t["command"], status="active")
    t["stop"] = src.events.first("STOP", t["command"])
    t["resume"] = dst.events.wait("RESUME", 120)
    t["replug"] = dst.events.wait("FAILOVER_NEGOTIATED", 120) if t["unplug_request"] else None
    info = src.qmp.execute("query-migrate")
    return t, {k: info.get(k) for k in ("total-time", "downtime", "setup-time")}


def explain_missing_primary(g, since):
    """What a run that never got its primary back shows: whether QEMU has the e1000e plugged in
    again, its events since the cancel, and the ends of QEMU's log and of the guest's console."""
    try:
        buses = g.qmp.execute("query-pci")
        devices = [f"{d['bus']:02x}:{d['slot']:02x}.{d['function']} {d['id'].get('vendor', 0):04x}:{d['id'].get('device', 0):04x} {d.get('qdev_id', '')}"
                   for b in buses for d in b["devices"] + [x for br in b["devices"] if "pci_bridge" in br for x in br["pci_bridge"].get("devices", [])]]
        log("no primary: QEMU's PCI devices: " + "; ".join(devices))
    except (ConnectionError, OSError, RuntimeError, KeyError) as e:
        log(f"no primary: query-pci failed: {e}")
    log("no primary: QEMU events since the cancel: " + ", ".join(
        f"{name}{'(' + str(data.get('status') or data.get('device-id') or '') + ')' if data else ''}"
        for t, name, data in list(g.events.events) if t >= since - 1))
    for name, lines in (("qemu.log", 15), ("console.log", 60)):
        try:
            with open(os.path.join(g.dir, name), errors="replace") as f:
                tail = f.readlines()[-lines:]
            log(f"no primary: the last {len(tail)} lines of {g.name}/{name}:\n" + "".join(tail))
        except OSError as e:
            log(f"no primary: {name}: {e}")


# ---- analysis


def primary_carries(peer, site, after):
    """When the guest's replies first came in on site's primary port after `after` (None: not yet)."""
    label = f"{site}1"
    for r in peer.records:
        for t, port in r.from_devices:
            if port == label and t >= after:
                return t
    return None


def phase_of(t, b):
    if t < b["command"]:
        return "before"
    if t < (b.get("active") or b["stop"]):
        return "wait-unplug"
    if t < b["stop"]:
        return "on-virtio"
    if t < b["resume"]:
        return "switchover"
    if b.get("primary") is None or t < b["primary"]:
        return "dest-virtio"
    return "after"


def analyse(peer, rounds, start, end, interval):
    """Per migration and phase: sent, lost, duplicates, reordered, lost ms, the longest gap, and where lost requests went."""
    out = []
    for i, b in enumerate(rounds):
        lo = (rounds[i - 1]["primary"] or rounds[i - 1]["resume"]) if i else start
        hi = rounds[i + 1]["command"] if i + 1 < len(rounds) else end
        phases = {p: {"sent": 0, "lost": 0, "dup": 0, "reordered": 0, "late": 0, "lost_to": {}, "longest_gap_ms": 0.0} for p in PHASES}
        run, last_reply = {p: 0 for p in PHASES}, -1.0
        for r in peer.records:
            if not (lo <= r.sent < hi):
                continue
            ph = phases[phase_of(r.sent, b)]
            ph["sent"] += 1
            p = phase_of(r.sent, b)
            if not r.replies:
                ph["lost"] += 1
                run[p] += 1
                ph["longest_gap_ms"] = max(ph["longest_gap_ms"], run[p] * interval * 1000)
                where = r.to_devices[-1] if r.to_devices else "nowhere"
                ph["lost_to"][where] = ph["lost_to"].get(where, 0) + 1
                continue
            run[p] = 0
            ph["dup"] += len(r.replies) - 1
            # Reordered: answered before the request sent just ahead of it; late: more than 100 ms to answer.
            if r.replies[0] < last_reply:
                ph["reordered"] += 1
            last_reply = r.replies[0]
            ph["late"] += r.replies[0] - r.sent > 0.1
        for ph in phases.values():
            ph["lost_ms"] = round(ph["lost"] * interval * 1000, 1)
        out.append(phases)
    return out


def parse_ping(path, rounds, start, end):
    """Pings per migration and phase: sent and lost. A ping's send time is its reply's time less the
    round trip it printed, or, unanswered, the time ping reported it outstanding (-O: when it sent
    the next one) less the 10 ms interval."""
    sent, answered = {}, set()
    with open(path) as f:
        for line in f:
            if m := re.match(r"\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+) .*time=([\d.]+) ms", line):
                seq = int(m.group(2))
                answered.add(seq)
                sent[seq] = float(m.group(1)) - float(m.group(3)) / 1000
            elif m := re.match(r"\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)", line):
                sent.setdefault(int(m.group(2)), float(m.group(1)) - 0.01)
    if not answered:
        return None
    out = []
    for i, b in enumerate(rounds):
        lo = (rounds[i - 1]["primary"] or rounds[i - 1]["resume"]) if i else start
        # The last half second's pings may still have been in flight when ping was stopped.
        hi = rounds[i + 1]["command"] if i + 1 < len(rounds) else end - 0.5
        phases = {p: {"sent": 0, "lost": 0} for p in PHASES}
        for seq, t in sent.items():
            if lo <= t < hi:
                ph = phases[phase_of(t, b)]
                ph["sent"] += 1
                ph["lost"] += seq not in answered
        out.append(phases)
    return out


def failover_xstats(guest, mark):
    """Asks TestPmd for the failover port's xstats and returns the failover_* ones (release timeline included)."""
    guest.send("show port xstats all")
    guest.wait_serial("failover_last_release_closed_us", 60, mark)
    time.sleep(1)
    text = guest.serial_log()[mark:]
    return {k: int(v) for k, v in re.findall(r"^\s*(failover_\w+): (\d+)", text, re.M)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["pmd", "kernel"], default="pmd")
    ap.add_argument("--rounds", type=int, default=1, help="migrations in a row (A->B, B->A, ...)")
    ap.add_argument("--rate", type=int, default=2000, help="peer echoes a second")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds of traffic before each migration")
    ap.add_argument("--after", type=float, default=4.0, help="seconds of traffic after the last one is back on a primary")
    ap.add_argument("--replug-timeout", type=float, default=90.0, help="seconds to wait for the primary on the destination")
    ap.add_argument("--results", default=os.path.join(VMDIR, "runs", f"migration-{time.strftime('%Y%m%d-%H%M%S')}"))
    ap.add_argument("--json")
    ap.add_argument("--no-primary", action="store_true", help="a failover guest without any primary (virtio alone)")
    ap.add_argument("--cancel", action="store_true",
                    help="first a migration cancelled (migrate_cancel) during wait-unplug: the primary must come back on the source")
    ap.add_argument("--testpmd", default=os.path.join(REPO, "samples/TestPmd/bin/Release/net10.0"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("migrate: needs root (network namespace, taps)")
    for tool in ("ping", "ip", "qemu-system-x86_64"):
        if not shutil.which(tool):
            sys.exit(f"migrate: {tool} is missing (tools/setup-host.sh installs iputils-ping and iproute2; tests/vm/prepare.sh QEMU)")
    os.makedirs(args.results, exist_ok=True)
    subprocess.run(["bash", os.path.join(REPO, "tests/vm/prepare.sh")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["bash", os.path.join(HERE, "payload.sh"), args.testpmd], check=True, stdout=subprocess.DEVNULL)

    ns = Namespace(f"pmdmig{os.getpid()}", ["A0", "A1", "B0", "B1"])
    guests, ping, peer = [], None, None
    try:
        log(f"booting the guest on site A ({args.mode}); results in {args.results}")
        primary = not args.no_primary
        g = Guest("vm0-A", args.results, "A", script=guest_script(args.mode, guest_testpmd(args.testpmd)), primary=primary)
        guests.append(g)
        if primary:
            ready = "failover event (primary port" if args.mode == "pmd" else "PMDVM-KERNEL-PRIMARY-UP"
        else:
            # TestPmd prints the failover port's link up before its lcore forwards: wait for the
            # forwarding to start, or the peer's first echoes meet a guest that is not answering yet.
            ready = "icmpecho packet forwarding" if args.mode == "pmd" else "PMDVM-KERNEL-FAILOVER"
        g.wait_serial(ready, 400)
        if not primary and args.mode == "pmd":
            # TestPmd's first second of forwarding under TCG runs JIT-tiered code with pauses of
            # hundreds of ms (CI: 13 echoes lost, 1574 late, right after the start). That is start-up,
            # not the steady state the phase "before" measures: let it pass before the peer starts.
            time.sleep(3)
        boot = {"primary_at_s": round(time.time() - os.path.getmtime(os.path.join(g.dir, "qemu.cmd")), 1)}
        log(f"the guest's traffic is on the primary ({boot['primary_at_s']} s after the start)")
        peer = Peer("br0", {"A0": "A0", "A1": "A1", "B0": "B0", "B1": "B1"}, GUEST_MAC, GUEST_IP, PEER_IP, args.rate)
        peer.start()
        ping_log = os.path.join(args.results, "ping.log")
        ping = subprocess.Popen(["ping", "-D", "-O", "-n", "-i", "0.01", "-W", "1", GUEST_IP],
                                stdout=open(ping_log, "w"), stderr=subprocess.STDOUT)
        cancel = None
        if args.cancel:
            time.sleep(args.settle)
            dst = Guest("cancelled-B", args.results, "B", incoming="tcp:127.0.0.1:4440", primary=primary)
            log("a migration cancelled once the guest has let the primary go")
            # QEMU re-plugs the primary at the cancel (failover_replug_primary) whether or not the guest
            # has ejected it yet. A cancel before the eject raced it in CI, and the primary never came
            # back (90 s); so did one right after Pmd's "device released event", which comes before the
            # kernel's eject. So the cancel waits for the release, then for QEMU to leave wait-unplug.
            mark = len(g.serial_log())
            released = (lambda: g.wait_serial("device released event", 60, start=mark)) if args.mode == "pmd" \
                else (lambda: time.sleep(2))
            t, _ = migrate(g, dst, 4440, cancel_once=released)
            dst.quit()
            deadline = time.time() + args.replug_timeout
            while time.time() < deadline and peer.last_reply_from.get("A1", 0) < t["cancelled"]:
                time.sleep(0.2)
            back = primary_carries(peer, "A", t["cancelled"])
            sent = [r for r in peer.records if t["command"] <= r.sent < (back or time.time())]
            cancel = {**t, "primary_back": back, "primary_back_s": (back - t["cancelled"]) if back else None,
                      "sent": len(sent), "lost": sum(1 for r in sent if not r.replies)}
            log(f"cancelled: the primary carries the traffic again {cancel['primary_back_s']} s after 'cancelled'; "
                f"{cancel['lost']} of {cancel['sent']} echoes lost meanwhile")
            if back is None:
                explain_missing_primary(g, t["cancelled"])
        # The migrations' phases start after the cancelled one is over.
        start = (cancel["primary_back"] or time.time()) if cancel else 0
        rounds = []
        for k in range(args.rounds):
            src = guests[-1]
            site = "B" if src.site == "A" else "A"
            port = 4444 + k
            dst = Guest(f"vm{k + 1}-{site}", args.results, site, incoming=f"tcp:127.0.0.1:{port}", primary=primary)
            guests.append(dst)
            time.sleep(args.settle)
            log(f"migration {k + 1}: {src.site} -> {site}")
            t, numbers = migrate(src, dst, port)
            t["primary"] = None
            deadline = time.time() + (args.replug_timeout if primary else 0)
            while time.time() < deadline and peer.last_reply_from.get(f"{site}1", 0) < t["resume"]:
                time.sleep(0.2)
            t["primary"] = primary_carries(peer, site, t["resume"]) if primary else None
            t.update(numbers)
            if args.mode == "pmd":
                t["xstats"] = failover_xstats(dst, 0)
            rounds.append(t)
            src.quit()
            log(f"migration {k + 1} done: downtime {numbers.get('downtime')} ms, wait-unplug "
                f"{(t['active'] - t['wait_unplug']) if t.get('active') and t.get('wait_unplug') else float('nan'):.3f} s, "
                f"primary carries {((t['primary'] - t['replug']) if t['primary'] and t['replug'] else float('nan')):.2f} s after the re-plug")
        time.sleep(args.after)
        end = time.time()
        ping.terminate()
        ping.wait()
        peer.stop()
        last = guests[-1]
        mark = len(last.serial_log())
        if args.mode == "pmd":
            last.send("quit")
            last.wait_serial("PMDVM-TESTPMD-EXIT", 120, mark)
        else:
            last.send("quit")
            last.wait_serial("PMDVM-KERNEL-EXIT", 60, mark)
        result = {
            "mode": args.mode, "rate": args.rate, "boot": boot, "results": args.results, "primary": primary, "cancel": cancel,
            "rounds": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()} for r in rounds],
            "peer": analyse(peer, rounds, start, end, 1.0 / args.rate),
            "ping": parse_ping(ping_log, rounds, start, end),
            "rarps": [(round(t, 6), port) for t, port in peer.rarps],
            "guest_exit": re.findall(r"PMDVM-(?:TESTPMD-EXIT=\d+|KERNEL-EXIT)", last.serial_log()[mark:]),
            "peer_sent": len(peer.records),
        }
        print_table(result)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        return 0
    finally:
        if ping and ping.poll() is None:
            ping.kill()
        for gg in guests:
            if gg.proc.poll() is None:
                gg.quit()
        ns.close()


def summary(result, i):
    """One migration's headline numbers."""
    r, ph = result["rounds"][i], result["peer"][i]
    lost_ms = sum(p["lost_ms"] for p in ph.values())
    return {
        "wait_unplug_s": (r["active"] - r["wait_unplug"]) if r.get("active") and r.get("wait_unplug") else None,
        "downtime_ms": r.get("downtime"),
        "lost_ms": lost_ms,
        "primary_after_replug_s": (r["primary"] - r["replug"]) if r.get("primary") and r.get("replug") else None,
    }


def print_table(result):
    print(f"\n{result['mode']}: {result['rate']} echoes/s through the bridge, ping every 10 ms")
    if c := result.get("cancel"):
        print(f" cancelled migration: the primary carries the traffic again {c['primary_back_s']} s after 'cancelled'; "
              f"{c['lost']} of {c['sent']} echoes lost from the migrate command until then")
    for i in range(len(result["rounds"])):
        s = summary(result, i)
        fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
        print(f" migration {i + 1}: wait-unplug {fmt(s['wait_unplug_s'], '.3f')} s, downtime {s['downtime_ms']} ms, "
              f"traffic lost {s['lost_ms']:.1f} ms, primary carries {fmt(s['primary_after_replug_s'], '.2f')} s after the re-plug")
        print(f"   {'phase':12} {'sent':>6} {'lost':>6} {'lost ms':>8} {'gap ms':>7} {'dup':>4} {'reord':>5} {'late':>5}  {'pings':>9}  lost requests went to")
        pings = result["ping"][i] if result["ping"] else None
        for p in PHASES:
            ph = result["peer"][i][p]
            pg = f"{pings[p]['lost']}/{pings[p]['sent']}" if pings else "-"
            where = ", ".join(f"{k} {v}" for k, v in sorted(ph["lost_to"].items()))
            print(f"   {p:12} {ph['sent']:6} {ph['lost']:6} {ph['lost_ms']:8.1f} {ph['longest_gap_ms']:7.1f} {ph['dup']:4} {ph['reordered']:5} {ph['late']:5}  {pg:>9}  {where}")
    for i, r in enumerate(result["rounds"]):
        if x := r.get("xstats"):
            ms = lambda k: x.get(f"failover_last_release_{k}_us", 0) / 1000  # noqa: E731
            print(f" migration {i + 1}: Pmd's release after the request event: TX off {ms('tx_off'):.1f} ms, drained {ms('drained'):.1f}, "
                  f"RX off {ms('rx_off'):.1f}, stopped {ms('stopped'):.1f}, device closed {ms('closed'):.1f} ms; "
                  f"{x.get('failover_announce_requests', 0)} announce requests, {x.get('failover_announcements_sent', 0)} announcements sent")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (TimeoutError, RuntimeError, subprocess.CalledProcessError, OSError) as e:
        print(f"migrate: {e}", file=sys.stderr)
        sys.exit(2)
