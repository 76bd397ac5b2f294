#!/usr/bin/env python3
"""The failover layer's cost end to end: TestPmd txonly through a FailoverPort (standby on backend
A, primary on backend B) against TestPmd txonly on the bare primary (backend B alone), alternating
A/B/A/B. Backend B sinks (rxonly, forwarding on CPU 0); backend A is attached but idle (interactive,
never started), so both runs have the same CPUs: the difference is the failover layer."""
import argparse, os, re, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTPMD_DLL = os.path.join(ROOT, "samples/TestPmd/bin/Release/net10.0/TestPmd.dll")
MAC = "52:54:00:fa:0e:01"


def start_backend(sock, interactive):
    if os.path.exists(sock):
        os.unlink(sock)
    app = ["-i"] if interactive else ["--forward-mode=rxonly", "--nb-cores=1"]
    cmd = ["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--main-lcore", "1", "--in-memory", "--no-pci",
           "--file-prefix", f"pmdfo{os.getpid()}{'i' if interactive else 'f'}", "--log-level=lib.eal:error",
           "--vdev", f"net_vhost0,iface={sock},queues=1", "--", "--total-num-mbufs=32768", "--disable-link-check"] + app
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while not os.path.exists(sock):
        if p.poll() is not None or time.time() > deadline:
            sys.exit("failover_overhead: a vhost backend did not start:\n" + p.stdout.read())
        time.sleep(0.05)
    return p


def run(devices, seconds, size):
    cmd = ["dotnet", TESTPMD_DLL, "-l", "0-1"]
    for d in devices:
        cmd += ["--vdev", d]
    cmd += ["--", "--forward-mode=txonly", f"--txpkts={size}", "--stats-period=1", f"--duration={seconds}"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=seconds + 60).stdout
    samples = [int(m.group(1)) for m in re.finditer(r"Tx-pps:\s+(\d+)", out)]
    steady = [s for s in samples[2:] if s > 0]
    if not steady:
        sys.exit("failover_overhead: no Tx-pps samples:\n" + out[-3000:])
    if len(devices) > 1 and "failover event (primary" not in out:
        sys.exit("failover_overhead: the primary never became active:\n" + out[-3000:])
    return statistics.median(steady) / 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=int, default=6)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    tmp = tempfile.gettempdir()
    sock_a, sock_b = os.path.join(tmp, f"pmdfo-a-{os.getpid()}.sock"), os.path.join(tmp, f"pmdfo-b-{os.getpid()}.sock")
    bare, failover = [], []
    for _ in range(args.rounds):
        for kind in ("bare", "failover"):
            a = start_backend(sock_a, interactive=True)
            b = start_backend(sock_b, interactive=False)
            try:
                if kind == "bare":
                    bare.append(run([f"net_virtio_user1,path={sock_b},mac={MAC}"], args.seconds, args.size))
                else:
                    failover.append(run([f"net_virtio_user0,path={sock_a},mac={MAC},standby=1",
                                         f"net_virtio_user1,path={sock_b},mac={MAC}"], args.seconds, args.size))
            finally:
                for proc in (a, b):
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    mb, mf = statistics.median(bare), statistics.median(failover)
    print(f"bare primary   Mpps median {mb:.3f}  runs {', '.join(f'{x:.3f}' for x in bare)}")
    print(f"via failover   Mpps median {mf:.3f}  runs {', '.join(f'{x:.3f}' for x in failover)}")
    print(f"overhead {100 * (mb - mf) / mb:+.1f}% (txonly, {args.size} bytes, 1 queue)")


if __name__ == "__main__":
    main()
