#!/usr/bin/env bash
# The NuGet packages on their own: packs Pmd.Abstractions, Pmd.Vfio, Pmd.VirtioNet and Pmd.Failover
# (from the Release build: run `dotnet build Pmd.sln -c Release` first) into a local folder feed,
# checks what each package carries, then builds tests/package/app in a directory outside the
# repository against that feed alone (a fresh package cache, no project references, no
# Directory.Build.props), attaches its port to DPDK's vhost backend in io mode and sends 2,000
# frames that must all come back byte for byte. Prints "package-test: ok" at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d /tmp/pmd-package-test.XXXXXX)
backend_pid=
cleanup() { [ -n "$backend_pid" ] && kill "$backend_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
version=0.1.0-test.$(date +%s)
feed=$work/feed
for p in Pmd.Abstractions Pmd.Vfio Pmd.VirtioNet Pmd.Failover; do
  dotnet pack "src/$p/$p.csproj" -c Release --no-build -o "$feed" -p:Version="$version" -p:CI=true -v q -nologo >"$work/pack-$p.log" 2>&1 \
    || { cat "$work/pack-$p.log"; exit 1; }
  pkg=$feed/$p.$version.nupkg
  test -f "$pkg" && test -f "$feed/$p.$version.snupkg" || { echo "package-test: $p: no .nupkg and .snupkg" >&2; exit 1; }
  listing=$(python3 -c "import sys,zipfile; print('\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))" "$pkg")
  for f in README.md LICENSE "lib/net10.0/$p.dll" "lib/net10.0/$p.xml"; do
    grep -qxF "$f" <<<"$listing" || { echo "package-test: $p lacks $f" >&2; echo "$listing" >&2; exit 1; }
  done
  nuspec=$(python3 -c "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(z.read(sys.argv[2]+'.nuspec').decode())" "$pkg" "$p")
  for tag in "<description>" "<license type=\"expression\">MIT</license>" "<readme>README.md</readme>" "<repository type=\"git\"" "commit=\"$(git rev-parse HEAD)\""; do
    grep -qF "$tag" <<<"$nuspec" || { echo "package-test: $p.nuspec lacks $tag" >&2; echo "$nuspec" >&2; exit 1; }
  done
  echo "package-test: $p $version: $(du -h "$pkg" | cut -f1) (+ symbols), README, LICENSE, XML docs, commit"
done

app=$work/app
mkdir -p "$app"
cp tests/package/app/PackageSmoke.csproj tests/package/app/Program.cs "$app/"
# The local feed for Pmd.* and the machine's own NuGet source for everything else (Microsoft.Extensions.*).
upstream=$(dotnet nuget list source --format short 2>/dev/null | awk '$1 == "E" {print $2; exit}')
[ -n "$upstream" ] || { echo "package-test: no enabled NuGet source on this machine (dotnet nuget list source)" >&2; exit 1; }
cat > "$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="pmd-local" value="$feed" />
    <add key="upstream" value="$upstream" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="pmd-local"><package pattern="Pmd.*" /></packageSource>
    <packageSource key="upstream"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML
(cd "$app" && dotnet build -c Release -p:PmdVersion="$version" --packages "$work/packages" -v q -nologo >"$work/build.log" 2>&1) \
  || { cat "$work/build.log"; exit 1; }
ls "$work/packages" | grep -qi '^pmd.virtionet$' || { echo "package-test: Pmd.VirtioNet was not restored from the local feed" >&2; exit 1; }
echo "package-test: the app built from the feed alone (packages: $(ls "$work/packages" | grep -i '^pmd\.' | tr '\n' ' '))"

sock=$work/vhost.sock
sleep 60 | dpdk-testpmd -l 0-1 --main-lcore 1 --in-memory --no-pci --file-prefix "pmd-pkg$$" --log-level=lib.eal:error \
  --vdev "net_vhost0,iface=$sock" -- --forward-mode=io --nb-cores=1 --disable-link-check >"$work/backend.log" 2>&1 &
backend_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "package-test: dpdk-testpmd made no socket at $sock" >&2; cat "$work/backend.log" >&2; exit 1; }
out=$("$app/bin/Release/net10.0/PackageSmoke" "$sock" 2000 2>&1) || { echo "$out"; echo "package-test: the app failed" >&2; exit 1; }
echo "$out"
echo "package-test: ok"
