using System.Buffers.Binary;
using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// flowgen: like txonly, but each frame goes to the next of <see cref="Flows"/> destination
/// addresses (198.18.0.2 upwards), so that receivers spreading flows by hash see many of them.
/// Whatever comes back is received and freed, as testpmd's flowgen does.
/// </summary>
internal sealed class FlowGenEngine : ForwardEngine
{
    public const int Flows = 1024;

    public override ForwardMode Mode => ForwardMode.FlowGen;

    public override bool Generates => true;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        int received = Receive(stream, burst);
        if (received > 0) Mbuf.Free(burst[..received]);

        var template = stream.Template!;
        var frame = template.Frame;
        int n = stream.Pool!.Alloc(burst);
        int flow = stream.NextFlow;
        for (int i = 0; i < n; i++)
        {
            var data = burst[i].Append(frame.Length);
            frame.CopyTo(data);
            ushort destinationLow = (ushort)(UdpFrameTemplate.DestinationIp + flow);
            BinaryPrimitives.WriteUInt16BigEndian(data[UdpFrameTemplate.IpDestinationLowOffset..], destinationLow);
            BinaryPrimitives.WriteUInt16BigEndian(data[UdpFrameTemplate.IpChecksumOffset..], template.ChecksumFor(destinationLow));
            flow = flow + 1 == Flows ? 0 : flow + 1;
        }
        stream.NextFlow = flow;
        if (n > 0) Transmit(stream, burst[..n]);
    }
}
