using Pmd.Devargs;
using Pmd.TestPmd.App;
using Pmd.TestPmd.Options;

namespace Pmd.TestPmd;

/// <summary>
/// testpmd for Pmd. Every failure ends here as one line on stderr starting "testpmd: " and an exit
/// code — 2 when the command line is wrong (unknown flag, bad value, bad devargs, a port id that
/// does not exist), 1 when the run fails (no backend on the socket, a port that will not start) —
/// never a stack trace.
/// </summary>
internal static class Program
{
    public const int UsageError = 2;
    public const int RuntimeError = 1;

    public static int Main(string[] args)
    {
        try
        {
            var commandLine = CommandLine.Parse(args);
            return TestPmdApp.Run(commandLine, Console.Out);
        }
        catch (HelpRequested)
        {
            Console.Out.WriteLine(Usage.Text);
            return 0;
        }
        catch (UsageException e)
        {
            return Fail(e, UsageError);
        }
        catch (DevArgsException e)
        {
            return Fail(e, UsageError);
        }
        catch (Exception e)
        {
            return Fail(e, RuntimeError);
        }
    }

    private static int Fail(Exception e, int code)
    {
        Console.Out.Flush();
        Console.Error.WriteLine($"testpmd: {ErrorMessages.OneLine(e)}");
        return code;
    }
}
