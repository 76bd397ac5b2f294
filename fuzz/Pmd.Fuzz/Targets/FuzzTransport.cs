using Pmd.Threading;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Transport;

namespace Pmd.Fuzz.Targets;

/// <summary>A transport with nothing behind it: the harness plays the device in the ring memory.</summary>
internal sealed class FuzzTransport : VirtioTransport
{
    public override string Description => "fuzz harness";
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
