#!/usr/bin/env python3
"""64 KiB TSO sends: Pmd's virtio-user (TsoSender.cs) against DPDK's (tso_dpdk.c), A/B/A/B.

Each run starts DPDK's vhost backend (dpdk-testpmd, net_vhost0 with tso=1, rxonly, forwarding on
CPU 0) and one sender on CPU 1 (DPDK's lcore 1; Pmd's thread, unpinned, goes where the backend is not), which sends the same prebuilt 64 KiB TCP/IPv4 frames (MSS 1448)
for --seconds. Reported per side: the median, min and max over --rounds of Gbit/s handed to the
backend (frames x 65534 bytes) and of TSC cycles per frame spent in TX bursts that sent something.
The backend copies every frame out of the guest's memory, so Gbit/s say what the pair moves;
cycles per frame say what the driver costs.

    python3 perf/offloads/tso.py [--seconds 5] [--rounds 3] [--json FILE]
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LINE = re.compile(r"frames=(\d+) seconds=([\d.]+) gbps=([\d.]+) cycles_per_frame=([\d.]+)")


def build():
    exe = os.path.join(tempfile.gettempdir(), "pmd-tso-dpdk")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libdpdk"], check=True, capture_output=True, text=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-Wall", "-o", exe, os.path.join(HERE, "tso_dpdk.c")] + flags, check=True)
    subprocess.run(["dotnet", "build", "-c", "Release", os.path.join(HERE, "TsoSender.cs")], check=True, capture_output=True)
    return exe


def run(impl, exe, seconds):
    sock = os.path.join(tempfile.gettempdir(), f"pmd-tso-{os.getpid()}.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    backend = subprocess.Popen(["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--main-lcore", "1", "--in-memory", "--no-pci",
                                "--file-prefix", f"pmdtso-be{os.getpid()}", "--log-level=lib.eal:error",
                                "--vdev", f"net_vhost0,iface={sock},tso=1", "--", "--forward-mode=rxonly", "--nb-cores=1",
                                "--disable-link-check", "--total-num-mbufs=65536"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock):
            if backend.poll() is not None or time.time() > deadline:
                sys.exit("tso: the vhost backend did not start:\n" + backend.stdout.read())
            time.sleep(0.05)
        if impl == "dpdk":
            cmd = ["taskset", "-c", "1", exe, "-l", "1", "--in-memory", "--single-file-segments", "--no-pci",
                   "--file-prefix", f"pmdtso-cl{os.getpid()}", "--log-level=lib.eal:error",
                   "--vdev", f"net_virtio_user0,path={sock}", "--", str(seconds)]
        else:
            # Not pinned: the JIT's tier-up thread must not share the sending thread's CPU (the
            # scheduler puts the sender on CPU 1, the one the backend leaves idle).
            cmd = ["dotnet", "run", "-c", "Release", "--no-build", os.path.join(HERE, "TsoSender.cs"), "--", sock, str(seconds)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
        m = LINE.search(out)
        if not m:
            sys.exit(f"tso: {impl} printed no result:\n{out}")
        return {"frames": int(m.group(1)), "gbps": float(m.group(3)), "cycles": float(m.group(4))}
    finally:
        backend.send_signal(signal.SIGINT)
        try:
            backend.wait(timeout=20)
        except subprocess.TimeoutExpired:
            backend.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", default=os.path.join(ROOT, "artifacts/perf/tso.json"))
    args = p.parse_args()
    exe = build()
    runs = {"pmd": [], "dpdk": []}
    for _ in range(args.rounds):
        for impl in ("pmd", "dpdk"):
            runs[impl].append(run(impl, exe, args.seconds))
    spread = lambda xs: f"{statistics.median(xs):.2f}/{min(xs):.2f}/{max(xs):.2f}"
    print(f"{'sender':6} | {'Gbit/s med/min/max':>22} | {'cycles/frame med/min/max':>26}")
    for impl, rs in runs.items():
        print(f"{impl:6} | {spread([r['gbps'] for r in rs]):>22} | {spread([r['cycles'] for r in rs]):>26}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"seconds": args.seconds, "rounds": args.rounds, "frame_bytes": 65534, "mss": 1448, "runs": runs}, f, indent=2)
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
