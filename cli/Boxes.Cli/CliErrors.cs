namespace Boxes.Cli;

/// <summary>Bad arguments found after parsing (conflicting options, a malformed K=V, a missing key): exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// An error the API gave that did not come through the SDK (the terminal socket's refusal) or a failure the CLI
/// reports like one, so it is printed and exits the same way as a <c>BoxesError</c>.
/// </summary>
public sealed class CliApiException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
}
