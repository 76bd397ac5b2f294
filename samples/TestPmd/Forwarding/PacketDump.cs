using System.Text;
using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// "set verbose N", as DPDK testpmd's: 1 prints every received burst, 2 every burst sent, 3 and
/// up both, a line per packet with its addresses, length, segments and offload flags (spelled as
/// DPDK's RTE_MBUF_F_* names, so the output reads like DPDK's). A debugging aid: with the level
/// at 0, which is the default, it costs the forwarding loop one static read per burst.
/// </summary>
internal static class PacketDump
{
    private static int s_level;
    private static TextWriter s_output = Console.Out;

    public static int Level => Volatile.Read(ref s_level);

    /// <summary>Sets the level and where the lines go; returns the level before.</summary>
    public static int Set(int level, TextWriter output)
    {
        s_output = TextWriter.Synchronized(output);
        return Interlocked.Exchange(ref s_level, level);
    }

    public static bool DumpsRx(int level) => level == 1 || level > 2;

    public static bool DumpsTx(int level) => level >= 2;

    public static void Received(int port, int queue, ReadOnlySpan<Mbuf> packets) => Write("received", port, queue, packets);

    public static void Sending(int port, int queue, ReadOnlySpan<Mbuf> packets) => Write("sent", port, queue, packets);

    private static void Write(string what, int port, int queue, ReadOnlySpan<Mbuf> packets)
    {
        var text = new StringBuilder();
        text.Append($"port {port}/queue {queue}: {what} {packets.Length} packets\n");
        foreach (var m in packets)
        {
            var data = m.Data;
            text.Append("  ");
            if (data.Length >= 14)
                text.Append($"src={Mac(data[6..12])} - dst={Mac(data[..6])} - type=0x{data[12]:x2}{data[13]:x2} - ");
            text.Append($"length={m.PacketLength} - nb_segs={m.SegmentCount}");
            if ((m.Flags & (OffloadFlags.RxLro | OffloadFlags.TxTcpSegmentation)) != 0) text.Append($" - tso_segsz={m.TsoSegmentSize}");
            if ((m.Flags & OffloadFlags.RxRssHash) != 0) text.Append($" - RSS hash=0x{m.RssHash:x}");
            text.Append($"\n  ol_flags: {FlagNames(m.Flags, rx: what == "received")}\n");
        }
        s_output.Write(text.ToString());
    }

    private static string Mac(ReadOnlySpan<byte> b) => $"{b[0]:X2}:{b[1]:X2}:{b[2]:X2}:{b[3]:X2}:{b[4]:X2}:{b[5]:X2}";

    /// <summary>The flags in DPDK's names; on RX, both checksum verdicts are always named (UNKNOWN when the device gave none).</summary>
    internal static string FlagNames(OffloadFlags flags, bool rx)
    {
        var names = new List<string>();
        if (rx)
        {
            if ((flags & OffloadFlags.RxRssHash) != 0) names.Add("RTE_MBUF_F_RX_RSS_HASH");
            if ((flags & OffloadFlags.RxLro) != 0) names.Add("RTE_MBUF_F_RX_LRO");
            names.Add("RTE_MBUF_F_RX_L4_CKSUM_" + Verdict(flags & OffloadFlags.RxL4ChecksumMask, OffloadFlags.RxL4ChecksumGood, OffloadFlags.RxL4ChecksumBad));
            names.Add("RTE_MBUF_F_RX_IP_CKSUM_" + Verdict(flags & OffloadFlags.RxIpChecksumMask, OffloadFlags.RxIpChecksumGood, OffloadFlags.RxIpChecksumBad));
        }
        else
        {
            if ((flags & OffloadFlags.TxTcpSegmentation) != 0) names.Add("RTE_MBUF_F_TX_TCP_SEG");
            switch (flags & OffloadFlags.TxL4Mask)
            {
                case OffloadFlags.TxTcpChecksum: names.Add("RTE_MBUF_F_TX_TCP_CKSUM"); break;
                case OffloadFlags.TxUdpChecksum: names.Add("RTE_MBUF_F_TX_UDP_CKSUM"); break;
                case OffloadFlags.TxL4Mask & ~OffloadFlags.TxTcpChecksum: names.Add("RTE_MBUF_F_TX_SCTP_CKSUM"); break;
            }
            if ((flags & OffloadFlags.TxIpChecksum) != 0) names.Add("RTE_MBUF_F_TX_IP_CKSUM");
            if ((flags & OffloadFlags.TxIpv4) != 0) names.Add("RTE_MBUF_F_TX_IPV4");
            if ((flags & OffloadFlags.TxIpv6) != 0) names.Add("RTE_MBUF_F_TX_IPV6");
        }
        return string.Join(' ', names);
    }

    private static string Verdict(OffloadFlags verdict, OffloadFlags good, OffloadFlags bad) =>
        verdict == good ? "GOOD" : verdict == bad ? "BAD" : verdict == (good | bad) ? "NONE" : "UNKNOWN";
}
