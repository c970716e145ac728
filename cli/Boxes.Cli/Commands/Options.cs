using System.CommandLine;

namespace Boxes.Cli.Commands;

/// <summary>Options and arguments several commands share, with their validation, so a bad value fails at parse time (exit 2).</summary>
internal static class Options
{
    public static Argument<string> Id(string what) => new("id") { Description = $"The {what}'s id" };

    public static Option<int?> PositiveInt(string name, string description) =>
        new(name) { Description = description, HelpName = "N", CustomParser = result => (int?)Positive(result, name, int.MaxValue) };

    public static Option<long?> PositiveLong(string name, string description) =>
        new(name) { Description = description, HelpName = "N", CustomParser = result => Positive(result, name, long.MaxValue) };

    /// <summary>How long to wait for a box to become ready; past it the box is ended and the exit code is 4.</summary>
    public static Option<int> ReadyTimeout() => new("--timeout-ms")
    {
        Description = "How long to wait for ready, in milliseconds; past it the box is ended and the exit code is 4",
        DefaultValueFactory = _ => 30_000,
        HelpName = "N",
        CustomParser = result => (int)(Positive(result, "--timeout-ms", int.MaxValue) ?? 0),
    };

    /// <summary>A whole number from 1 to <paramref name="max"/>; anything else is a parse error naming the option
    /// (a validator would run after a failed conversion too, and throw instead of reporting).</summary>
    private static long? Positive(System.CommandLine.Parsing.ArgumentResult result, string name, long max)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            && value >= 1 && value <= max)
            return value;
        result.AddError($"{name} takes a whole number from 1 to {max}, got '{text}'.");
        return null;
    }

    public static Option<string?> OneOf(string name, string description, params string[] values)
    {
        var option = new Option<string?>(name) { Description = description };
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    /// <summary>A repeatable <c>K=V</c> option (<c>--env A=1 --env B=2</c>).</summary>
    public static Option<string[]> KeyValues(string name, string description)
    {
        var option = new Option<string[]>(name) { Description = description, HelpName = "K=V", Arity = ArgumentArity.ZeroOrMore };
        option.Validators.Add(result =>
        {
            foreach (var pair in result.GetValueOrDefault<string[]>() ?? [])
                if (pair.IndexOf('=') <= 0) result.AddError($"{name} takes KEY=VALUE, got '{pair}'.");
        });
        return option;
    }

    public static IReadOnlyDictionary<string, string>? ToDictionary(string[]? pairs)
    {
        if (pairs is null || pairs.Length == 0) return null;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var split = pair.IndexOf('=');
            map[pair[..split]] = pair[(split + 1)..];
        }
        return map;
    }

    /// <summary>All of standard input, or a file's bytes; a missing file is a usage error, not a crash.</summary>
    public static async Task<byte[]> ReadSourceAsync(CliIo io, string source, CancellationToken cancellationToken)
    {
        if (source == "-")
        {
            using var buffer = new MemoryStream();
            await io.Stdin.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
        if (!File.Exists(source)) throw new UsageException($"No such file: {source}");
        return await File.ReadAllBytesAsync(source, cancellationToken);
    }
}
