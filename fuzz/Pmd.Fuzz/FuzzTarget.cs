namespace Pmd.Fuzz;

/// <summary>
/// One fuzz target: code under test driven by one input. Expected, documented errors are caught
/// inside <see cref="Run"/>; anything that escapes (another exception type, or a broken invariant
/// reported with <see cref="InvariantException"/>) is a finding, and AFL records the input as a crash.
/// </summary>
internal abstract class FuzzTarget
{
    /// <summary>The name on the command line and of the corpus folder, fuzz/corpus/NAME.</summary>
    public abstract string Name { get; }

    public abstract void Run(ReadOnlySpan<byte> input);
}

/// <summary>A harness-checked property of the code under test did not hold.</summary>
internal sealed class InvariantException(string message) : Exception(message)
{
    public static void Check(bool condition, string what)
    {
        if (!condition) throw new InvariantException(what);
    }
}
