using System.CommandLine;

namespace Boxes.Cli.Commands;

/// <summary>Options and arguments several commands share, with their validation, so a bad value fails at parse time (exit 2).</summary>
internal static class Options
{
    public static Argument<string> Id(string what) => new("id") { Description = $"The {what}'s id" };

    public static Option<int?> PositiveInt(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description, HelpName = "N" };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is <= 0) result.AddError($"{name} must be a positive whole number.");
        });
        return option;
    }

    public static Option<long?> PositiveLong(string name, string description)
    {
        var option = new Option<long?>(name) { Description = description, HelpName = "N" };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is <= 0) result.AddError($"{name} must be a positive whole number.");
        });
        return option;
    }

    /// <summary>How long to wait for a box to become ready; past it the box is ended and the exit code is 4.</summary>
    public static Option<int> ReadyTimeout()
    {
        var option = new Option<int>("--timeout-ms")
        {
            Description = "How long to wait for ready, in milliseconds; past it the box is ended and the exit code is 4",
            DefaultValueFactory = _ => 30_000,
            HelpName = "N",
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() <= 0) result.AddError("--timeout-ms must be a positive whole number.");
        });
        return option;
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
