using System.Buffers.Binary;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>How many of the frames sent have a bad IPv4 header checksum and a bad TCP one: what a device's RX verdicts must count.</summary>
public sealed class ChecksumTally
{
    public int BadIp { get; private set; }

    public int BadL4 { get; private set; }

    public void Count(byte[] f, bool ipv6 = false)
    {
        if (!ipv6 && InternetChecksum.Compute(f.AsSpan(TcpFrames.EthernetLength, TcpFrames.Ipv4Length)) != 0) BadIp++;
        if (BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(TcpFrames.HeaderLength(ipv6) - 4)) != TcpFrames.TcpChecksum(f, ipv6)) BadL4++;
    }
}
