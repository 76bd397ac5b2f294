namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// A TCP/IP context descriptor (82574 datasheet 7.2.10.2) as the driver keeps it in private
/// memory: the device holds one context per queue and applies it to every data descriptor that
/// asks for an offload until another replaces it, so one equal to the last sent is not sent again.
/// </summary>
internal readonly record struct E1000eTxContext(ulong Offsets, uint LengthAndCommand, uint Segmentation)
{
    /// <param name="ipStart">IPCSS: where the IP header starts.</param>
    /// <param name="ipField">IPCSO: where its checksum goes (0 for IPv6, which has none).</param>
    /// <param name="ipEnd">IPCSE: the IP header's last byte, inclusive (0 for IPv6).</param>
    /// <param name="l4Start">TUCSS: where the L4 checksum starts.</param>
    /// <param name="l4Field">TUCSO: where it goes.</param>
    /// <param name="command">TUCMD: TCP, IP (v4), TSE; DEXT is added.</param>
    /// <param name="payload">PAYLEN: for TSO, the bytes after the headers, which the device cuts.</param>
    /// <param name="headerLength">HDRLEN: for TSO, the headers each segment repeats.</param>
    /// <param name="mss">For TSO, the payload bytes of each segment.</param>
    public static E1000eTxContext Create(int ipStart, int ipField, int ipEnd, int l4Start, int l4Field, byte command, int payload = 0, int headerLength = 0, int mss = 0) =>
        new((ulong)(byte)ipStart | ((ulong)(byte)ipField << 8) | ((ulong)(ushort)ipEnd << 16)
              | ((ulong)(byte)l4Start << 32) | ((ulong)(byte)l4Field << 40),   // TUCSE 0: to the end of the packet
            ((uint)payload & 0xF_FFFF) | ((uint)(command | E1000eTxDescriptor.CommandExtension) << 24),   // DTYP 0000: context
            ((uint)(byte)headerLength << 8) | ((uint)(ushort)mss << 16));
}
