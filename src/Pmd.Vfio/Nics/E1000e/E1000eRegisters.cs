namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// Register offsets in BAR 0 and the bits this driver uses, from the Intel 82574 GbE Controller
/// datasheet (chapter 10, "Device Registers").
/// </summary>
internal static class E1000eRegisters
{
    public const uint Ctrl = 0x0000, Status = 0x0008, Eecd = 0x0010, Eerd = 0x0014, CtrlExt = 0x0018;
    public const uint Icr = 0x00C0, Ims = 0x00D0, Imc = 0x00D8, Ivar = 0x00E4, Eitr0 = 0x00E8;
    public const uint Rctl = 0x0100, Tctl = 0x0400, Tipg = 0x0410;
    public const uint Rdbal = 0x2800, Rdlen = 0x2808, Rdh = 0x2810, Rdt = 0x2818;
    public const uint Tdbal = 0x3800, Tdlen = 0x3808, Tdh = 0x3810, Tdt = 0x3818, Txdctl = 0x3828, Tarc0 = 0x3840;
    /// <summary>Queue 1's ring registers are queue 0's plus this (RDBAL1 0x2900, TDT1 0x3918, TARC1 0x3940...).</summary>
    public const uint QueueStride = 0x100;
    /// <summary>The queues the 82574 has each way.</summary>
    public const int MaxQueues = 2;
    /// <summary>Offsets inside a ring's register block (RDBAL or TDBAL).</summary>
    public const uint RingBaseLow = 0x00, RingBaseHigh = 0x04, RingLength = 0x08, RingHead = 0x10, RingTail = 0x18;
    public const uint Rxcsum = 0x5000, Rfctl = 0x5008, Mta = 0x5200, Ral0 = 0x5400, Rah0 = 0x5404;
    /// <summary>RSS: multiple receive queues command, the redirection table (32 dwords), the Toeplitz key (10 dwords).</summary>
    public const uint Mrqc = 0x5818, Reta = 0x5C00, Rssrk = 0x5C80;
    public const int RetaWords = 32, RssKeyWords = 10;

    /// <summary>Queue <paramref name="queue"/>'s copy of a per-queue register given as queue 0's.</summary>
    public static uint OfQueue(uint register, int queue) => register + (uint)queue * QueueStride;

    /// <summary>Multicast table: 128 words.</summary>
    public const int MtaWords = 128;

    /// <summary>The statistics block, 0x4000..0x4124: every counter clears when read.</summary>
    public const uint StatsStart = 0x4000, StatsEnd = 0x4128;

    public static class CtrlBits
    {
        public const uint FullDuplex = 1u << 0, GioMasterDisable = 1u << 2, AutoSpeedDetect = 1u << 5;
        public const uint SetLinkUp = 1u << 6, Reset = 1u << 26, PhyReset = 1u << 31;
    }

    public static class StatusBits
    {
        public const uint FullDuplex = 1u << 0, LinkUp = 1u << 1, SpeedShift = 6, SpeedMask = 3u << 6;
        public const uint GioMasterEnable = 1u << 19;
    }

    public static class EecdBits
    {
        /// <summary>Set when the device finished loading its configuration from the NVM after a reset.</summary>
        public const uint AutoReadDone = 1u << 9;
    }

    /// <summary>EEPROM Read (EERD): start, done, the word address from bit 2 and the data from bit 16.</summary>
    public static class EerdBits
    {
        public const uint Start = 1u << 0, Done = 1u << 1;
        public const int AddressShift = 2, DataShift = 16;
    }

    /// <summary>Interrupt causes in ICR/IMS/IMC.</summary>
    public static class Interrupts
    {
        public const uint LinkStatusChange = 1u << 2;
        /// <summary>With MSI-X, causes other than the queues' (LSC among them) are signalled as "other".</summary>
        public const uint Other = 1u << 24;
        public const uint All = 0xFFFF_FFFF;
    }

    /// <summary>RFCTL: no "ACK received" interrupt cause for every TCP ACK (it would fire the "other" vector).</summary>
    public const uint RfctlAckDisable = 1u << 12;

    /// <summary>RFCTL.EXTEN: receive descriptors are extended ones (QEMU hashes for RSS only with these).</summary>
    public const uint RfctlExtendedDescriptors = 1u << 15;

    /// <summary>
    /// MRQC: RSS on (bits 1:0 = 01) and the hash types, bit 16 TCP/IPv4, 17 IPv4, 18 TCP/IPv6 (also
    /// with extension headers), 19 IPv6 with extension headers, 20 IPv6. The 82574 has no UDP type:
    /// UDP is hashed as IP (addresses only).
    /// </summary>
    public static class MrqcBits
    {
        public const uint RssEnable = 0x1;
        public const uint TcpIpv4 = 1u << 16, Ipv4 = 1u << 17, TcpIpv6 = 1u << 18, Ipv6Extensions = 1u << 19, Ipv6 = 1u << 20;
        public const uint AllHashTypes = TcpIpv4 | Ipv4 | TcpIpv6 | Ipv6Extensions | Ipv6;
    }

    /// <summary>TARC.ENABLE: QEMU's e1000e sends from a queue when its tail moves only with this set (its reset value has it).</summary>
    public const uint TarcEnable = 1u << 10;

    /// <summary>EITR for the link vector, in 256 ns units: at most one link interrupt per ~4 ms, whatever else lands in "other".</summary>
    public const uint LinkVectorThrottle = 0x4000;

    /// <summary>IVAR: a 4-bit field per cause (3 bits of vector and a valid bit); "other" is bits 19:16.</summary>
    public static class IvarBits
    {
        public const int OtherShift = 16;
        public const uint Valid = 0x8;
    }

    public static class RctlBits
    {
        public const uint Enable = 1u << 1, UnicastPromiscuous = 1u << 3, MulticastPromiscuous = 1u << 4;
        public const uint LongPacket = 1u << 5, BroadcastAccept = 1u << 15, BufferSizeShift = 16;
        public const uint BufferSizeExtension = 1u << 25, StripCrc = 1u << 26;
    }

    /// <summary>RXCSUM: check IPv4 header checksums (IPOFLD) and TCP/UDP checksums (TUOFLD), reported in the RX status and error bits.</summary>
    public static class RxcsumBits
    {
        public const uint IpOffload = 1u << 8, L4Offload = 1u << 9;
        /// <summary>PCSD: descriptors carry the RSS hash instead of the IP identification and packet checksum; RSS needs it.</summary>
        public const uint PacketChecksumDisable = 1u << 13;
    }

    public static class TctlBits
    {
        public const uint Enable = 1u << 1, PadShortPackets = 1u << 3;
        /// <summary>Collision threshold 15 and collision distance 63 (full duplex), the datasheet's recommended values.</summary>
        public const uint Collisions = (0x0Fu << 4) | (0x3Fu << 12);
    }

    /// <summary>Inter-packet gap for copper: IPGT 8, IPGR1 8, IPGR2 6 (the datasheet's values for 802.3).</summary>
    public const uint TipgCopper = 8u | (8u << 10) | (6u << 20);

    /// <summary>TXDCTL: bit 22 must be written as 1 on the 82574; GRAN (bit 24) counts thresholds in descriptors.</summary>
    public const uint TxdctlRequired = (1u << 22) | (1u << 24);
}
