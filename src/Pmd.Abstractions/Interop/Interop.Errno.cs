using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EBUSY = 16;
    internal const int EINVAL = 22;
    internal const int ENOENT = 2;
    internal const int ECONNREFUSED = 111;
    internal const int EPIPE = 32;
    internal const int ECONNRESET = 104;

    [LibraryImport(Name, EntryPoint = "strerror")]
    private static partial nint StrError(int errnum);

    internal static int LastErrno => Marshal.GetLastPInvokeError();

    internal static string Describe(int errno) =>
        $"{Marshal.PtrToStringUTF8(StrError(errno)) ?? "unknown error"} (errno {errno})";

    /// <summary>An IOException that names the call that failed and the errno text.</summary>
    internal static IOException Error(string call) => Error(call, LastErrno);

    internal static IOException Error(string call, int errno) =>
        new PmdIOException($"{call}: {Describe(errno)}", errno);
}
