using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Pmd;

/// <summary>
/// Where Pmd's control-path logs go. The datapath never logs; set <see cref="Factory"/> once at
/// start-up (TestPmd sets a console logger). It is the default: a <see cref="Ethdev.PortRegistry"/>
/// given a factory of its own logs through that one, and so do the ports its drivers make
/// (<see cref="Ethdev.PortRegistry.LoggerFactory"/>).
/// </summary>
public static class PmdLogging
{
    private static ILoggerFactory s_factory = NullLoggerFactory.Instance;

    public static ILoggerFactory Factory
    {
        get => s_factory;
        set => s_factory = value ?? NullLoggerFactory.Instance;
    }

    public static ILogger CreateLogger(string category) => s_factory.CreateLogger(category);
}
