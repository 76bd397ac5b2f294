using System.Diagnostics;
using Pmd.Ethdev;
using static Pmd.Vfio.Nics.E1000e.E1000eRegisters;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// The 82574's control-path register sequences over its BAR 0: global reset, MAC address, link,
/// receive and transmit setup, receive modes and the link interrupt. Nothing here runs per
/// packet. Waits are bounded: a device that never answers is a <see cref="TimeoutException"/>.
/// </summary>
internal sealed class E1000eController(MmioWindow registers, string device)
{
    /// <summary>The longest frame this driver lets the 82574 receive or send, CRC excluded: a 9000-byte MTU with a VLAN tag (the device takes jumbo frames up to 9 KB).</summary>
    public const int MaxFrame = 9018;

    /// <summary>Frames without LPE: 1518 bytes, 1522 with a VLAN tag (CRC excluded: 1518).</summary>
    public const int StandardMaxFrame = 1518;

    private static readonly TimeSpan ResetTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MasterDisableTimeout = TimeSpan.FromMilliseconds(80);
    private static readonly TimeSpan EepromTimeout = TimeSpan.FromMilliseconds(100);

    public MmioWindow Registers => registers;

    /// <summary>
    /// Global reset (CTRL.RST) in the order Linux's e1000e uses for the 82574: interrupts masked,
    /// receive and transmit stopped, PCIe mastering disabled and drained, 10 ms for frames in
    /// flight, the reset, the NVM auto-read awaited (at most 10 ms), and 25 ms more before the
    /// registers are used. QEMU 7.2's e1000e only reloads the MAC address on CTRL.RST, so every
    /// register this driver relies on is also put back by hand: rings, heads and tails, IVAR, and
    /// the pending causes. Leaves every interrupt masked.
    /// </summary>
    public void Reset()
    {
        registers.Write32(Imc, Interrupts.All);
        StopRxTx();
        registers.Write32(Ctrl, registers.Read32(Ctrl) | CtrlBits.GioMasterDisable);
        // QEMU reports STATUS.GIO_MASTER_ENABLE as the inverse of the bit just written; real parts drain first.
        WaitUntil(() => (registers.Read32(Status) & StatusBits.GioMasterEnable) == 0, MasterDisableTimeout);
        Thread.Sleep(10);
        registers.Write32(Ctrl, registers.Read32(Ctrl) | CtrlBits.Reset);
        Thread.Sleep(1);
        if (!WaitUntil(() => (registers.Read32(Ctrl) & CtrlBits.Reset) == 0, ResetTimeout))
            throw new TimeoutException($"{device}: the e1000e did not finish its global reset (CTRL.RST still set after {ResetTimeout.TotalMilliseconds} ms)");
        WaitUntil(() => (registers.Read32(Eecd) & EecdBits.AutoReadDone) != 0, TimeSpan.FromMilliseconds(10));
        Thread.Sleep(25);
        registers.Write32(Ctrl, registers.Read32(Ctrl) & ~CtrlBits.GioMasterDisable);
        registers.Write32(Imc, Interrupts.All);
        registers.Write32(Ivar, 0);
        // Both queues' rings, and RSS off: a start with one queue after one with two must find queue 1 idle.
        for (int q = 0; q < MaxQueues; q++)
            foreach (uint reg in (ReadOnlySpan<uint>)[Rdh, Rdt, Tdh, Tdt, Rdlen, Tdlen]) registers.Write32(OfQueue(reg, q), 0);
        registers.Write32(Mrqc, 0);
        TakeInterruptCauses();
    }

    /// <summary>The station address: RAL0/RAH0 when valid and non-zero, else words 0..2 of the EEPROM.</summary>
    public MacAddress ReadMacAddress(out bool fromEeprom)
    {
        uint low = registers.Read32(Ral0), high = registers.Read32(Rah0);
        Span<byte> mac = stackalloc byte[6];
        fromEeprom = (high & (1u << 31)) == 0 || (low == 0 && (high & 0xFFFF) == 0);
        if (fromEeprom)
        {
            for (int word = 0; word < 3; word++)
            {
                ushort value = ReadEeprom(word);
                mac[2 * word] = (byte)value;
                mac[2 * word + 1] = (byte)(value >> 8);
            }
        }
        else
        {
            for (int i = 0; i < 4; i++) mac[i] = (byte)(low >> (8 * i));
            mac[4] = (byte)high;
            mac[5] = (byte)(high >> 8);
        }
        return new MacAddress(mac);
    }

