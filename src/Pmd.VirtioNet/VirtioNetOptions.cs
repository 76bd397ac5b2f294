namespace Pmd.VirtioNet;

/// <summary>Driver-side choices for a virtio-net port (the devargs of net_virtio_user map onto these).</summary>
public sealed class VirtioNetOptions
{
    /// <summary>Ring size used when the port configuration asks for 0 descriptors. Default 256, as DPDK's virtio-user.</summary>
    public int QueueSize { get; init; } = VirtioDevArgs.DefaultQueueSize;

    /// <summary>Use packed rings when the device offers RING_PACKED (packed_vq=1). Default false.</summary>
    public bool PackedRing { get; init; }

    /// <summary>Negotiate IN_ORDER when offered (in_order=1). Default true, as in DPDK.</summary>
    public bool InOrder { get; init; } = true;

    /// <summary>Negotiate MRG_RXBUF when offered (mrg_rxbuf=1). Default true, as in DPDK.</summary>
    public bool MergeableRxBuffers { get; init; } = true;

    /// <summary>Negotiate INDIRECT_DESC when offered, for chained TX packets. Default true.</summary>
    public bool IndirectDescriptors { get; init; } = true;

    /// <summary>Negotiate EVENT_IDX when offered. Default true.</summary>
    public bool EventIndex { get; init; } = true;

    /// <summary>Negotiate the checksum offloads (CSUM, GUEST_CSUM) when offered. Default true.</summary>
    public bool Checksum { get; init; } = true;

    /// <summary>Negotiate TSO and large receive (HOST_TSO4/6, GUEST_TSO4/6) when offered (tso=1). Default true.</summary>
    public bool Tso { get; init; } = true;

    /// <summary>
    /// The rings' vectorized path (vectorized=1): descriptors in one 16-byte store each, published
    /// once per batch, and IN_ORDER TX completions a batch at a time. False forces the scalar path;
    /// null (the default) takes the vectorized one when the CPU has AVX. True on a CPU without AVX
    /// fails the port's configure with the CPU's description.
    /// </summary>
    public bool? Vectorized { get; init; }

    /// <summary>Where the port logs: the drivers pass their registry's; null means <see cref="PmdLogging.Factory"/>.</summary>
    internal Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }
}
