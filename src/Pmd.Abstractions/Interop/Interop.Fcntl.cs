using System.Runtime.InteropServices;

namespace Pmd.Interop;

internal static partial class Libc
{
    internal const int O_RDONLY = 0;
    internal const int O_RDWR = 2;
    internal const int O_CLOEXEC = 0x80000;

    [LibraryImport(Name, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    /// <summary>Opens <paramref name="path"/> into a handle, or throws naming the path and errno.</summary>
    internal static SafeFdHandle OpenHandle(string path, int flags) =>
        SafeFdHandle.FromResult(Open(path, flags | O_CLOEXEC), $"open {path}");
}