    /// <summary>Receive address 0 with its valid bit: the unicast address the device accepts without promiscuous mode.</summary>
    public void WriteMacAddress(MacAddress mac)
    {
        var b = mac.ToArray();
        registers.Write32(Ral0, b[0] | (uint)b[1] << 8 | (uint)b[2] << 16 | (uint)b[3] << 24);
        registers.Write32(Rah0, b[4] | (uint)b[5] << 8 | 1u << 31);
    }

    private ushort ReadEeprom(int word)
    {
        registers.Write32(Eerd, ((uint)word << EerdBits.AddressShift) | EerdBits.Start);
        uint value = 0;
        if (!WaitUntil(() => ((value = registers.Read32(Eerd)) & EerdBits.Done) != 0, EepromTimeout))
            throw new TimeoutException($"{device}: EEPROM read of word {word} did not complete (EERD.DONE never set)");
        return (ushort)(value >> EerdBits.DataShift);
    }

    public void ClearMulticastTable()
    {
        for (uint i = 0; i < MtaWords; i++) registers.Write32(Mta + 4 * i, 0);
    }

    /// <summary>Set Link Up with speed and duplex from auto-negotiation (copper), as for the 82574's internal PHY.</summary>
    public void SetLinkUp() =>
        registers.Write32(Ctrl, (registers.Read32(Ctrl) | CtrlBits.SetLinkUp | CtrlBits.AutoSpeedDetect) & ~(CtrlBits.Reset | CtrlBits.GioMasterDisable | CtrlBits.PhyReset));

    public LinkStatus ReadLink()
    {
        uint status = registers.Read32(Status);
        // All ones is what a read from a device that is gone returns: no link, whatever the bits say.
        if ((status & StatusBits.LinkUp) == 0 || status == uint.MaxValue) return LinkStatus.Down;
        uint speed = ((status & StatusBits.SpeedMask) >> (int)StatusBits.SpeedShift) switch { 0 => 10u, 1 => 100u, _ => 1000u };
        return new LinkStatus(true, speed, (status & StatusBits.FullDuplex) != 0);
    }

    /// <summary>Where receive ring <paramref name="queue"/> is and how big; head and tail at 0 (the driver moves the tail as it lends).</summary>
    public void SetupRxRing(int queue, ulong iova, int descriptors) => SetupRing(OfQueue(Rdbal, queue), iova, descriptors);

    /// <summary>
    /// The receive descriptor format and what the device reports, before RCTL.EN (QEMU reads RFCTL
    /// when it writes a descriptor). Extended descriptors with one queue as with two: one format to
    /// parse and validate, and the one RSS needs. With <paramref name="queues"/> = 2, RSS: the key,
    /// the redirection table spread over both queues, every hash type, and PCSD (QEMU hashes only with
    /// PCSD set; the descriptor then carries the hash in place of the IP identification). One queue:
    /// MRQC 0, every frame on queue 0 as before.
    /// </summary>
    /// <param name="checksums">RXCSUM's IPOFLD and TUOFLD bits: which checksums the device checks; 0 for none.</param>
    public void ConfigureRx(uint checksums, int queues)
    {
        bool rss = queues > 1;
        registers.Write32(Rfctl, RfctlAckDisable | RfctlExtendedDescriptors);
        registers.Write32(Rxcsum, checksums | (rss ? RxcsumBits.PacketChecksumDisable : 0));
        if (!rss)
        {
            registers.Write32(Mrqc, 0);
            return;
        }
        var key = E1000eRss.DefaultKey;
        for (int i = 0; i < RssKeyWords; i++) registers.Write32(Rssrk + 4 * (uint)i, E1000eRss.KeyWord(key, i));
        for (int i = 0; i < RetaWords; i++) registers.Write32(Reta + 4 * (uint)i, E1000eRss.RetaWord(i, queues));
        registers.Write32(Mrqc, MrqcBits.RssEnable | MrqcBits.AllHashTypes);
    }

    /// <summary>
    /// Transmit ring <paramref name="queue"/>, and its TARC's enable bit set: QEMU sends from a
    /// queue whose tail moves only with it. TARC is read, modified and written: its other bits are
    /// the device's (reset values the datasheet asks to keep).
    /// </summary>
    public void SetupTxRing(int queue, ulong iova, int descriptors)
    {
        SetupRing(OfQueue(Tdbal, queue), iova, descriptors);
        registers.Write32(OfQueue(Txdctl, queue), TxdctlRequired);
        uint tarc = OfQueue(Tarc0, queue);
        registers.Write32(tarc, registers.Read32(tarc) | TarcEnable);
        registers.Write32(Tipg, TipgCopper);
    }

