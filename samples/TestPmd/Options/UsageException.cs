namespace Pmd.TestPmd.Options;

/// <summary>The command line (or a value in it) is wrong: exit code 2, one line on stderr.</summary>
internal sealed class UsageException(string message) : Exception(message);
