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

/// <summary>One key a driver accepts, with what its value must look like.</summary>
public sealed record DevArgKey(string Name, DevArgKind Kind, string Help, long Min = 0, long Max = long.MaxValue)
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
