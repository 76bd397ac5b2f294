using Microsoft.Win32.SafeHandles;

namespace Pmd.Interop;

/// <summary>Owns one file descriptor and closes it exactly once.</summary>
internal sealed class SafeFdHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeFdHandle() : base(ownsHandle: true) { }

    public SafeFdHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The raw descriptor, for passing to a system call while this handle is alive.</summary>
    public int Fd => (int)handle;

    /// <summary>Wraps a syscall result: a negative value becomes an exception naming the call.</summary>
    internal static SafeFdHandle FromResult(int fd, string call) =>
        fd >= 0 ? new SafeFdHandle(fd) : throw Libc.Error(call);

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
