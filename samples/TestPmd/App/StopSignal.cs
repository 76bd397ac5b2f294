using System.Runtime.InteropServices;

namespace Pmd.TestPmd.App;

/// <summary>What ends a batch run early: SIGINT, SIGTERM, or a line on stdin ("Press enter to exit").</summary>
internal sealed class StopSignal : IDisposable
{
    private readonly ManualResetEventSlim _stop = new();
    private readonly List<PosixSignalRegistration> _signals = [];

    /// <summary>Routes SIGINT and SIGTERM to <paramref name="onSignal"/> instead of killing the process.</summary>
    public StopSignal(Action? onSignal = null)
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            _signals.Add(PosixSignalRegistration.Create(signal, ctx =>
            {
                ctx.Cancel = true;
                _stop.Set();
                onSignal?.Invoke();
            }));
        }
    }

    public bool IsSet => _stop.IsSet;

    public bool Wait(TimeSpan timeout) => _stop.Wait(timeout);

    public void Set() => _stop.Set();

    /// <summary>
    /// Stops on the first line read from stdin. End of input does not stop the run, so that
    /// "testpmd ... &lt; /dev/null &amp;" forwards until it is signalled.
    /// </summary>
    public void WatchStdin()
    {
        var reader = new Thread(() =>
        {
            try
            {
                if (Console.In.ReadLine() is not null) _stop.Set();
            }
            catch (IOException) { }
        })
        { IsBackground = true, Name = "stdin" };
        reader.Start();
    }

    public void Dispose()
    {
        foreach (var s in _signals) s.Dispose();
    }
}
