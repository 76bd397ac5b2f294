using Pmd.Threading;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Transport;

namespace Pmd.TestSupport.Virtio;

/// <summary>A transport with nothing behind it: the in-process device model plays the device.</summary>
internal sealed class NullTransport : VirtioTransport
{
    public override string Description => "in-process device model";
    public override bool IsConnected => true;
    public override int MaxQueueSize => 32768;
    public override bool EmulatesControlQueue => true;
    public override ulong DeviceFeatures => 0;
    public override void Connect() { }
    public override void SetFeatures(ulong features) { }
    public override VirtioNetConfig ReadConfig() => default;
    public override void SetupQueue(QueueSetup queue) { }
    public override void EnableQueue(int index, bool enable) { }
    public override void DriverOk() { }
    public override void StopQueues(int queueCount) { }
    public override void Notify(int index) { }
    public override void AttachControl(ControlThread control) { }
    public override void Dispose() { }
}
