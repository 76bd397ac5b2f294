#!/usr/bin/env bash
# The VM tests: QEMU guests under TCG (tests/vm), about 4 minutes, run as their own step.
# xUnit v3's test host has died once (a "[FATAL ERROR] Xunit.Sdk.TestPipelineException" with no
# test failed) as the last guest finished; such a crash, and only that, is run again once, and the
# first attempt stays in the log, marked. A test that fails is never retried.
set -uo pipefail
cd "$(dirname "$0")/.."
# The guest runs TestPmd compiled with NativeAOT: under TCG it starts in ~0.65 s instead of ~4-5 s
# and has no JIT tier-up pauses (which once cost echoes at the start of a migration). Published
# here, after the build, so it is never older than the code under test.
bash tools/publish-aot.sh || exit 1
export PMD_VM_TESTPMD_AOT=$PWD/artifacts/aot/TestPmd
run() { dotnet test tests/Pmd.Vm.Tests -c Release --no-build --blame-hang-timeout 15m 2>&1; }
out=$(run); rc=$?
if ((rc != 0)) && grep -q '\[FATAL ERROR\]' <<<"$out" && ! grep -qE '^\s+Failed ' <<<"$out"; then
  sed 's/^/vm-tests attempt 1 (test host crashed; retried) | /' <<<"$out"
  out=$(run); rc=$?
fi
printf '%s\n' "$out"
exit "$rc"
