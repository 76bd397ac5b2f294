#!/usr/bin/env bash
# TestPmd compiled ahead of time (NativeAOT): one native executable, no dotnet host, no JIT.
# Output: artifacts/aot/TestPmd (override with $1). Needs clang (tools/setup-host.sh installs it).
# PMD_AOT_ISA sets the instruction-set baseline (IlcInstructionSet), e.g. x86-x64-v3 or native. The
# default is .NET's portable x86-64 baseline, which runs anywhere (the VM tests' TCG guests) but has
# no AVX: Avx.IsSupported is then false and Pmd takes its scalar ring path. For benchmarks on the
# machine itself, publish with PMD_AOT_ISA=native.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/aot}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The project sets PublishAot; a trim or AOT warning (ILxxxx) means code the native build may run
# differently from the JIT one, so it fails the publish here instead of passing unnoticed.
isa=(); [ -n "${PMD_AOT_ISA:-}" ] && isa=(-p:IlcInstructionSet="$PMD_AOT_ISA")
dotnet publish samples/TestPmd -c Release -r linux-x64 "${isa[@]}" -o "$out" >"$log" 2>&1 || { tail -30 "$log"; exit 1; }
if grep -E "warning IL[0-9]+" "$log"; then echo "publish-aot: trim/AOT warnings above" >&2; exit 1; fi
test -x "$out/TestPmd"
echo "publish-aot: $out/TestPmd ($(du -h "$out/TestPmd" | cut -f1))"
