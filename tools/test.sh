#!/usr/bin/env bash
# The test command: builds in Release, checks the format, runs every test project (unit and real-peer tests, then the
# VM tests as their own step), the fuzz smoke test (every seed and past finding, then 5 s of
# afl-fuzz per target), and closes with one line "N passed, N failed". Run
# tools/setup-host.sh first on a new machine.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
fuzz_out=$(mktemp -d)
trap 'rm -rf "$log" "$fuzz_out"' EXIT
dotnet build Pmd.sln -c Release 2>&1 | tail -3
build=${PIPESTATUS[0]}
# The format check: .editorconfig's style, whitespace and imports (dotnet format fixes what it lists).
dotnet format Pmd.sln --verify-no-changes -v q 2>&1 | tail -20
format=${PIPESTATUS[0]}
((format == 0)) || echo "test.sh: dotnet format --verify-no-changes failed (run 'dotnet format Pmd.sln' to fix)"
dotnet test Pmd.sln -c Release --no-build -m:1 --blame-hang-timeout 10m --filter 'FullyQualifiedName!~Pmd.Vm.Tests' 2>&1 | tee "$log"
main=${PIPESTATUS[0]}
bash tools/vm-tests.sh 2>&1 | tee -a "$log"
vm=${PIPESTATUS[0]}
FUZZ_OUT=$fuzz_out bash fuzz/run.sh 5 2>&1
fuzz=$?
bash tools/test-summary.sh < "$log" | tail -n 1
summary=${PIPESTATUS[0]}
((build == 0 && format == 0 && main == 0 && vm == 0 && fuzz == 0 && summary == 0))
