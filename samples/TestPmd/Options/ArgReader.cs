using System.Globalization;

namespace Pmd.TestPmd.Options;

/// <summary>
/// Walks one side of the command line. Accepts both "--opt=value" and "--opt value", as DPDK's
/// getopt_long does, so that lines pasted from DPDK documentation work unchanged.
/// </summary>
internal sealed class ArgReader(IReadOnlyList<string> args)
{
    private int _index;
    private string? _inlineValue;

    public bool HasMore => _index < args.Count;

    /// <summary>The next flag name (without any "=value" part); its value, if inline, is kept for <see cref="Value"/>.</summary>
    public string NextFlag()
    {
        string token = args[_index++];
        _inlineValue = null;
        int eq = token.StartsWith("--", StringComparison.Ordinal) ? token.IndexOf('=') : -1;
        if (eq > 0)
        {
            _inlineValue = token[(eq + 1)..];
            return token[..eq];
        }
        return token;
    }

    /// <summary>The value of the flag just read: its "=value" part or the next argument.</summary>
    public string Value(string flag)
    {
        if (_inlineValue is { } inline)
        {
            _inlineValue = null;
            return inline;
        }
        if (_index >= args.Count) throw new UsageException($"option {flag} requires a value");
        return args[_index++];
    }

    /// <summary>Rejects "--flag=value" for a flag that takes no value.</summary>
    public void RejectValue(string flag)
    {
        if (_inlineValue is not null) throw new UsageException($"option {flag} takes no value");
    }

    public int IntValue(string flag, int min, int max)
    {
        string text = Value(flag);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
            throw new UsageException($"invalid value '{text}' for {flag}: expected an integer in {min}..{max}");
        return n;
    }

    public double SecondsValue(string flag)
    {
        string text = Value(flag);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || !(s > 0) || s > 86_400)
            throw new UsageException($"invalid value '{text}' for {flag}: expected seconds, more than 0");
        return s;
    }
}
