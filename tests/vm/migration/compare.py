#!/usr/bin/env python3
"""tests/vm/migration/compare.py - the same migrations with Pmd and with the guest kernel's net_failover, side by side.

Runs migrate.py --mode pmd, then --mode kernel, with the same rounds and rate, one after the other on this
machine, and prints one table: per migration and phase what each lost, and the headline numbers.
  tests/vm/migration/compare.py --rounds 3 [--rate 2000] [--json both.json]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from migrate import PHASES, summary  # noqa: E402


def run(mode, args):
    out = f"/var/tmp/pmd-vm/compare-{mode}.json"
    cmd = [sys.executable, os.path.join(HERE, "migrate.py"), "--mode", mode, "--rounds", str(args.rounds),
           "--rate", str(args.rate), "--json", out]
    print(f"compare: {' '.join(cmd)}", file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)
    with open(out) as f:
        return json.load(f)


def cell(v, f):
    return "n/a" if v is None else format(v, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {m: run(m, args) for m in ("pmd", "kernel")}
    print(f"\nPmd vs the guest kernel's net_failover: {args.rounds} migration(s), {args.rate} echoes/s + ping every 10 ms, "
          "same bridge, same host, run one after the other")
    for i in range(args.rounds):
        s = {m: summary(r, i) for m, r in results.items()}
        print(f"\nmigration {i + 1}                 {'Pmd':>22} {'kernel':>22}")
        for key, label, f in [("wait_unplug_s", "wait-unplug (s)", ".3f"), ("downtime_ms", "QEMU downtime (ms)", "d"),
                              ("lost_ms", "traffic lost (ms)", ".1f"), ("primary_after_replug_s", "re-plug -> primary carries (s)", ".2f")]:
            print(f"  {label:30} {cell(s['pmd'][key], f):>22} {cell(s['kernel'][key], f):>22}")
        print(f"  {'lost ms (echoes) / pings':30} {'':>22} {'':>22}")
        for p in PHASES:
            row = []
            for m in ("pmd", "kernel"):
                ph = results[m]["peer"][i][p]
                pg = results[m]["ping"][i][p] if results[m]["ping"] else None
                row.append(f"{ph['lost_ms']:.1f} ({ph['lost']}/{ph['sent']}) " + (f"{pg['lost']}/{pg['sent']}" if pg else "-"))
            print(f"    {p:28} {row[0]:>22} {row[1]:>22}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
