using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Pmd;

/// <summary>
/// Where Pmd's control-path logs go. The datapath never logs; set <see cref="Factory"/> once at
/// start-up (TestPmd sets a console logger).
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
