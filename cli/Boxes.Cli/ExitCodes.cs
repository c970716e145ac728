namespace Boxes.Cli;

/// <summary>
/// What the process exit code means, so scripts can branch on it. exec, run-code and terminal return the remote
/// command's own exit code instead, so for them 1-4 may also be the command's.
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int ApiError = 1;
    public const int UsageError = 2;
    public const int Unreachable = 3;
    public const int TimedOut = 4;
    /// <summary>128 + SIGINT, what shells report for a command stopped with Ctrl-C.</summary>
    public const int Interrupted = 130;

    public const string HelpText = """
        Exit codes:
          0    success
          1    the API answered with an error (message on stderr; with --json the error object on stdout)
          2    usage error: bad arguments, no API key (--api-key or BOXES_API_KEY), a local file that cannot be read
          3    could not reach the API (network)
          4    timed out waiting for a box to become ready
          130  interrupted (Ctrl-C); the terminal command ended by SIGTERM or SIGHUP: 143 or 129
          exec, run-code and terminal exit with the remote command's own exit code, so for them 1-4 may also
          be the command's.
        """;
}
