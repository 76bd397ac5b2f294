using System.Runtime.InteropServices;

namespace Pmd.Vfio.Tests;

/// <summary>The register window: offsets are checked, and slices stay inside their parent.</summary>
public sealed unsafe class MmioWindowTests
{
    [Fact]
    public void Registers_inside_the_window_are_read_and_written_and_outside_ones_are_refused()
    {
        byte* memory = (byte*)NativeMemory.AllocZeroed(64);
        try
        {
            var window = new MmioWindow(memory, 64);
            window.Write32(60, 0xAABBCCDD);
            Assert.Equal(0xAABBCCDDu, window.Read32(60));
            Assert.Equal((ushort)0xAABB, window.Read16(62));
            Assert.Equal((byte)0xDD, window.Read8(60));
            Assert.Throws<ArgumentOutOfRangeException>(() => window.Read32(64));
            Assert.Throws<ArgumentOutOfRangeException>(() => window.Write32(62, 1));     // misaligned
            Assert.Throws<ArgumentOutOfRangeException>(() => window.Read32(uint.MaxValue - 1));
            var part = window.Slice(16, 8);
            part.Write16(6, 0x1234);
            Assert.Equal((ushort)0x1234, window.Read16(22));
            Assert.Throws<ArgumentOutOfRangeException>(() => part.Read32(8));
            Assert.Throws<ArgumentOutOfRangeException>(() => window.Slice(60, 8));
            var tiny = window.Slice(0, 2);
            Assert.Throws<ArgumentOutOfRangeException>(() => tiny.Read32(0));
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }
}
