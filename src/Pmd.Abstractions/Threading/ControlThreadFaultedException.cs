namespace Pmd.Threading;

/// <summary>The control thread's loop has stopped; no callback, timer or posted work will run.</summary>
public sealed class ControlThreadFaultedException : Exception
{
    public ControlThreadFaultedException(string message) : base(message) { }

    public ControlThreadFaultedException(string message, Exception inner) : base(message, inner) { }
}
