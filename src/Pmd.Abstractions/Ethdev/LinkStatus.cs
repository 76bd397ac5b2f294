namespace Pmd.Ethdev;

/// <summary>A port's link, as rte_eth_link reports it.</summary>
public readonly record struct LinkStatus(bool Up, uint SpeedMbps = 0, bool FullDuplex = true)
{
    public static LinkStatus Down => new(false);

    public override string ToString() => Up ? $"up, {(SpeedMbps == 0 ? "unknown speed" : SpeedMbps + " Mbps")}, {(FullDuplex ? "full" : "half")} duplex" : "down";
}
