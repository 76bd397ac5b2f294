#!/usr/bin/env python3
"""Start-up and memory: Pmd's TestPmd under the JIT, the same TestPmd compiled with NativeAOT, and
DPDK's dpdk-testpmd, each as a virtio-user client of the same DPDK vhost-user backend.

For each client, alternating round by round:
- time to the first packet: from the client's exec to the backend's first received burst. The
  backend (dpdk-testpmd, net_vhost, rxonly) runs interactively with 'set verbose 1', so it prints
  a line per burst it receives; the harness timestamps the lines as they arrive. The client runs
  txonly, so its first packet needs the whole start: runtime, EAL/pool set-up, attach, the
  vhost-user handshake, queue start and the first burst.
- resident memory once it forwards (after --settle seconds): VmRSS and HugetlbPages from
  /proc/PID/status, with the same pool size (--total-num-mbufs) on every side.
Medians and spreads go to stdout and a JSON file.
"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JIT_DLL = os.path.join(ROOT, "samples/TestPmd/bin/Release/net10.0/TestPmd.dll")
AOT_BIN = os.path.join(ROOT, "artifacts/aot/TestPmd")
MBUFS = 16384


def backend(sock):
    cmd = ["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--main-lcore", "1", "--in-memory", "--no-pci",
           "--file-prefix", f"pmdstart-be{os.getpid()}", "--log-level=lib.eal:error",
           "--vdev", f"net_vhost0,iface={sock},queues=1", "--", "-i", "--nb-cores=1",
           f"--total-num-mbufs={MBUFS}", "--disable-link-check"]
    be = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    be.stdin.write("set verbose 1\nset fwd rxonly\nstart\n")
    be.stdin.flush()
    deadline = time.time() + 30
    while not os.path.exists(sock):
        if be.poll() is not None or time.time() > deadline:
            raise RuntimeError("the vhost backend did not start:\n" + be.stdout.read())
        time.sleep(0.05)
    return be


def client_cmd(impl, args, sock):
    eal = ["-l", "0-1", "--vdev", f"net_virtio_user0,path={sock},queues=1"]
    app = ["--forward-mode=txonly", "--nb-cores=1", f"--total-num-mbufs={MBUFS}"]
    if impl == "jit":
        return ["dotnet", args.jit] + eal + ["--", f"--duration={args.settle + 2}"] + app
    if impl == "aot":
        return [args.aot] + eal + ["--", f"--duration={args.settle + 2}"] + app
    return ["dpdk-testpmd", "--in-memory", "--single-file-segments", "--no-pci", "--file-prefix",
            f"pmdstart-cl{os.getpid()}", "--log-level=lib.eal:error"] + eal + ["--"] + app


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "HugetlbPages"):
                fields[key] = int(value.split()[0])   # kB
    return fields


def run(impl, args):
    sock = os.path.join(tempfile.gettempdir(), f"pmdstart-{os.getpid()}.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    be = backend(sock)
    first, client = None, None
    try:
        # Whatever the backend printed before the client starts is its own start-up.
        time.sleep(0.5)
        t0 = time.time()
        client = subprocess.Popen(client_cmd(impl, args, sock), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = t0 + 120
        for line in be.stdout:
            if "received" in line and "packets" in line:
                first = time.time() - t0
                break
            if time.time() > deadline:
                break
        if first is None:
            raise RuntimeError(f"{impl}: the backend received nothing within 120 s")
        time.sleep(max(0.0, t0 + first + args.settle - time.time()))
        mem = status(client.pid)
    finally:
        if client is not None and client.poll() is None:
            client.send_signal(signal.SIGINT)
            try:
                client.wait(timeout=20)
            except subprocess.TimeoutExpired:
                client.kill()
        try:
            be.stdin.write("stop\nquit\n")
            be.stdin.flush()
            be.wait(timeout=20)
        except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
            be.kill()
    return {"first_packet_s": first, **{k.lower(): v for k, v in mem.items()}}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--settle", type=float, default=3.0, help="seconds of forwarding before memory is read (default 3)")
    p.add_argument("--jit", default=JIT_DLL, help="TestPmd.dll (dotnet build samples/TestPmd -c Release)")
    p.add_argument("--aot", default=AOT_BIN, help="the NativeAOT TestPmd (bash tools/publish-aot.sh)")
    p.add_argument("--impls", default="jit,aot,dpdk")
    p.add_argument("--json", default=os.path.join(ROOT, "artifacts/perf/startup.json"))
    args = p.parse_args()
    impls = args.impls.split(",")
    for impl, path in (("jit", args.jit), ("aot", args.aot)):
        if impl in impls and not os.path.exists(path):
            sys.exit(f"startup: {path} is missing (see --help)")
    runs = {i: [] for i in impls}
    for r in range(args.rounds):
        for impl in impls:
            res = run(impl, args)
            runs[impl].append(res)
            print(f"round {r + 1} {impl:4}: first packet {res['first_packet_s'] * 1000:7.0f} ms, "
                  f"VmRSS {res.get('vmrss', 0) / 1024:6.1f} MiB, hugetlb {res.get('hugetlbpages', 0) / 1024:6.1f} MiB", flush=True)
    summary = {}
    print(f"\n{'client':6} | {'first packet ms (med/min/max)':>30} | {'VmRSS MiB (med)':>15} | {'VmHWM MiB (med)':>15} | {'hugetlb MiB':>11}")
    for impl in impls:
        xs = [x["first_packet_s"] * 1000 for x in runs[impl]]
        med = lambda key: statistics.median(x.get(key, 0) for x in runs[impl]) / 1024
        summary[impl] = {"first_packet_ms": xs, "vmrss_mib": med("vmrss"), "vmhwm_mib": med("vmhwm"), "hugetlb_mib": med("hugetlbpages")}
        print(f"{impl:6} | {statistics.median(xs):10.0f} / {min(xs):7.0f} / {max(xs):7.0f} | {med('vmrss'):15.1f} | {med('vmhwm'):15.1f} | {med('hugetlbpages'):11.1f}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"rounds": args.rounds, "settle_s": args.settle, "mbufs": MBUFS, "runs": runs, "summary": summary}, f, indent=2)
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
