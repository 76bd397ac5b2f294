namespace Pmd.Vfio.Nics.E1000e;

/// <summary>Software counters of one queue, written only by the thread that polls it.</summary>
internal struct E1000eQueueStats
{
    public ulong Packets;
    public ulong Bytes;
    /// <summary>RX: frames the device flagged with an error (CRC, symbol, sequence, carrier, data). TX: packets that can never be sent.</summary>
    public ulong Errors;
    /// <summary>RX: descriptors with a length of 0 or more than the buffer lent, and frames longer than the port takes.</summary>
    public ulong BadLength;
    /// <summary>RX: slots the device marked done although they were not lent to it.</summary>
    public ulong UnlentDone;
    /// <summary>RX: refills that found the pool empty.</summary>
    public ulong NoMbuf;
    /// <summary>Tail register writes (each one is an MMIO write, a VM exit under a hypervisor).</summary>
    public ulong TailWrites;
    /// <summary>TX: IPv6 TSO frames cut into segments in software.</summary>
    public ulong SoftwareTso;
}
