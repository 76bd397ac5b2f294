using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// testpmd's paired port topology and its stream-to-lcore spreading: port i forwards to port i^1
/// (a lone last port to itself), one stream per RX queue of each port, and the streams cut into
/// contiguous runs, one run per forwarding lcore.
/// </summary>
internal static class StreamLayout
{
    /// <summary>The default --eth-peer of port N, as testpmd's: 02:00:00:00:00:0N.</summary>
    public static MacAddress DefaultPeer(int portId) => new([0x02, 0, 0, 0, (byte)(portId >> 8), (byte)portId]);

    public static int PeerIndex(int index, int count) => (index ^ 1) < count ? index ^ 1 : index;

    public static List<ForwardStream> Build(IReadOnlyList<EthPort> ports, int rxQueues, int txQueues,
        IReadOnlyDictionary<int, MacAddress> peers, Mempool pool, int txPacketLength, bool withTemplates,
        Func<ushort, TxOffloadSettings?>? offloads = null, int[]? txSegments = null, bool udpChecksum = false)
    {
        var streams = new List<ForwardStream>();
        for (int i = 0; i < ports.Count; i++)
        {
            var rx = ports[i];
            var tx = ports[PeerIndex(i, ports.Count)];
            var peer = peers.TryGetValue(tx.PortId, out var p) ? p : DefaultPeer(tx.PortId);
            for (int q = 0; q < rxQueues; q++)
            {
                streams.Add(new ForwardStream(rx, q, tx, q % txQueues)
                {
                    TxSourceMac = tx.MacAddress,
                    TxPeerMac = peer,
                    Pool = pool,
                    // Templates are built for every mode so that tx_first can send from any of them.
                    Template = withTemplates ? new UdpFrameTemplate(txPacketLength, tx.MacAddress, peer, udpChecksum) : null,
                    TxOffload = offloads?.Invoke(tx.PortId),
                    TxSegments = txSegments,
                });
            }
        }
        return streams;
    }

    /// <summary>Cuts the streams into at most <paramref name="lcores"/>.Count runs, the first ones one longer when they do not divide evenly.</summary>
    public static List<(int Lcore, ForwardStream[] Streams)> Spread(IReadOnlyList<ForwardStream> streams, IReadOnlyList<int> lcores)
    {
        int used = Math.Min(lcores.Count, streams.Count);
        var result = new List<(int, ForwardStream[])>(used);
        int next = 0;
        for (int i = 0; i < used; i++)
        {
            int count = streams.Count / used + (i < streams.Count % used ? 1 : 0);
            result.Add((lcores[i], [.. streams.Skip(next).Take(count)]));
            next += count;
        }
        return result;
    }
}
