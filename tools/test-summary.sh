#!/usr/bin/env bash
# Reads `dotnet test` output on stdin, echoes it, and closes with one line: "N passed, N failed".
# Exits non-zero when any test failed or no test ran.
set -uo pipefail
passed=0 failed=0 skipped=0 runs=0
while IFS= read -r line; do
  printf '%s\n' "$line"
  if [[ $line =~ ^(Passed|Failed)!\ +-\ Failed:\ +([0-9]+),\ Passed:\ +([0-9]+),\ Skipped:\ +([0-9]+) ]]; then
    failed=$((failed + BASH_REMATCH[2])); passed=$((passed + BASH_REMATCH[3])); skipped=$((skipped + BASH_REMATCH[4])); runs=$((runs + 1))
  fi
done
echo "$passed passed, $failed failed, $skipped skipped"
((runs > 0 && failed == 0 && passed > 0))