    /// <summary>A ring's registers, laid out alike for RX and TX: base low and high, length in bytes, head, tail.</summary>
    private void SetupRing(uint block, ulong iova, int descriptors)
    {
        registers.Write32(block + RingBaseLow, (uint)iova);
        registers.Write32(block + RingBaseHigh, (uint)(iova >> 32));
        registers.Write32(block + RingLength, (uint)(descriptors * 16));
        registers.Write32(block + RingHead, 0);
        registers.Write32(block + RingTail, 0);
    }

    public void EnableTx() => registers.Write32(Tctl, TctlBits.Enable | TctlBits.PadShortPackets | TctlBits.Collisions);

    /// <summary>
    /// Turns receive on: broadcast accepted, CRC stripped, the buffer size of <paramref name="bufferBits"/>,
    /// long packets when <paramref name="jumbo"/>, and the promiscuous modes.
    /// </summary>
    public void EnableRx(uint bufferBits, bool jumbo, bool promiscuous, bool allMulticast) =>
        registers.Write32(Rctl, RctlBits.Enable | RctlBits.BroadcastAccept | RctlBits.StripCrc | bufferBits
            | (jumbo ? RctlBits.LongPacket : 0)
            | (promiscuous ? RctlBits.UnicastPromiscuous | RctlBits.MulticastPromiscuous : 0)
            | (allMulticast ? RctlBits.MulticastPromiscuous : 0));

    /// <summary>Changes promiscuous, all-multicast and long-packet acceptance of a running receiver.</summary>
    public void UpdateRxModes(bool jumbo, bool promiscuous, bool allMulticast)
    {
        uint rctl = registers.Read32(Rctl) & ~(RctlBits.LongPacket | RctlBits.UnicastPromiscuous | RctlBits.MulticastPromiscuous);
        if (jumbo) rctl |= RctlBits.LongPacket;
        if (promiscuous) rctl |= RctlBits.UnicastPromiscuous | RctlBits.MulticastPromiscuous;
        if (allMulticast) rctl |= RctlBits.MulticastPromiscuous;
        registers.Write32(Rctl, rctl);
    }

    /// <summary>
    /// Stops all DMA without a reset, for a stop that must be quick (a release the hypervisor is
    /// waiting for): receive and transmit off, then PCIe mastering disabled and drained, after which
    /// the device touches no host memory. The next start resets the device.
    /// </summary>
    public void Quiesce()
    {
        registers.Write32(Imc, Interrupts.All);
        StopRxTx();
        registers.Write32(Ctrl, registers.Read32(Ctrl) | CtrlBits.GioMasterDisable);
        WaitUntil(() => (registers.Read32(Status) & StatusBits.GioMasterEnable) == 0, MasterDisableTimeout);
    }

    /// <summary>Stops receive and transmit; the device finishes the frame it is on. Flushed.</summary>
    public void StopRxTx()
    {
        registers.Write32(Rctl, 0);
        registers.Write32(Tctl, TctlBits.PadShortPackets);
        registers.Flush(Status);
    }

    /// <summary>
    /// Link changes signal MSI-X <paramref name="vector"/>: with MSI-X the 82574 reports LSC as an
    /// "other" cause, routed by IVAR; the queues get no vector (they are polled).
    /// </summary>
    public void EnableLinkInterrupt(int vector)
    {
        registers.Write32(Ivar, ((uint)vector | IvarBits.Valid) << IvarBits.OtherShift);
        registers.Write32(Eitr0 + 4 * (uint)vector, LinkVectorThrottle);
        registers.Write32(Ims, Interrupts.LinkStatusChange | Interrupts.Other);
        registers.Flush(Status);
    }

    /// <summary>
    /// Reads and clears the pending interrupt causes. Written back as ones: with MSI-X enabled a
    /// read alone does not clear ICR, and a cause left set is never signalled again.
    /// </summary>
    public uint TakeInterruptCauses()
    {
        uint causes = registers.Read32(Icr);
        if (causes != 0) registers.Write32(Icr, causes);
        return causes;
    }

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(1);
        }
        return true;
    }
}
