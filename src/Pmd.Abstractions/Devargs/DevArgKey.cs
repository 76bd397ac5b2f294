using Pmd.Ethdev;

namespace Pmd.Devargs;

/// <summary>The kinds of value a devargs key takes.</summary>
public enum DevArgKind
{
    /// <summary>0 or 1.</summary>
    Bool,
    /// <summary>A decimal integer within [Min, Max].</summary>
    Integer,
    /// <summary>A power of two within [Min, Max] (ring sizes).</summary>
    PowerOfTwo,
    /// <summary>A non-empty filesystem path.</summary>
    Path,
    /// <summary>A MAC address.</summary>
    Mac,
    /// <summary>Any non-empty text.</summary>
    Text,
}

/// <summary>
/// One key a driver accepts: its name, what its value must look like, and the value it has when the
/// devargs leave it out (<paramref name="Default"/>; null: none). A driver declares each key once,
/// as a static field, and reads it through <see cref="DevArgs.GetInt"/>, <see cref="DevArgs.GetBool"/>
/// or <see cref="DevArgs.GetText"/>, which apply the default and return the typed value.
/// </summary>
public sealed record DevArgKey(string Name, DevArgKind Kind, string Help, long Min = 0, long Max = long.MaxValue, string? Default = null)
{
    /// <summary>Null when <paramref name="value"/> is acceptable, else what is wrong with it.</summary>
    public string? Check(string value) => Kind switch
    {
        DevArgKind.Bool => value is "0" or "1" ? null : "must be 0 or 1",
        DevArgKind.Integer => long.TryParse(value, out long n) && n >= Min && n <= Max ? null : $"is not an integer from {Min} to {Max}",
        DevArgKind.PowerOfTwo => long.TryParse(value, out long n) && n >= Min && n <= Max && long.IsPow2(n) ? null : $"is not a power of two from {Min} to {Max}",
        DevArgKind.Path => value.Length > 0 ? null : "must be a path",
        DevArgKind.Mac => MacAddress.TryParse(value, out _) ? null : "is not a MAC address like 52:54:00:12:34:56",
        DevArgKind.Text => value.Length > 0 ? null : "must not be empty",
        _ => "has an unknown kind",
    };
}
