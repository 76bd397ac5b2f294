using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// What an lcore does with one stream per turn of its loop: one virtual call per burst. Engines
/// hold no per-stream state (that lives in <see cref="ForwardStream"/>), allocate nothing, take no
/// locks and never log, so the loop runs at the speed of the rings (unless "set verbose" asks
/// for every packet to be printed: <see cref="PacketDump"/>).
/// </summary>
internal abstract class ForwardEngine
{
    public abstract ForwardMode Mode { get; }

    /// <summary>Whether streams need a frame template and a pool (the generating engines).</summary>
    public virtual bool Generates => false;

    public abstract void ForwardBurst(ForwardStream stream, Span<Mbuf> burst);

    /// <summary>Sends <paramref name="packets"/> on the stream's TX queue; what the queue does not take is dropped and counted.</summary>
    protected static void Transmit(ForwardStream stream, Span<Mbuf> packets)
    {
        if (PacketDump.DumpsTx(PacketDump.Level) && packets.Length > 0) PacketDump.Sending(stream.TxPortId, stream.TxQueue, packets);
        int sent = stream.TxPort.TxBurst(stream.TxQueue, packets);
        stream.TxPackets += (ulong)sent;
        if (sent < packets.Length)
        {
            stream.TxDropped += (ulong)(packets.Length - sent);
            Mbuf.Free(packets[sent..]);
        }
    }

    /// <summary>Receives a burst into <paramref name="burst"/> and counts it; returns how many.</summary>
    protected static int Receive(ForwardStream stream, Span<Mbuf> burst)
    {
        int n = stream.RxPort.RxBurst(stream.RxQueue, burst);
        stream.RxPackets += (ulong)n;
        if (n > 0 && PacketDump.DumpsRx(PacketDump.Level)) PacketDump.Received(stream.RxPortId, stream.RxQueue, burst[..n]);
        return n;
    }

    public static ForwardEngine For(ForwardMode mode) => mode switch
    {
        ForwardMode.Io => new IoEngine(),
        ForwardMode.Mac => new MacEngine(),
        ForwardMode.MacSwap => new MacSwapEngine(),
        ForwardMode.RxOnly => new RxOnlyEngine(),
        ForwardMode.TxOnly => new TxOnlyEngine(),
        ForwardMode.FlowGen => new FlowGenEngine(),
        ForwardMode.IcmpEcho => new IcmpEchoEngine(),
        ForwardMode.Csum => new CsumEngine(),
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };
}
