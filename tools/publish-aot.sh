#!/usr/bin/env bash
# TestPmd compiled ahead of time (NativeAOT): one native executable, no dotnet host, no JIT.
# Output: artifacts/aot/TestPmd (override with $1). Needs clang (tools/setup-host.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/aot}
dotnet publish samples/TestPmd -c Release -r linux-x64 -p:PublishAot=true -o "$out" 2>&1 | grep -vE "^\s*$" | tail -5
test -x "$out/TestPmd"
echo "publish-aot: $out/TestPmd ($(du -h "$out/TestPmd" | cut -f1))"
