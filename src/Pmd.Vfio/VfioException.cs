namespace Pmd.Vfio;

/// <summary>A VFIO or PCI sysfs failure; the message names the device and the cause, and usually the fix.</summary>
public sealed class VfioException(string message) : PmdIOException(message);
