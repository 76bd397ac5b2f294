using Microsoft.Extensions.Logging;
using Pmd.Memory;
using Pmd.Threading;
using Pmd.Vfio;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Transport.VhostUser;
using static Pmd.VirtioNet.Net.VirtioFeatures;

namespace Pmd.VirtioNet.Transport.Pci;

/// <summary>
/// Modern virtio-pci (VIRTIO 1.x 4.1) over VFIO: the capability walk, the status and feature
/// handshake, queue setup through the common config, notifications by MMIO writes, an MSI-X
/// vector for config changes (link state), and VFIO's device request as an event. The rings and
/// VirtioNetPort are the same as over vhost-user.
/// </summary>
internal sealed class VirtioPciTransport : VirtioTransport
{
    private static readonly TimeSpan ResetTimeout = TimeSpan.FromSeconds(2);
    private readonly VfioPciDevice _device;
    private readonly VirtioPciCapabilities _caps;
    private readonly VirtioPciCommonConfig _common;
    private readonly MmioWindow _deviceConfig;
    private readonly MmioWindow _isr;
    private readonly MmioWindow _notify;
    private readonly ILogger _log;
    private uint[] _notifyOffsets = [];
    private PciInterrupts? _interrupts;
    private bool _configVectorWired;
    private ulong _deviceFeatures;
    private ushort _maxQueueSize;
    private volatile bool _connected;

    public VirtioPciTransport(VfioPciDevice device, ILoggerFactory? loggerFactory = null)
    {
        _log = (loggerFactory ?? PmdLogging.Factory).CreateLogger("Pmd.VirtioNet.Pci");
        _device = device;
        _caps = VirtioPciCapabilities.Read(device);
        _common = new VirtioPciCommonConfig(Map(device, _caps.Common));
        _isr = Map(device, _caps.Isr);
        _notify = Map(device, _caps.Notify);
        _deviceConfig = _caps.Device is { } d ? Map(device, d) : default;
        device.EnableBusMaster();
    }

    private static MmioWindow Map(VfioPciDevice device, VirtioPciRegion region) =>
        device.MapBar(region.Bar).Slice(region.Offset, region.Length);

    public override string Description => $"virtio-pci {_device.Address} via VFIO";

    public override bool IsConnected => _connected;

    public override IovaMode IovaMode => _device.IovaMode;

    public override int MaxQueueSize => _maxQueueSize == 0 ? VirtioDevArgs.DefaultQueueSize : _maxQueueSize;

    public override bool EmulatesControlQueue => false;

    public override ulong DeviceFeatures => _deviceFeatures;

    public override ulong TransportFeatures => Bit(AccessPlatform);

    public override void Connect()
    {
        Reset();
        _common.Status = DeviceStatus.Acknowledge;
        _common.Status = DeviceStatus.Acknowledge | DeviceStatus.Driver;
        _deviceFeatures = _common.ReadDeviceFeatures();
        _common.Select(0);
        _maxQueueSize = _common.SelectedQueueSize;
        _connected = true;
        VirtioNetLog.PciDeviceFeatures(_log, _device.Address.ToString(), _deviceFeatures, _common.QueueCount, _maxQueueSize);
    }

    public override void SetFeatures(ulong features)
    {
        if (!Has(features, Version1)) throw new NotSupportedException($"{_device.Address}: VERSION_1 must be negotiated");
        _common.WriteDriverFeatures(features);
        byte status = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk;
        _common.Status = status;
        if ((_common.Status & DeviceStatus.FeaturesOk) == 0)
            throw new NotSupportedException($"{_device.Address}: the device refused features 0x{features:x} (FEATURES_OK did not stick)");
        SetupInterrupts();
    }

    public override VirtioNetConfig ReadConfig()
    {
        if (_deviceConfig.IsEmpty) return default;
        // Re-read until the generation is stable, so the fields belong together (4.1.4.3.1).
        while (true)
        {
            byte generation = _common.ConfigGeneration;
            byte[]? mac = _deviceConfig.Length >= VirtioNetConfig.MacOffset + 6 ? new byte[6] : null;
            for (int i = 0; mac is not null && i < 6; i++) mac[i] = _deviceConfig.Read8((uint)(VirtioNetConfig.MacOffset + i));
            ushort status = ReadConfig16(VirtioNetConfig.StatusOffset);
            ushort pairs = ReadConfig16(VirtioNetConfig.MaxQueuePairsOffset);
            ushort mtu = ReadConfig16(VirtioNetConfig.MtuOffset);
            if (generation != _common.ConfigGeneration) continue;
            return new VirtioNetConfig(
                mac,
                Has(_deviceFeatures, Status) ? status : null,
                Has(_deviceFeatures, Mq) ? pairs : null,
                Has(_deviceFeatures, Net.VirtioFeatures.Mtu) ? mtu : null);
        }
    }

