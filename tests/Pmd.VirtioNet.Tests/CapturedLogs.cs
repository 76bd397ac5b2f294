using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// Routes Pmd's logs into a list for the test's lifetime (loggers are taken when objects are
/// made, so install this first), so tests can check what an operator would see.
/// </summary>
internal sealed class CapturedLogs : ILoggerFactory, ILogger
{
    private readonly ILoggerFactory _previous;

    public CapturedLogs()
    {
        _previous = PmdLogging.Factory;
        PmdLogging.Factory = this;
    }

    public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Lines { get; } = new();

    public IEnumerable<string> Warnings => Lines.Where(l => l.Level >= LogLevel.Warning).Select(l => l.Message);

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider) { }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((logLevel, formatter(state, exception), exception));

    public void Dispose() => PmdLogging.Factory = _previous;
}
