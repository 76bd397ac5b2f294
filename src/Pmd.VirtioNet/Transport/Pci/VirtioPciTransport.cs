using Microsoft.Extensions.Logging;
using Pmd.Hotplug;
using Pmd.Memory;
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
internal sealed unsafe class VirtioPciTransport : VirtioTransport
{
    private static readonly TimeSpan ResetTimeout = TimeSpan.FromSeconds(2);
    private readonly VfioPciDevice _device;
    private readonly VirtioPciCapabilities _caps;
    private readonly VirtioPciCommonConfig _common;
    private readonly byte* _deviceConfig;
    private readonly byte* _isr;
    private readonly byte* _notifyBase;
    private readonly ILogger _log = PmdLogging.CreateLogger("Pmd.VirtioNet.Pci");
    private nint[] _notifyAddresses = [];
    private EventFd? _configIrq;
    private EventFd? _requestIrq;
    private ControlThread? _control;
    private ulong _deviceFeatures;
    private ushort _maxQueueSize;
    private volatile bool _connected;

    public VirtioPciTransport(VfioPciDevice device)
    {
        _device = device;
        _caps = VirtioPciCapabilities.Read(device);
        _common = new VirtioPciCommonConfig(device.MapBar(_caps.Common.Bar) + _caps.Common.Offset);
        _isr = device.MapBar(_caps.Isr.Bar) + _caps.Isr.Offset;
        _notifyBase = device.MapBar(_caps.Notify.Bar) + _caps.Notify.Offset;
        _deviceConfig = _caps.Device is { } d ? device.MapBar(d.Bar) + d.Offset : null;
        device.EnableBusMaster();
    }

    public override string Description => $"virtio-pci {_device.Address} via VFIO";

    public override bool IsConnected => _connected;

    public override IovaMode IovaMode => _device.IovaMode;

    public override int MaxQueueSize => _maxQueueSize == 0 ? 256 : _maxQueueSize;

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
        _log.LogInformation("{Device}: device features 0x{Features:x}, {Queues} queues, queue size {Size}",
            _device.Address, _deviceFeatures, _common.QueueCount, _maxQueueSize);
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
        if (_deviceConfig == null) return default;
        // Re-read until the generation is stable, so the fields belong together (4.1.4.3.1).
        while (true)
        {
            byte generation = _common.ConfigGeneration;
            var mac = new byte[6];
            for (int i = 0; i < 6; i++) mac[i] = Volatile.Read(ref _deviceConfig[VirtioNetConfig.MacOffset + i]);
            ushort status = Volatile.Read(ref *(ushort*)(_deviceConfig + VirtioNetConfig.StatusOffset));
            ushort pairs = Volatile.Read(ref *(ushort*)(_deviceConfig + VirtioNetConfig.MaxQueuePairsOffset));
            ushort mtu = Volatile.Read(ref *(ushort*)(_deviceConfig + VirtioNetConfig.MtuOffset));
            if (generation != _common.ConfigGeneration) continue;
            return new VirtioNetConfig(
                mac,
                Has(_deviceFeatures, Status) ? status : null,
                Has(_deviceFeatures, Mq) ? pairs : null,
                Has(_deviceFeatures, Net.VirtioFeatures.Mtu) ? mtu : null);
        }
    }

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
        if (_notifyAddresses.Length <= queue.Index) Array.Resize(ref _notifyAddresses, queue.Index + 1);
        _notifyAddresses[queue.Index] = (nint)(_notifyBase + notifyOffset);
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
        _notifyAddresses = [];
        Connect();
    }

    public override void Notify(int index)
    {
        var addresses = _notifyAddresses;
        if ((uint)index < (uint)addresses.Length && addresses[index] != 0)
            Volatile.Write(ref *(ushort*)addresses[index], (ushort)index);
    }

    public override void AttachControl(ControlThread control)
    {
        _control = control;
        if (_device.SupportsRequestIrq)
        {
            _requestIrq = new EventFd();
            _device.EnableRequestIrq(_requestIrq.Fd);
            control.Watch(_requestIrq.Fd, _ =>
            {
                _requestIrq?.Drain();
                _log.LogWarning("{Device}: the hypervisor asks for the device back", _device.Address);
                Raise(TransportEvent.DeviceRequest);
            });
        }
    }

    private void SetupInterrupts()
    {
        if (_control is null || _device.MsixVectorCount < 1) return;
        if (_configIrq is not null)
        {
            // After a reset the device forgets its vector; the eventfd and its watch stay.
            _common.SetConfigVector(0);
            return;
        }
        _configIrq = new EventFd();
        // Vector 0 carries config changes (link status); the queues have none.
        _device.EnableMsix([_configIrq.Fd]);
        if (_common.SetConfigVector(0) == VirtioPciCommonConfig.NoVector)
        {
            _log.LogWarning("{Device}: the device refused an MSI-X vector for config changes; link changes will not be reported", _device.Address);
            return;
        }
        _control.Watch(_configIrq.Fd, _ =>
        {
            _configIrq?.Drain();
            Raise(TransportEvent.ConfigChanged);
        });
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
        _ = Volatile.Read(ref *_isr);
    }

    public override void Dispose()
    {
        _connected = false;
        try { _common.Status = 0; } catch (Exception) { }
        if (_configIrq is not null) { _control?.Unwatch(_configIrq.Fd); }
        if (_requestIrq is not null) { _control?.Unwatch(_requestIrq.Fd); }
        // Closing the device fd is what lets the hypervisor complete an unplug.
        _device.Dispose();
        _configIrq?.Dispose();
        _requestIrq?.Dispose();
    }
}
