namespace Pmd.TestPmd.App;

/// <summary>Turns an exception into the one line a user reads: its message, without parameter names or line breaks.</summary>
internal static class ErrorMessages
{
    public static string OneLine(Exception e)
    {
        string message = e.Message;
        if (e is ArgumentException { ParamName: { } param })
            message = message.Replace($" (Parameter '{param}')", "", StringComparison.Ordinal);
        return message.ReplaceLineEndings(" ").Trim();
    }
}
