namespace Pmd.Vm.Tests;

/// <summary>
/// The host's end of one guest NIC's wire: what is sent here arrives on the NIC's receive side,
/// and what the guest transmits arrives here. A UDP netdev (<see cref="FrameChannel"/>) or a tap
/// on a host bridge (<see cref="TapWire"/>).
/// </summary>
public interface IGuestWire
{
    /// <summary>Frames sent towards the guest so far.</summary>
    long Sent { get; }

    /// <summary>Frames that arrived from the guest so far.</summary>
    long Received { get; }

    void Send(ReadOnlySpan<byte> frame);

    /// <summary>The next frame from the guest, or null when none arrives within <paramref name="timeout"/>.</summary>
    Task<byte[]?> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken = default);
}
