namespace Pmd;

/// <summary>
/// The one base of what Pmd throws when the system or a device fails it: a failed system call
/// (with its <see cref="Errno"/>), and the subtypes of the drivers (VFIO's VfioException,
/// vhost-user's VhostUserException), so that one catch takes every device failure. An
/// IOException, so that code that already catches I/O failures keeps catching these. A malformed
/// devargs string is the caller's mistake, not a device's: DevArgsException is an
/// ArgumentException, as .NET keeps usage errors apart from failures at run time.
/// </summary>
public class PmdIOException : IOException
{
    public PmdIOException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The errno of the system call that failed; 0 when the failure is not a system call's.</summary>
    public int Errno { get; }
}
