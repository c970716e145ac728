using System.CommandLine;

namespace Boxes.Cli;

/// <summary>The options every command takes; recursive, so they may be written anywhere on the line.</summary>
public sealed class GlobalOptions
{
    public Option<string?> ApiUrl { get; } = new("--api-url")
    {
        Description = "The API's address (default: $BOXES_API_URL, else http://127.0.0.1:8080)",
        Recursive = true,
    };

    public Option<string?> ApiKey { get; } = new("--api-key")
    {
        Description = "The organisation's API key (default: $BOXES_API_KEY)",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Write exactly one JSON document (the API's object, camelCase) to stdout and nothing else",
        Recursive = true,
    };
}
