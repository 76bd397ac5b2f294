# A thin wrapper over the dotnet commands, for PowerShell users. Bash users run the same commands
# directly (see README.md). Usage: ./build.ps1 [build|test|bench|pack] [-Configuration Release]
param(
    [ValidateSet('build', 'test', 'bench', 'pack')]
    [string]$Target = 'build',
    [string]$Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

switch ($Target) {
    'build' { dotnet build Pmd.sln -c $Configuration }
    'test'  { dotnet test Pmd.sln -c $Configuration }
    'bench' { dotnet run -c Release --project perf/Pmd.Benchmarks -- --filter '*' }
    'pack'  { dotnet pack Pmd.sln -c $Configuration -o artifacts/packages }
}
exit $LASTEXITCODE
