using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Vfio.Tests;

/// <summary>
/// The e1000e RX checksum verdicts from a legacy descriptor's status (IPCS, TCPCS, UDPCS, IXSM) and
/// errors (IPE, TCPE), as QEMU's e1000e writes them: reported only when the port asked for them, and
/// a frame with a bad checksum is delivered, flagged, not dropped.
/// </summary>
public sealed class E1000eRxChecksumTests
{
    private const byte DoneEop = 0x03, Ixsm = 1 << 2, Udpcs = 1 << 4, Tcpcs = 1 << 5, Ipcs = 1 << 6;
    private const byte Tcpe = 1 << 5, Ipe = 1 << 6;
    private const OffloadFlags IpGood = OffloadFlags.RxIpChecksumGood, IpBad = OffloadFlags.RxIpChecksumBad;
    private const OffloadFlags L4Good = OffloadFlags.RxL4ChecksumGood, L4Bad = OffloadFlags.RxL4ChecksumBad;

    public static TheoryData<byte, byte, ulong> Verdicts => new()
    {
        { Ipcs | Tcpcs, 0, (ulong)(IpGood | L4Good) },
        { Ipcs | Tcpcs, Ipe, (ulong)(IpBad | L4Good) },
        { Ipcs | Tcpcs, Tcpe, (ulong)(IpGood | L4Bad) },
        { Ipcs | Tcpcs, Ipe | Tcpe, (ulong)(IpBad | L4Bad) },
        { Ipcs | Tcpcs | Udpcs, Tcpe, (ulong)(IpGood | L4Bad) },   // UDP: QEMU sets TCPCS and UDPCS
        { Udpcs, 0, (ulong)L4Good },                                // UDPCS alone, as the datasheet has it
        { Ipcs, 0, (ulong)IpGood },                                 // not TCP or UDP: no L4 verdict
        { 0, 0, 0 },                                                // nothing checked: unknown
        { Ixsm | Ipcs | Tcpcs, Ipe | Tcpe, 0 },                     // "ignore checksum indication"
    };

    private static OffloadFlags ReceiveOne(E1000eRig rig, byte status, byte errors)
    {
        var frame = TcpFrames.Bytes(false, 100, E1000eRig.Host, E1000eRig.Guest);
        rig.Device.ReceiveRaw(frame, (ushort)frame.Length, (byte)(DoneEop | status), errors);
        var mbufs = new Mbuf[1];
        Assert.Equal(1, rig.Rx.Burst(mbufs));
        var flags = mbufs[0].Flags;
        Assert.Equal(frame, mbufs[0].Data.ToArray());
        mbufs[0].Free();
        return flags;
    }

    [Theory]
    [MemberData(nameof(Verdicts))]
    public void Status_and_error_bits_become_the_frames_checksum_flags(byte status, byte errors, ulong expected)
    {
        using var rig = new E1000eRig(size: 32, rxChecksums: true);
        Assert.Equal((OffloadFlags)expected, ReceiveOne(rig, status, errors));
        Assert.Equal(0UL, rig.Rx.Stats.Errors);
    }

    [Fact]
    public void Without_rx_checksums_configured_no_verdict_is_reported_whatever_the_descriptor_says()
    {
        using var rig = new E1000eRig(size: 32);
        Assert.Equal(OffloadFlags.None, ReceiveOne(rig, Ipcs | Tcpcs, Ipe | Tcpe));
    }

    [Fact]
    public void A_recycled_mbuf_carries_no_verdict_of_an_earlier_frame()
    {
        using var rig = new E1000eRig(size: 32, poolSize: 40, rxChecksums: true);
        for (int i = 0; i < 200; i++)
        {
            bool bad = i % 2 == 0;
            Assert.Equal(bad ? IpBad | L4Bad : OffloadFlags.None, ReceiveOne(rig, bad ? (byte)(Ipcs | Tcpcs) : (byte)0, bad ? (byte)(Ipe | Tcpe) : (byte)0));
        }
    }
}
