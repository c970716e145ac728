using System.Diagnostics;
using System.Reflection;

namespace Boxes.Examples.Tests;

/// <summary>What one run of an example printed, and how it ended.</summary>
public sealed record ExampleRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs an example under examples/ as a user would: <c>dotnet &lt;example&gt;.dll</c> from its own build output (built
/// with this project through a ProjectReference), as a separate process with only the environment given to it.
/// </summary>
public static class ExampleProgram
{
    private static readonly string ExamplesDirectory = Metadata("ExamplesDirectory");
    private static readonly string Configuration = Metadata("ExamplesConfiguration");
    private static readonly string TargetFramework = Metadata("ExamplesTargetFramework");

    public static string AssemblyPath(string example)
    {
        var path = Path.Combine(ExamplesDirectory, example, "bin", Configuration, TargetFramework, example + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The {example} example is not built at {path}; build tests/Boxes.Examples.Tests (it builds the examples).", path);
    }

    /// <param name="environment">
    /// Set in the child's environment; a null value removes the variable. Every other BOXES_* variable of this process is
    /// removed, so an example never falls back on the shared development key by accident.
    /// </param>
    public static async Task<ExampleRun> RunAsync(string example, IReadOnlyDictionary<string, string?> environment,
        IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(AssemblyPath(example))!,
        };
        start.ArgumentList.Add(AssemblyPath(example));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("BOXES_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            return new ExampleRun(process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException($"The {example} example did not finish within {timeout.TotalSeconds:0} s and was killed.");
        }
    }

    /// <summary>The dotnet host running these tests (testhost runs under it), else the one on PATH.</summary>
    private static string DotnetHost() =>
        Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    private static string Metadata(string key) =>
        typeof(ExampleProgram).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"The test assembly has no {key} metadata (set in Boxes.Examples.Tests.csproj).");
}
