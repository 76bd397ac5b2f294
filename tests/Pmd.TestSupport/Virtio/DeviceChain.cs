using Pmd.VirtioNet.Rings;

namespace Pmd.TestSupport.Virtio;

/// <summary>
/// One chain a device model took from the driver: its id and its buffers. The buffers array is the
/// model's own and is reused by the next pop, so nothing is allocated per chain.
/// </summary>
internal readonly struct DeviceChain(ushort id, VirtqBuffer[] buffers, bool[] writable, int count)
{
    public ushort Id => id;
    public int Count => count;
    public VirtqBuffer this[int i] => buffers[i];
    public bool IsWritable(int i) => writable[i];
    public uint TotalLength
    {
        get
        {
            uint total = 0;
            for (int i = 0; i < count; i++) total += buffers[i].Length;
            return total;
        }
    }
}