    /// <summary>A device-config field, or 0 when the device's config structure is too short to hold it.</summary>
    private ushort ReadConfig16(int offset) => offset + 2 <= _deviceConfig.Length ? _deviceConfig.Read16((uint)offset) : (ushort)0;

    public override void SetupQueue(QueueSetup queue)
    {
        if (queue.Index >= _common.QueueCount)
            throw new ArgumentOutOfRangeException(nameof(queue), $"{_device.Address}: queue {queue.Index} does not exist (the device has {_common.QueueCount})");
        _common.Select(queue.Index);
        ushort max = _common.SelectedQueueSize;
        if (max == 0) throw new InvalidOperationException($"{_device.Address}: queue {queue.Index} is not available");
        if (queue.Size > max) throw new ArgumentOutOfRangeException(nameof(queue), $"{_device.Address}: queue {queue.Index} takes at most {max} entries, {queue.Size} asked");
        _common.SelectedQueueSize = (ushort)queue.Size;
        // Queues are polled: no vector, so the device never interrupts for them.
        _common.SetSelectedQueueVector(VirtioPciCommonConfig.NoVector);
        _common.SetSelectedQueueAddresses(queue.Descriptors, queue.DriverArea, queue.DeviceArea);
        ushort offset = _common.SelectedNotifyOffset;
        ulong notifyOffset = (ulong)offset * _caps.NotifyMultiplier;
        if (notifyOffset + 2 > _caps.Notify.Length)
            throw new InvalidDataException($"{_device.Address}: queue {queue.Index} notify offset {notifyOffset} is outside the notify structure");
        if (_notifyOffsets.Length <= queue.Index) Array.Resize(ref _notifyOffsets, queue.Index + 1);
        _notifyOffsets[queue.Index] = (uint)notifyOffset;
        _common.SelectedQueueEnabled = true;
    }

    /// <summary>Virtio-pci queues are enabled at setup; pairs are switched with the control queue's MQ command.</summary>
    public override void EnableQueue(int index, bool enable) { }

    public override void DriverOk() =>
        _common.Status = DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk;

    public override void StopQueues(int queueCount)
    {
        // A reset stops every queue at once; afterwards the driver owns all buffers again.
        Reset();
        _notifyOffsets = [];
        Connect();
    }

    public override void Notify(int index)
    {
        // A queue that was never set up has no entry; its offset was checked against the window at setup.
        var offsets = _notifyOffsets;
        if ((uint)index < (uint)offsets.Length) _notify.Write16(offsets[index], (ushort)index);
    }

    public override void AttachControl(ControlThread control)
    {
        _interrupts = new PciInterrupts(_device, control);
        // No log line here: the release waits behind this handler (the event itself is reported).
        _interrupts.WireDeviceRequest(() => Raise(TransportEvent.DeviceRequest));
    }

    private void SetupInterrupts()
    {
        if (_interrupts is null || _device.MsixVectorCount < 1) return;
        // Vector 0 carries config changes (link status); the queues have none. After a reset the
        // device forgets its vector; the eventfd and its watch stay.
        if (!_configVectorWired)
        {
            _interrupts.WireMsix(() => Raise(TransportEvent.ConfigChanged));
            _configVectorWired = true;
        }
        if (_common.SetConfigVector(0) == VirtioPciCommonConfig.NoVector)
            VirtioNetLog.PciNoConfigVector(_log, _device.Address.ToString());
    }

    private void Reset()
    {
        _common.Status = 0;
        var deadline = DateTime.UtcNow + ResetTimeout;
        while (_common.Status != 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{_device.Address}: the device did not finish its reset");
            Thread.Sleep(1);
        }
        _ = _isr.Read8(0);
    }

    public override void Dispose()
    {
        _connected = false;
        try { _common.Status = 0; } catch (Exception) { }
        // Closing the device fd is what lets the hypervisor complete an unplug: before anything slower.
        _device.Dispose();
        _interrupts?.Dispose();
    }
}
