namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// The 82574's statistics registers (datasheet 10.2.5), which clear when read, accumulated into
/// 64-bit totals. Read on demand (stats calls, and before a reset would clear them), never per
/// packet. Names follow DPDK's e1000 xstats.
/// </summary>
internal sealed class E1000eHardwareStats
{
    private readonly record struct Counter(string Name, uint Offset, bool Wide = false);

    // Wide counters are a low and a high register; reading the high one clears both, so low goes first.
    private static readonly Counter[] Counters =
    [
        new("rx_crc_errors", 0x4000), new("rx_align_errors", 0x4004), new("rx_symbol_errors", 0x4008),
        new("rx_errors", 0x400C), new("rx_missed_packets", 0x4010), new("tx_single_collision_packets", 0x4014),
        new("tx_excessive_collision_packets", 0x4018), new("tx_multiple_collision_packets", 0x401C),
        new("tx_late_collisions", 0x4020), new("tx_total_collisions", 0x4028), new("tx_deferred_packets", 0x4030),
        new("tx_no_carrier_sense_packets", 0x4034), new("rx_sequence_errors", 0x4038), new("rx_carrier_ext_errors", 0x403C),
        new("rx_length_errors", 0x4040), new("rx_xon_packets", 0x4048), new("tx_xon_packets", 0x404C),
        new("rx_xoff_packets", 0x4050), new("tx_xoff_packets", 0x4054), new("rx_flow_control_unsupported_packets", 0x4058),
        new("rx_size_64_packets", 0x405C), new("rx_size_65_to_127_packets", 0x4060), new("rx_size_128_to_255_packets", 0x4064),
        new("rx_size_256_to_511_packets", 0x4068), new("rx_size_512_to_1023_packets", 0x406C), new("rx_size_1024_to_max_packets", 0x4070),
        new("rx_good_packets", 0x4074), new("rx_broadcast_packets", 0x4078), new("rx_multicast_packets", 0x407C),
        new("tx_good_packets", 0x4080), new("rx_good_bytes", 0x4088, Wide: true), new("tx_good_bytes", 0x4090, Wide: true),
        new("rx_no_buffer_count", 0x40A0), new("rx_undersize_errors", 0x40A4), new("rx_fragment_errors", 0x40A8),
        new("rx_oversize_errors", 0x40AC), new("rx_jabber_errors", 0x40B0), new("rx_management_packets", 0x40B4),
        new("rx_management_dropped", 0x40B8), new("tx_management_packets", 0x40BC), new("rx_total_bytes", 0x40C0, Wide: true),
        new("tx_total_bytes", 0x40C8, Wide: true), new("rx_total_packets", 0x40D0), new("tx_total_packets", 0x40D4),
        new("tx_size_64_packets", 0x40D8), new("tx_size_65_to_127_packets", 0x40DC), new("tx_size_128_to_255_packets", 0x40E0),
        new("tx_size_256_to_511_packets", 0x40E4), new("tx_size_512_to_1023_packets", 0x40E8), new("tx_size_1024_to_max_packets", 0x40EC),
        new("tx_multicast_packets", 0x40F0), new("tx_broadcast_packets", 0x40F4), new("tx_tso_packets", 0x40F8),
        new("tx_tso_errors", 0x40FC),
    ];

    private static readonly int MissedIndex = IndexOf("rx_missed_packets");
    private static readonly int[] ErrorIndexes =
        [IndexOf("rx_crc_errors"), IndexOf("rx_align_errors"), IndexOf("rx_errors"), IndexOf("rx_length_errors")];

    private readonly ulong[] _totals = new ulong[Counters.Length];

    /// <summary>Adds what the registers counted since the last read (which clears them).</summary>
    public void Accumulate(MmioWindow registers)
    {
        for (int i = 0; i < Counters.Length; i++)
        {
            var c = Counters[i];
            ulong value = registers.Read32(c.Offset);
            if (c.Wide) value |= (ulong)registers.Read32(c.Offset + 4) << 32;
            _totals[i] += value;
        }
    }

    /// <summary>Frames dropped because no descriptor was free or the FIFO overflowed (MPC).</summary>
    public ulong Missed => _totals[MissedIndex];

    /// <summary>Frames the MAC rejected: CRC, alignment, receive and length errors.</summary>
    public ulong Errors
    {
        get
        {
            ulong sum = 0;
            foreach (int i in ErrorIndexes) sum += _totals[i];
            return sum;
        }
    }

    public ulong this[string name] => _totals[IndexOf(name)];

    public void AddTo(List<Pmd.Ethdev.Xstat> list)
    {
        for (int i = 0; i < Counters.Length; i++) list.Add(new(Counters[i].Name, _totals[i]));
    }

    public void Clear() => Array.Clear(_totals);

    private static int IndexOf(string name) => Array.FindIndex(Counters, c => c.Name == name) is >= 0 and var i
        ? i : throw new ArgumentException($"no e1000e counter named {name}", nameof(name));
}
