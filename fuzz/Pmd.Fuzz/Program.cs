using Pmd.Fuzz;
using Pmd.Fuzz.Targets;

// Pmd.Fuzz TARGET                  under afl-fuzz: SharpFuzz's persistent loop (one input per iteration)
// Pmd.Fuzz TARGET --replay PATH..  runs files (or every file in folders) once each, uninstrumented:
//                                  the smoke test over the seeds and past findings; exit 1 on a finding
// Pmd.Fuzz --list                  the target names
if (args.Length == 1 && args[0] == "--list")
{
    foreach (string name in AllTargets.Names) Console.WriteLine(name);
    return 0;
}
if (args.Length == 0 || AllTargets.Find(args[0]) is not { } create)
{
    Console.Error.WriteLine($"usage: Pmd.Fuzz TARGET [--replay PATH...] | --list; targets: {string.Join(", ", AllTargets.Names)}");
    return 2;
}
if (args.Length > 1 && args[1] == "--replay") return Replay.Run(create(), args.Skip(2));

// Inputs beyond 64 KiB only slow the fuzzer down; no target reads that far.
var buffer = new byte[64 * 1024];
FuzzTarget? target = null;
SharpFuzz.Fuzzer.Run(stream =>
{
    target ??= create();
    int n = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
    target.Run(buffer.AsSpan(0, n));
});
return 0;
