#!/usr/bin/env bash
# fuzz/run.sh [seconds-per-target] [targets...]
#
# Builds fuzz/Pmd.Fuzz, replays every seed (fuzz/corpus/T) and past finding (fuzz/regressions/T)
# through the plain build, instruments a copy of the build with SharpFuzz, then runs afl-fuzz on
# each target, one after the other, for the given time (default 60 s; all targets by default).
# Prints one table row per target from afl's fuzzer_stats and exits non-zero when a replay
# failed, afl-fuzz did not run, or any crash or hang was saved. Crashing inputs are under
# $FUZZ_OUT/T/default/crashes (replay one: dotnet fuzz/Pmd.Fuzz/bin/Release/net10.0/Pmd.Fuzz.dll T --replay FILE).
#
# Environment: FUZZ_OUT (default fuzz/out), FUZZ_RESUME=1 continues earlier runs in FUZZ_OUT
# instead of starting from the seeds, FUZZ_TIMEOUT_MS (default 1000) per input, FUZZ_EXECS=N stops
# each target after about N executions (afl-fuzz -E) if that comes before the time.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
out=${FUZZ_OUT:-$root/fuzz/out}
bin=$root/fuzz/Pmd.Fuzz/bin/Release/net10.0
instrumented=$out/bin

command -v afl-fuzz >/dev/null || { echo "run.sh: afl-fuzz not found (apt-get install afl++, or tools/setup-host.sh)" >&2; exit 1; }
dotnet tool restore >/dev/null || exit 1
# One build at a time on a shared machine (-m:1).
dotnet build "$root/fuzz/Pmd.Fuzz/Pmd.Fuzz.csproj" -c Release -m:1 2>&1 | grep -E "error|Warn|warn|Elapsed" || true
[[ -f $bin/Pmd.Fuzz.dll ]] || { echo "run.sh: build failed" >&2; exit 1; }

mapfile -t all < <(dotnet "$bin/Pmd.Fuzz.dll" --list)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

status=0
# Replays run the plain build: instrumented code needs afl's shared memory to run at all.
for t in "${targets[@]}"; do
  paths=("$root/fuzz/corpus/$t")
  [[ -d $root/fuzz/regressions/$t ]] && paths+=("$root/fuzz/regressions/$t")
  dotnet "$bin/Pmd.Fuzz.dll" "$t" --replay "${paths[@]}" || status=1
done

# Instrument a copy, never the build output itself: the unit tests and replays use that.
rm -rf "$instrumented"
mkdir -p "$out"
cp -r "$bin" "$instrumented"
for dll in Pmd.Abstractions.dll Pmd.VirtioNet.dll Pmd.Vfio.dll TestPmd.dll; do
  dotnet tool run sharpfuzz "$instrumented/$dll" >/dev/null || { echo "run.sh: sharpfuzz failed on $dll" >&2; exit 1; }
done

# dotnet is not an AFL-instrumented binary (SharpFuzz instruments the IL): skip afl's check. A
# core_pattern that pipes to a crash handler makes afl refuse to start; crashes are exceptions
# reported by SharpFuzz, not core dumps, so ignoring that is safe and needs no root.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1
# Shared cores: no pinning; and the runtime's start-up under load can take seconds.
export AFL_NO_AFFINITY=1 AFL_FORKSRV_INIT_TMOUT=60000
[[ ${FUZZ_RESUME:-0} == 1 ]] && export AFL_AUTORESUME=1
# Scratch files of the harnesses (vhost-user-reply's socket), which afl's SIGKILL leaves behind.
export TMPDIR=$out/tmp
mkdir -p "$TMPDIR"

for t in "${targets[@]}"; do
  dir=$out/$t
  [[ ${FUZZ_RESUME:-0} == 1 ]] || rm -rf "$dir"
  echo "run.sh: fuzzing $t for ${seconds}s"
  timeout --kill-after=10 $((seconds + 120)) \
    afl-fuzz -i "$root/fuzz/corpus/$t" -o "$dir" -V "$seconds" ${FUZZ_EXECS:+-E "$FUZZ_EXECS"} -t "${FUZZ_TIMEOUT_MS:-1000}" -m none \
    -- dotnet "$instrumented/Pmd.Fuzz.dll" "$t" >"$out/$t.log" 2>&1
  rc=$?
  if ((rc != 0)); then
    echo "run.sh: afl-fuzz on $t exited $rc; the end of $out/$t.log:" >&2
    tail -n 15 "$out/$t.log" >&2
  fi
done

stat() { grep -E "^$2 *:" "$1" 2>/dev/null | sed 's/.*: *//'; }
printf '\n%-18s %12s %9s %7s %8s %6s\n' target execs execs/s corpus crashes hangs
for t in "${targets[@]}"; do
  s=$out/$t/default/fuzzer_stats
  if [[ ! -f $s ]]; then
    printf '%-18s %12s\n' "$t" "did not run"
    status=1
    continue
  fi
  crashes=$(stat "$s" saved_crashes) hangs=$(stat "$s" saved_hangs)
  printf '%-18s %12s %9s %7s %8s %6s\n' "$t" "$(stat "$s" execs_done)" "$(stat "$s" execs_per_sec)" \
    "$(stat "$s" corpus_count)" "$crashes" "$hangs"
  ((crashes == 0 && hangs == 0)) || status=1
done
exit $status
