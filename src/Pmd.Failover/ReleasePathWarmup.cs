using System.Reflection;
using System.Runtime.CompilerServices;

namespace Pmd.Failover;

/// <summary>
/// Compiles the release path ahead of its first use. A release runs once in a process's life, and
/// while it runs the hypervisor's wait-unplug (and so a migration) waits: under emulation the JIT
/// of its methods on first call cost tens of ms. Done once per process, when a primary is first
/// paired, on a thread-pool thread: the control thread's events (the switch this pairing raised)
/// must not wait for it. (Under NativeAOT this is a no-op.)
/// </summary>
internal static class ReleasePathWarmup
{
    private static int _done;

    public static void Start()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0 || !RuntimeFeature.IsDynamicCodeSupported) return;
        ThreadPool.UnsafeQueueUserWorkItem(_ => Run(), null);
    }

    private static void Run()
    {
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        Prepare(typeof(FailoverPort).GetMethods(Any));
        Prepare(typeof(MacAnnouncement).GetMethods(Any));
        Prepare(typeof(QuiescentGuard).GetMethods(Any));
        Prepare(typeof(FailoverStateMachine).GetMethods(Any));
    }

    private static void Prepare(MethodInfo[] methods)
    {
        foreach (var m in methods)
        {
            if (m.IsAbstract || m.ContainsGenericParameters || m.DeclaringType?.Assembly != typeof(ReleasePathWarmup).Assembly) continue;
            try { RuntimeHelpers.PrepareMethod(m.MethodHandle); }
            catch (Exception e) when (e is ArgumentException or NotSupportedException) { }
        }
    }
}
