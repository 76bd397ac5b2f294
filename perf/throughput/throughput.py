#!/usr/bin/env python3
"""Side-by-side throughput: Pmd's TestPmd against DPDK's own virtio-user PMD (dpdk-testpmd), on the
same DPDK vhost-user backend, alternating A/B/A/B because shared machines are noisy.

Each cell runs the backend (dpdk-testpmd with net_vhost) forwarding on CPU 0 and the client under
test forwarding on CPU 1. The client's rate is the median of its periodic "Rx-pps/Tx-pps" lines
after the first two; its CPU cost is the TSC cycles per packet that both testpmds print with
--record-core-cycles (the forwarding lcore's cycles in bursts that moved packets / packets). Cycles
are the main figure: they depend less than Mpps on how fast the backend is at that moment.

Anchors are DPDK configurations (--anchors): 'default' is virtio-user as it comes (IN_ORDER and
mergeable buffers negotiated); 'vectorized' is the configuration each ring needs for DPDK's SIMD
paths (split: vectorized=1,in_order=0,mrg_rxbuf=0, DPDK's SSE/AVX2 RX; packed:
vectorized=1,in_order=1,mrg_rxbuf=0 with --force-max-simd-bitwidth=512, its AVX-512 RX/TX). Pmd
runs with the anchor's devargs (its vectorized=1 forces Pmd's own vectorized ring path;
without the key Pmd picks it from the CPU). DPDK's log says which RX/TX functions it selected
(a CPU without AVX-512 does not get the packed vector path): the table and the JSON record them.

A run during which the machine was not quiet (steal time, or CPU used by processes other than the
two testpmds) is flagged, left out of the medians and run again (up to --retries times).
Results go to a table on stdout, a JSON file, and a PNG chart when matplotlib is installed.
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTPMD_DLL = os.path.join(ROOT, "samples/TestPmd/bin/Release/net10.0/TestPmd.dll")
AOT_BIN = os.path.join(ROOT, "artifacts/aot/TestPmd")
PPS = re.compile(r"(Rx|Tx)-pps:\s+(\d+)")
CYCLES = re.compile(r"CPU cycles/packet=([\d.]+).* at (\d+) MHz")
DPDK_PATH = re.compile(r"virtio: using (.+?) (Rx|Tx) path")
DPDK_NO_VEC = re.compile(r"disabled (.+?) vectorized path.*")
# What the backend does for each client mode: it must sink what we send and feed what we read.
BACKEND_MODE = {"txonly": "rxonly", "rxonly": "txonly", "io": "io", "csum": "io"}
COUNTED = {"txonly": "Tx", "rxonly": "Rx", "io": "Rx", "csum": "Rx"}
# --csum: the TX offloads each client starts with (DPDK's --tx-offloads bits, which its csum engine
# reads per port): none, or UDP and TCP checksums by the port. IP checksums are the engines' own
# (DPDK's virtio has no IPv4 checksum offload). No "csum set": it needs a port stop and start.
CSUM_OFFLOADS = {"none": None, "sw": None, "hw": "0xc"}
# Devargs of each anchor per ring; Pmd takes the same ring features.
ANCHORS = {
    "default": {"split": "", "packed": "packed_vq=1"},
    "vectorized": {"split": "vectorized=1,in_order=0,mrg_rxbuf=0",
                   "packed": "packed_vq=1,vectorized=1,in_order=1,mrg_rxbuf=0"},
}
# A run is not quiet when the hypervisor stole, or other processes used, more than this share of one CPU.
NOISE_LIMIT = 0.10


def backend_cmd(sock, mode, size, queues):
    return ["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--main-lcore", "1", "--in-memory", "--no-pci",
            "--file-prefix", f"pmdperf-be{os.getpid()}", "--log-level=lib.eal:error",
            "--vdev", f"net_vhost0,iface={sock},queues={queues}", "--",
            f"--forward-mode={BACKEND_MODE[mode]}", "--nb-cores=1", f"--rxq={queues}", f"--txq={queues}",
            f"--txpkts={size}", "--total-num-mbufs=65536", "--disable-link-check"]


def devargs_for(impl, args, sock, ring, queues, anchor):
    # Pmd takes the anchor's devargs as they are (its vectorized=1 forces its own vector path), plus
    # --pmd-devargs on the A side and --base-devargs on the B side of an --against run.
    added = {"pmd": args.pmd_devargs, "aot": args.pmd_devargs, "base": args.base_devargs}.get(impl, "")
    extra = ",".join(kv for kv in (ANCHORS[anchor][ring], added) if kv)
    return f"net_virtio_user0,path={sock},queues={queues}" + (f",{extra}" if extra else "")


def client_cmd(impl, args, sock, mode, size, ring, queues, anchor, csum="none"):
    app = [f"--forward-mode={mode}", f"--txpkts={size}", f"--rxq={queues}", f"--txq={queues}",
           "--nb-cores=1", "--stats-period=1", "--burst=32"]
    if mode in ("io", "csum"):
        app.append("--tx-first")
    if CSUM_OFFLOADS[csum]:
        app.append(f"--tx-offloads={CSUM_OFFLOADS[csum]}")
    eal = ["-a", args.pci] if args.pci else ["--vdev", devargs_for(impl, args, sock, ring, queues, anchor)]
    pmd_tail = ["--", f"--duration={args.seconds}", "--record-core-cycles"] + app
    if impl in ("pmd", "aot"):
        eal += args.pmd_eal.split()
    if impl == "base":
        eal += args.base_eal.split()
    if impl == "pmd":
        return ["dotnet", TESTPMD_DLL, "-l", "0-1"] + eal + pmd_tail
    if impl == "base":
        return ["dotnet", args.against, "-l", "0-1"] + eal + pmd_tail
    if impl == "aot":
        return [args.aot, "-l", "0-1"] + eal + pmd_tail
    simd = ["--force-max-simd-bitwidth=512"] if anchor == "vectorized" else []
    return ["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--in-memory", "--single-file-segments",
            "--file-prefix", f"pmdperf-cl{os.getpid()}", "--log-level=lib.eal:error",
            "--log-level=pmd.net.virtio.init:info"] + simd + \
           ([] if args.pci else ["--no-pci"]) + eal + ["--", "--total-num-mbufs=65536", "--record-core-cycles"] + app


def cpu_times():
    """(busy, steal, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    steal = v[7] if len(v) > 7 else 0
    return sum(v) - idle - steal, steal, sum(v)


def proc_jiffies(pid):
    """utime+stime of a process (all its threads) and of its waited-for children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return 0


def run_cell(impl, args, mode, size, ring, queues, anchor, csum="none"):
    """One measurement: {mpps, cycles, ns, noise, paths}."""
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
    client = subprocess.Popen(client_cmd(impl, args, sock, mode, size, ring, queues, anchor, csum), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples, lines = [], []
    start = time.time()
    window = None   # machine and process CPU times over the steady samples
    try:
        for line in client.stdout:
            lines.append(line)
            m = PPS.search(line)
            if m and m.group(1) == COUNTED[mode]:
                samples.append(int(m.group(2)))
                ours = proc_jiffies(client.pid) + (proc_jiffies(backend.pid) if backend else 0)
                if len(samples) == 2:
                    window = (cpu_times(), ours)
                elif len(samples) > 2 and window:
                    window = window[:2] + ((cpu_times(), ours),)
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
    cycles = ns = None
    paths = {}
    for line in lines:
        m = re.search(r"CPU per packet:\s+([\d.]+) ns", line)
        if m:
            ns = float(m.group(1))
        m = CYCLES.search(line)
        if m:
            cycles = float(m.group(1))
            if float(m.group(2)) > 0:
                ns = cycles * 1000.0 / float(m.group(2))
        m = DPDK_PATH.search(line)
        if m:
            paths[m.group(2).lower()] = m.group(1)
        m = DPDK_NO_VEC.search(line)
        if m:
            paths["note"] = m.group(0).strip()
    noise = None
    if window and len(window) == 3:
        (busy0, steal0, total0), ours0 = window[0], window[1]
        (busy1, steal1, total1), ours1 = window[2]
        elapsed_cpus = (total1 - total0) / os.cpu_count()   # jiffies of one CPU over the window
        if elapsed_cpus > 0:
            noise = {"steal": (steal1 - steal0) / elapsed_cpus,
                     "others": max(0, (busy1 - busy0) - (ours1 - ours0)) / elapsed_cpus}
    # The first samples include start-up and, for DPDK, the link check: drop them.
    steady = [s for s in samples[2:] if s > 0] or [s for s in samples if s > 0]
    if not steady:
        raise RuntimeError(f"{impl} {mode} printed no {COUNTED[mode]}-pps samples:\n" + "".join(lines[-40:]))
    return {"mpps": statistics.median(steady) / 1e6, "cycles": cycles, "ns": ns, "noise": noise, "paths": paths}


def quiet(run):
    n = run["noise"]
    return n is None or (n["steal"] <= NOISE_LIMIT and n["others"] <= NOISE_LIMIT)


def spread(xs):
    """median, min, max; None for no values."""
    return (statistics.median(xs), min(xs), max(xs)) if xs else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=6, help="measured seconds per run (default 6)")
    p.add_argument("--rounds", type=int, default=5, help="A/B rounds per cell (default 5: A B A B ...)")
    p.add_argument("--retries", type=int, default=2, help="runs again a run that was not quiet, at most this often (default 2)")
    p.add_argument("--modes", default="txonly,rxonly,io")
    p.add_argument("--sizes", default="64,1518")
    p.add_argument("--rings", default="split,packed")
    p.add_argument("--queues", default="1")
    p.add_argument("--csum", default="none", help="with --modes csum: none,sw,hw (the csum engine's checksums by software or by the port)")
    p.add_argument("--anchors", default="vectorized", help="DPDK configurations to compare with: default,vectorized")
    p.add_argument("--impl", default="pmd", choices=("pmd", "aot"),
                   help="Pmd side: TestPmd under the JIT (pmd) or compiled with NativeAOT (aot: bash tools/publish-aot.sh)")
    p.add_argument("--aot", default=AOT_BIN, help="the NativeAOT TestPmd for --impl aot")
    p.add_argument("--against", metavar="TESTPMD_DLL",
                   help="A/B two Pmd builds: another TestPmd.dll (e.g. one built from an earlier commit) takes DPDK's place")
    p.add_argument("--pmd-devargs", default="", help="devargs added to Pmd's port (A side), e.g. vectorized=0")
    p.add_argument("--pmd-eal", default="", help="EAL options added to Pmd's TestPmd (A side), e.g. --no-telemetry")
    p.add_argument("--base-eal", default="", help="EAL options added to the --against TestPmd (B side)")
    p.add_argument("--base-devargs", default="", help="devargs added to the --against TestPmd's port (B side)")
    p.add_argument("--pci", help="a PCI address (e.g. a VF: 0000:3b:02.0) instead of virtio-user; no backend is started")
    p.add_argument("--json", default=os.path.join(ROOT, "artifacts/perf/throughput.json"))
    p.add_argument("--png", default=os.path.join(ROOT, "artifacts/perf/throughput.png"))
    args = p.parse_args()
    need = args.aot if args.impl == "aot" else TESTPMD_DLL
    if not os.path.exists(need):
        sys.exit(f"throughput: {need} is missing: dotnet build samples/TestPmd -c Release (or bash tools/publish-aot.sh for --impl aot)")

    ours_impl, other = args.impl, ("base" if args.against else "dpdk")
    results = []
    if args.against:
        print(f"B column: {args.against}")
    print(f"{'mode':6} {'size':>4} {'ring':6} {'q':>1} {'anchor':10} | {'Pmd Mpps med/min/max':>20} | {'DPDK Mpps med/min/max':>21} | {'ratio':>5} | "
          f"{'Pmd cyc/pkt med/min/max':>23} | {'DPDK cyc/pkt med/min/max':>24} | {'cyc':>4} | flagged | DPDK rx/tx path")
    for mode in args.modes.split(","):
        for size in map(int, args.sizes.split(",")):
            for ring in args.rings.split(","):
                for queues in map(int, args.queues.split(",")):
                    for anchor, csum in [(a, c) for a in args.anchors.split(",") for c in args.csum.split(",")]:
                        runs = {ours_impl: [], other: []}
                        flagged = []
                        for _ in range(args.rounds):
                            for impl in (ours_impl, other):
                                for attempt in range(args.retries + 1):
                                    r = run_cell(impl, args, mode, size, ring, queues, anchor, csum)
                                    if quiet(r):
                                        runs[impl].append(r)
                                        break
                                    flagged.append({"impl": impl, **r})
                                else:
                                    runs[impl].append({**r, "noisy": True})
                        mpps = {k: [r["mpps"] for r in v] for k, v in runs.items()}
                        cyc = {k: [r["cycles"] for r in v if r["cycles"] is not None] for k, v in runs.items()}
                        paths = next((r["paths"] for r in runs[other] if r["paths"]), {})
                        ratio = statistics.median(mpps[ours_impl]) / statistics.median(mpps[other])
                        cyc_ratio = (statistics.median(cyc[ours_impl]) / statistics.median(cyc[other])
                                     if cyc[ours_impl] and cyc[other] else None)
                        cell = {"mode": mode, "size": size, "ring": ring, "queues": queues, "anchor": anchor, "csum": csum,
                                "devargs_pmd": devargs_for(ours_impl, args, "SOCK", ring, queues, anchor),
                                "devargs_dpdk": devargs_for("dpdk", args, "SOCK", ring, queues, anchor),
                                "dpdk_paths": paths, "pmd_impl": ours_impl,
                                "pmd_mpps": mpps[ours_impl], "dpdk_mpps": mpps[other], "ratio": ratio,
                                "pmd_cycles_per_packet": cyc[ours_impl], "dpdk_cycles_per_packet": cyc[other],
                                "cycles_ratio": cyc_ratio,
                                "pmd_noise": [r["noise"] for r in runs[ours_impl]],
                                "dpdk_noise": [r["noise"] for r in runs[other]],
                                "noisy_runs_kept": sum(1 for v in runs.values() for r in v if r.get("noisy")),
                                "flagged_runs": flagged}
                        results.append(cell)
                        fmt = lambda xs, w: (f"{spread(xs)[0]:.2f}/{spread(xs)[1]:.2f}/{spread(xs)[2]:.2f}" if xs else "-").rjust(w)
                        fmtc = lambda xs, w: (f"{spread(xs)[0]:.0f}/{spread(xs)[1]:.0f}/{spread(xs)[2]:.0f}" if xs else "-").rjust(w)
                        path_text = f"{paths.get('rx', '?')}/{paths.get('tx', '?')}" if paths else "-"
                        cr = f"{cyc_ratio:4.2f}" if cyc_ratio else "   -"
                        label = anchor if csum == "none" else f"{anchor[:3]}/{csum}"
                        print(f"{mode:6} {size:>4} {ring:6} {queues:>1} {label:10} | {fmt(mpps[ours_impl], 20)} | {fmt(mpps[other], 21)} | {ratio:5.2f} | "
                              f"{fmtc(cyc[ours_impl], 23)} | {fmtc(cyc[other], 24)} | {cr} | {len(flagged):>3}/{cell['noisy_runs_kept']:<3} | {path_text}", flush=True)

    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"seconds": args.seconds, "rounds": args.rounds, "noise_limit": NOISE_LIMIT,
                   "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
                   "results": results}, f, indent=2)
    print(f"JSON: {args.json}")
    print("ratio: Pmd Mpps / DPDK Mpps (medians); cyc: Pmd cycles / DPDK cycles per packet (medians, lower is better for Pmd);"
          " flagged: runs left out as not quiet / not-quiet runs kept after the retries")
    try:
        try:
            import matplotlib
        except ImportError:
            # A python3 other than Debian's (pyenv, venv) does not see Debian's python3-matplotlib.
            sys.path.append("/usr/lib/python3/dist-packages")
            import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        labels = [f"{r['mode']}\n{r['size']}B {r['ring']}\n{r['anchor'][:3]} {r['queues']}q" for r in results]
        x = range(len(results))
        fig, (ax, bx) = plt.subplots(2, 1, figsize=(max(8, len(results) * 0.9), 8), sharex=True)
        ax.bar([i - 0.2 for i in x], [statistics.median(r["pmd_mpps"]) for r in results], 0.4, label="Pmd (C#)")
        ax.bar([i + 0.2 for i in x], [statistics.median(r["dpdk_mpps"]) for r in results], 0.4, label="DPDK virtio-user (C)")
        ax.set_ylabel("Mpps (median)")
        ax.set_title("Throughput against DPDK's vhost-user backend")
        ax.legend()
        med = lambda xs: statistics.median(xs) if xs else 0
        bx.bar([i - 0.2 for i in x], [med(r["pmd_cycles_per_packet"]) for r in results], 0.4, label="Pmd (C#)")
        bx.bar([i + 0.2 for i in x], [med(r["dpdk_cycles_per_packet"]) for r in results], 0.4, label="DPDK virtio-user (C)")
        bx.set_ylabel("TSC cycles / packet (median, lower is better)")
        bx.set_xticks(list(x))
        bx.set_xticklabels(labels, fontsize=7)
        bx.legend()
        fig.tight_layout()
        fig.savefig(args.png, dpi=120)
        print(f"PNG: {args.png}")
    except ImportError:
        print("PNG: skipped (apt-get install python3-matplotlib)")


if __name__ == "__main__":
    main()
