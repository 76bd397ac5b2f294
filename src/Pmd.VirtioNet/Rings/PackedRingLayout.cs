namespace Pmd.VirtioNet.Rings;

/// <summary>
/// Where a packed ring's parts sit in one block: the descriptor ring, then the driver
/// event-suppression area, then the device's on its own cache line.
/// </summary>
internal readonly record struct PackedRingLayout(int Size, int DescriptorOffset, int DriverEventOffset, int DeviceEventOffset, int TotalBytes)
{
    public const int MaxSize = 32768;

    public static PackedRingLayout For(int size)
    {
        // Packed rings need not be powers of two, but Pmd's devargs and queue sizes are.
        if (size < 1 || size > MaxSize)
            throw new ArgumentOutOfRangeException(nameof(size), $"a packed ring size must be from 1 to {MaxSize}");
        int desc = 0;
        int driver = 16 * size;
        int device = driver + 64;
        return new PackedRingLayout(size, desc, driver, device, device + 64);
    }
}
