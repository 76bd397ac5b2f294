using Pmd.Interop;

namespace Pmd.Memory;

/// <summary>Page sizes and the kernel's hugepage counters, read from /proc/meminfo.</summary>
internal static class PageSizes
{
    public const int HugePage2M = 2 * 1024 * 1024;

    public static int SmallPage { get; } = (int)Libc.SysConf(Libc._SC_PAGESIZE);

    /// <summary>Free 2 MiB hugepages right now (HugePages_Free), or 0 when the line is missing.</summary>
    public static long FreeHugePages => ReadMeminfo("HugePages_Free:");

    /// <summary>All 2 MiB hugepages reserved by the kernel (HugePages_Total).</summary>
    public static long TotalHugePages => ReadMeminfo("HugePages_Total:");

    private static long ReadMeminfo(string key)
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            var value = line.AsSpan(key.Length).Trim();
            int space = value.IndexOf(' ');
            if (space > 0) value = value[..space];
            return long.TryParse(value, out long n) ? n : 0;
        }
        return 0;
    }
}
