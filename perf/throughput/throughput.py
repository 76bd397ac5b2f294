#!/usr/bin/env python3
"""Side-by-side throughput: Pmd's TestPmd against DPDK's own virtio-user PMD (dpdk-testpmd), on the
same DPDK vhost-user backend, alternating A/B/A/B because shared machines are noisy.

Each cell runs the backend (dpdk-testpmd with net_vhost) forwarding on CPU 0 and the client under
test forwarding on CPU 1, reads the client's periodic "Rx-pps/Tx-pps" lines (both print testpmd's
format), and takes the median of the steady-state samples. Results go to a table on stdout, a JSON
file, and a PNG chart when matplotlib is installed (apt-get install python3-matplotlib).
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTPMD_DLL = os.path.join(ROOT, "samples/TestPmd/bin/Release/net10.0/TestPmd.dll")
PPS = re.compile(r"(Rx|Tx)-pps:\s+(\d+)")
# What the backend does for each client mode: it must sink what we send and feed what we read.
BACKEND_MODE = {"txonly": "rxonly", "rxonly": "txonly", "io": "io"}
COUNTED = {"txonly": "Tx", "rxonly": "Rx", "io": "Rx"}


def backend_cmd(sock, mode, size, queues):
    return ["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--main-lcore", "1", "--in-memory", "--no-pci",
            "--file-prefix", f"pmdperf-be{os.getpid()}", "--log-level=lib.eal:error",
            "--vdev", f"net_vhost0,iface={sock},queues={queues}", "--",
            f"--forward-mode={BACKEND_MODE[mode]}", "--nb-cores=1", f"--rxq={queues}", f"--txq={queues}",
            f"--txpkts={size}", "--total-num-mbufs=65536", "--disable-link-check"]


def client_devargs(args, sock, ring, queues):
    if args.pci:
        return None
    extra = ",packed_vq=1" if ring == "packed" else ""
    return f"net_virtio_user0,path={sock},queues={queues}{extra}"


def client_cmd(impl, args, sock, mode, size, ring, queues):
    app = [f"--forward-mode={mode}", f"--txpkts={size}", f"--rxq={queues}", f"--txq={queues}",
           "--nb-cores=1", "--stats-period=1", "--burst=32"]
    if mode == "io":
        app.append("--tx-first")
    devargs = client_devargs(args, sock, ring, queues)
    eal = ["-a", args.pci] if args.pci else ["--vdev", devargs]
    if impl in ("pmd", "base"):
        dll = TESTPMD_DLL if impl == "pmd" else args.against
        return ["dotnet", dll, "-l", "0-1"] + eal + ["--", f"--duration={args.seconds}", "--record-core-cycles"] + app
    return ["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--in-memory", "--single-file-segments",
            "--file-prefix", f"pmdperf-cl{os.getpid()}", "--log-level=lib.eal:error"] + \
           ([] if args.pci else ["--no-pci"]) + eal + ["--", "--total-num-mbufs=65536", "--record-core-cycles"] + app


def run_cell(impl, args, mode, size, ring, queues):
    """One measurement: returns (median Mpps, CPU ns per packet or None)."""
    sock = os.path.join(tempfile.gettempdir(), f"pmdperf-{os.getpid()}.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    backend = None
    if not args.pci:
        backend = subprocess.Popen(backend_cmd(sock, mode, size, queues), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        while not os.path.exists(sock):
            if backend.poll() is not None or time.time() > deadline:
                raise RuntimeError("the vhost backend did not start:\n" + backend.stdout.read())
            time.sleep(0.05)
    client = subprocess.Popen(client_cmd(impl, args, sock, mode, size, ring, queues), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples, lines = [], []
    start = time.time()
    try:
        for line in client.stdout:
            lines.append(line)
            m = PPS.search(line)
            if m and m.group(1) == COUNTED[mode]:
                samples.append(int(m.group(2)))
            if impl == "dpdk" and time.time() - start > args.seconds + 3:
                client.send_signal(signal.SIGINT)
                break
        # After the interrupt, testpmd prints its final statistics (and cycles per packet).
        lines.extend(client.stdout.read().splitlines(True))
        client.wait(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
        if backend is not None:
            backend.send_signal(signal.SIGINT)
            try:
                backend.wait(timeout=20)
            except subprocess.TimeoutExpired:
                backend.kill()
    cpu_ns = None
    for line in lines:
        m = re.search(r"CPU per packet:\s+([\d.]+) ns", line)
        if m:
            cpu_ns = float(m.group(1))
        # DPDK testpmd's --record-core-cycles: "CPU cycles/packet=N (... ) at M MHz Clock"
        m = re.search(r"CPU cycles/packet=([\d.]+).* at (\d+) MHz", line)
        if m and float(m.group(2)) > 0:
            cpu_ns = float(m.group(1)) * 1000.0 / float(m.group(2))
    # The first samples include start-up and, for DPDK, the link check: drop them.
    steady = [s for s in samples[2:] if s > 0] or [s for s in samples if s > 0]
    if not steady:
        raise RuntimeError(f"{impl} {mode} printed no {COUNTED[mode]}-pps samples:\n" + "".join(lines[-40:]))
    return statistics.median(steady) / 1e6, cpu_ns


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=6, help="measured seconds per run (default 6)")
    p.add_argument("--rounds", type=int, default=2, help="A/B rounds per cell (default 2: A B A B)")
    p.add_argument("--modes", default="txonly,rxonly,io")
    p.add_argument("--sizes", default="64,1518")
    p.add_argument("--rings", default="split,packed")
    p.add_argument("--queues", default="1,2")
    p.add_argument("--against", metavar="TESTPMD_DLL",
                   help="A/B two Pmd builds: another TestPmd.dll (e.g. one built from an earlier commit) takes DPDK's place")
    p.add_argument("--pci", help="a PCI address (e.g. a VF: 0000:3b:02.0) instead of virtio-user; no backend is started")
    p.add_argument("--json", default=os.path.join(ROOT, "artifacts/perf/throughput.json"))
    p.add_argument("--png", default=os.path.join(ROOT, "artifacts/perf/throughput.png"))
    args = p.parse_args()
    if not os.path.exists(TESTPMD_DLL):
        sys.exit(f"throughput: build TestPmd first: dotnet build samples/TestPmd -c Release ({TESTPMD_DLL} is missing)")

    results = []
    if args.against:
        print(f"B column: {args.against}")
    print(f"{'mode':7} {'size':>5} {'ring':6} {'q':>2} | {'Pmd Mpps (med/min/max)':>24} | {'DPDK Mpps (med/min/max)':>24} | {'ratio':>5} | {'Pmd ns/pkt':>10} | {'DPDK ns/pkt':>11}")
    for mode in args.modes.split(","):
        for size in map(int, args.sizes.split(",")):
            for ring in args.rings.split(","):
                for queues in map(int, args.queues.split(",")):
                    other = "base" if args.against else "dpdk"
                    runs = {"pmd": [], other: []}
                    cpu, dpdk_cpu = [], []
                    for _ in range(args.rounds):
                        for impl in ("pmd", other):
                            mpps, ns = run_cell(impl, args, mode, size, ring, queues)
                            runs[impl].append(mpps)
                            if ns is not None:
                                (cpu if impl == "pmd" else dpdk_cpu).append(ns)
                    ours, theirs = runs["pmd"], runs[other]
                    ratio = statistics.median(ours) / statistics.median(theirs) if statistics.median(theirs) else float("nan")
                    cell = {"mode": mode, "size": size, "ring": ring, "queues": queues,
                            "pmd_mpps": ours, "dpdk_mpps": theirs, "ratio": ratio,
                            "pmd_cpu_ns_per_packet": statistics.median(cpu) if cpu else None,
                            "dpdk_cpu_ns_per_packet": statistics.median(dpdk_cpu) if dpdk_cpu else None}
                    results.append(cell)
                    fmt = lambda xs: f"{statistics.median(xs):6.3f}/{min(xs):6.3f}/{max(xs):6.3f}"
                    ns_text = f"{cell['pmd_cpu_ns_per_packet']:.1f}" if cpu else "-"
                    dpdk_ns_text = f"{cell['dpdk_cpu_ns_per_packet']:.1f}" if dpdk_cpu else "-"
                    print(f"{mode:7} {size:>5} {ring:6} {queues:>2} | {fmt(ours):>24} | {fmt(theirs):>24} | {ratio:5.2f} | {ns_text:>10} | {dpdk_ns_text:>11}", flush=True)

    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"seconds": args.seconds, "rounds": args.rounds, "results": results}, f, indent=2)
    print(f"JSON: {args.json}")
    try:
        try:
            import matplotlib
        except ImportError:
            # A python3 other than Debian's (pyenv, venv) does not see Debian's python3-matplotlib.
            sys.path.append("/usr/lib/python3/dist-packages")
            import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        labels = [f"{r['mode']}\n{r['size']}B {r['ring']}\n{r['queues']}q" for r in results]
        x = range(len(results))
        fig, ax = plt.subplots(figsize=(max(8, len(results) * 0.9), 5))
        ax.bar([i - 0.2 for i in x], [statistics.median(r["pmd_mpps"]) for r in results], 0.4, label="Pmd (C#)")
        ax.bar([i + 0.2 for i in x], [statistics.median(r["dpdk_mpps"]) for r in results], 0.4, label="DPDK virtio-user (C)")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel("Mpps (median)")
        ax.set_title("Throughput against DPDK's vhost-user backend")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.png, dpi=120)
        print(f"PNG: {args.png}")
    except ImportError:
        print("PNG: skipped (apt-get install python3-matplotlib)")


if __name__ == "__main__":
    main()
