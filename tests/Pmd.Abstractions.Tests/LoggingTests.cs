using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

public sealed class LoggingTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:00:00:01");

    [Fact]
    public void A_registry_logs_through_the_factory_it_was_given_with_event_ids()
    {
        var logs = new CollectingLoggerFactory();
        using var registry = new PortRegistry(loggerFactory: logs);
        Assert.Same(logs, registry.LoggerFactory);

        using var destroyed = new ManualResetEventSlim();
        using var thrower = registry.Subscribe(PortEventType.New, _ => throw new InvalidOperationException("a callback bug"));
        // Events are delivered in order, so once Destroy is seen the New callback's failure is logged.
        using var watcher = registry.Subscribe(PortEventType.Destroy, _ => destroyed.Set());
        ushort id = registry.Add(new FakePort("logged", Mac));
        registry.Detach(id);
        Assert.True(destroyed.Wait(TimeSpan.FromSeconds(5)), "no Destroy event");

        var entries = logs.Entries.Where(e => e.Category == "Pmd.PortRegistry").ToList();
        // The callback's failure comes from the control thread, so it may be logged after the detach.
        Assert.Equal(
            ["1000 PortAttached", "1002 EventCallbackFailed", "1001 PortDetached"],
            entries.OrderBy(e => e.EventId.Id == 1001).Select(e => $"{e.EventId.Id} {e.EventId.Name}").ToArray());
        Assert.Equal($"port {id}: attached logged", entries.Single(e => e.EventId.Id == 1000).Message);
        var failed = entries.Single(e => e.EventId.Id == 1002);
        Assert.Equal(LogLevel.Error, failed.Level);
        Assert.Equal("a callback bug", Assert.IsType<InvalidOperationException>(failed.Exception).Message);
    }

    [Fact]
    public void Without_a_factory_the_registry_uses_PmdLogging_Factory()
    {
        using var registry = new PortRegistry();
        Assert.Same(PmdLogging.Factory, registry.LoggerFactory);
    }

    private sealed class CollectingLoggerFactory : ILoggerFactory
    {
        public ConcurrentQueue<(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose() { }

        private sealed class Logger(CollectingLoggerFactory owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Enqueue((category, logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
