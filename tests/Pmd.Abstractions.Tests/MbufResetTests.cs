using Pmd.Memory;

namespace Pmd.Abstractions.Tests;

/// <summary>Mbuf.Reset's one-store path must leave exactly the bytes the field-by-field one does.</summary>
public sealed unsafe class MbufResetTests
{
    [Fact]
    public void The_vector_reset_writes_the_same_header_bytes_as_the_scalar_one()
    {
        const int Size = MbufHeader.Size;
        byte* vector = stackalloc byte[Size];
        byte* scalar = stackalloc byte[Size];
        var random = new Random(7);
        for (int round = 0; round < 100; round++)
        {
            // Garbage everywhere, then the fields the pool sets once and Reset must keep.
            random.NextBytes(new Span<byte>(vector, Size));
            var h = (MbufHeader*)vector;
            h->RefCnt = 1;
            new Span<byte>(vector, Size).CopyTo(new Span<byte>(scalar, Size));
            Mbuf.Reset((MbufHeader*)vector);
            Mbuf.ResetScalar((MbufHeader*)scalar);
            Assert.Equal(new Span<byte>(scalar, Size).ToArray(), new Span<byte>(vector, Size).ToArray());
            Assert.Equal(h->Headroom, h->DataOff);
            Assert.Equal((ushort)1, h->NbSegs);
            Assert.Equal(ushort.MaxValue, h->Port);
        }
    }
}
