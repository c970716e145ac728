using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace Boxes.Cli.Tests;

/// <summary>What one run of the CLI left behind.</summary>
public sealed record CliResult(int ExitCode, byte[] StdoutBytes, string Stderr)
{
    public string Stdout => Encoding.UTF8.GetString(StdoutBytes);

    /// <summary>Stdout as the single JSON document --json promises; fails the test if it is anything else.</summary>
    public JsonNode Json()
    {
        try
        {
            return JsonNode.Parse(Stdout) ?? throw new InvalidOperationException("stdout is the JSON null");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"stdout is not one JSON document ({e.Message}); exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
        }
    }

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs the CLI in-process (the whole command tree through <see cref="Cli.RunAsync(string[], CliIo, CancellationToken)"/>)
/// or as a real child process, with an environment of our choosing rather than the machine's.</summary>
public static class CliRunner
{
    public static Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, byte[]? stdin, params string[] args) =>
        RunAsync(environment, stdin, CancellationToken.None, args);

    /// <summary>As if Ctrl-C was pressed when <paramref name="interrupt"/> is cancelled (Program cancels the same token).</summary>
    public static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, byte[]? stdin, CancellationToken interrupt, params string[] args)
    {
        using var input = new MemoryStream(stdin ?? []);
        using var output = new MemoryStream();
        using var error = new StringWriter();
        var io = new CliIo(input, output, error) { Environment = name => environment.TryGetValue(name, out var v) ? v : null };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(interrupt);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        var exit = await Cli.RunAsync(args, io, timeout.Token);
        return new CliResult(exit, output.ToArray(), error.ToString());
    }

    /// <summary>boxes.dll next to this test assembly (the project reference copies it), run with <c>dotnet</c>.</summary>
    public static async Task<CliResult> RunProcessAsync(IReadOnlyDictionary<string, string> environment, byte[] stdin, TimeSpan timeout, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "boxes.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project references cli/Boxes.Cli so that it is copied here");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // Only what the test gives: the machine's own BOXES_API_KEY must not decide the outcome.
        info.Environment.Remove("BOXES_API_KEY");
        info.Environment.Remove("BOXES_API_URL");
        foreach (var (name, value) in environment) info.Environment[name] = value;

        using var process = Process.Start(info)!;
        var stdout = new MemoryStream();
        var copyOut = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var readErr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.BaseStream.WriteAsync(stdin);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            await copyOut;
            throw new TimeoutException($"boxes {string.Join(' ', args)} did not exit within {timeout}; stdout so far: {Encoding.UTF8.GetString(stdout.ToArray())}; stderr: {await readErr}");
        }
        await copyOut;
        return new CliResult(process.ExitCode, stdout.ToArray(), await readErr);
    }
}
