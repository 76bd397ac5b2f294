using Pmd.Devargs;

namespace Pmd.Vfio;

/// <summary>
/// One PCI device as sysfs describes it. <paramref name="Driver"/> is null when no driver is bound;
/// <paramref name="IommuGroup"/> is null when the device has no IOMMU group (no IOMMU, and not a
/// noiommu vfio device); <paramref name="NoIommuGroup"/> marks vfio's fake noiommu groups.
/// </summary>
public sealed record PciDeviceInfo(PciAddress Address, ushort VendorId, ushort DeviceId, uint ClassCode, string? Driver, int? IommuGroup, bool NoIommuGroup);
