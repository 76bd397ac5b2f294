using System.Diagnostics;
using System.Numerics;

namespace Pmd.Memory;

/// <summary>The one place sizes and offsets are rounded up to a multiple of an alignment.</summary>
internal static class Alignment
{
    /// <summary>
    /// <paramref name="value"/> rounded up to a multiple of <paramref name="alignment"/>, which must
    /// be a power of two: the rounding masks off low bits, which is wrong for any other alignment.
    /// </summary>
    public static T AlignUp<T>(T value, T alignment) where T : IBinaryInteger<T>
    {
        Debug.Assert(T.IsPow2(alignment), $"alignment {alignment} is not a power of two");
        return (value + alignment - T.One) & ~(alignment - T.One);
    }
}
