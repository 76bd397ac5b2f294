using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;

namespace Pmd.Vfio.Tests;

/// <summary>
/// The tests' Toeplitz hash and RSS model against the verification suite of Microsoft's RSS
/// specification (the default key): the host-side expectations of the RSS tests rest on these.
/// </summary>
public sealed class ToeplitzTests
{
    public static TheoryData<string, ushort, string, ushort, uint, uint> Vectors => new()
    {
        // destination, destination port, source, source port: IPv4 hash, TCP/IPv4 hash
        { "161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178 },
        { "65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea },
        { "12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a },
        { "209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f },
        { "202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2 },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void The_hash_of_the_specifications_vectors(string destination, ushort destinationPort, string source, ushort sourcePort, uint ipv4, uint tcp)
    {
        byte[] s = System.Net.IPAddress.Parse(source).GetAddressBytes(), d = System.Net.IPAddress.Parse(destination).GetAddressBytes();
        byte[] input = [.. s, .. d, (byte)(sourcePort >> 8), (byte)sourcePort, (byte)(destinationPort >> 8), (byte)destinationPort];
        Assert.Equal(ipv4, Toeplitz.Hash(Toeplitz.DefaultKey, input.AsSpan(0, 8)));
        Assert.Equal(tcp, Toeplitz.Hash(Toeplitz.DefaultKey, input));

        // The same through the frame parser the RSS tests use: a TCP/IPv4 frame, and the same as UDP (hashed as IPv4).
        var frame = TcpFrames.Bytes(false, 10, E1000eRig.Host, E1000eRig.Guest);
        s.CopyTo(frame, 14 + 12);
        d.CopyTo(frame, 14 + 16);
        input.AsSpan(8).CopyTo(frame.AsSpan(34));
        const uint all = E1000eRssModel.MrqcTcpIpv4 | E1000eRssModel.MrqcIpv4;
        Assert.Equal((1u, tcp), E1000eRssModel.Of(frame, all, Toeplitz.DefaultKey));
        frame[14 + 9] = 17;
        Assert.Equal((2u, ipv4), E1000eRssModel.Of(frame, all, Toeplitz.DefaultKey));
    }
}
