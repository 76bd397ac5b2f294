using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Telemetry;

/// <summary>DPDK's <c>/mempool/list</c> and <c>/mempool/info</c>, with DPDK's field names where Pmd's pools have the same thing, and Pmd's in-use and available counts.</summary>
internal static class MempoolTelemetry
{
    public static void AddTo(Action<string, string, TelemetryHandler> add)
    {
        add("/mempool/list", "Returns list of available mempool. Takes no parameters", List);
        add("/mempool/info", "Returns mempool info. Parameters: pool_name", Info);
    }

    private static bool List(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        reply.StartArray();
        foreach (var pool in Mempool.All()) reply.Add(pool.Name);
        return true;
    }

    private static bool Info(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        if (string.IsNullOrEmpty(parameters)) return false;
        var pool = Mempool.All().FirstOrDefault(p => p.Name == parameters);
        if (pool is null) return false;
        int common = pool.CommonPoolCount, cached = pool.CachedCount;
        reply.StartDict();
        reply.Add("name", pool.Name);
        reply.Add("pool_id", pool.Id);
        reply.Add("size", pool.Capacity);
        reply.Add("cache_size", pool.CacheSize);
        reply.Add("elt_size", pool.ElementSize);
        reply.Add("header_size", MbufHeader.Size);
        reply.Add("populated_size", pool.Capacity);
        reply.Add("total_cache_count", cached);
        reply.Add("common_pool_count", common);
        // Pmd's own: the counts that prove nothing leaks, and the buffer layout.
        reply.Add("available", common + cached);
        reply.Add("in_use", pool.Capacity - (common + cached));
        reply.Add("data_room", pool.DataRoom);
        reply.Add("headroom", pool.Headroom);
        reply.Add("hugepages", pool.Region.IsHugePages ? 1 : 0);
        return true;
    }
}
