namespace Pmd.Devargs;

/// <summary>A device string that cannot be used; the message names the device and the problem.</summary>
public sealed class DevArgsException(string message) : ArgumentException(message);
