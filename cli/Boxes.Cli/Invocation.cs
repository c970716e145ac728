using System.CommandLine;
using Boxes.Cli.Output;
using Boxes.Sdk;
using Spectre.Console;

namespace Boxes.Cli;

/// <summary>One command being run: its parsed values, where it writes, and the SDK clients it needs (made on first use,
/// so commands that fail on their arguments never need an API key).</summary>
public sealed class Invocation : IDisposable
{
    private readonly GlobalOptions _globals;
    private BrowserCloud? _browsers;
    private SandboxCloud? _sandboxes;

    public Invocation(ParseResult parse, CliIo io, GlobalOptions globals)
    {
        Parse = parse;
        Io = io;
        _globals = globals;
        Print = new Printer(io, parse.GetValue(globals.Json));
    }

    public ParseResult Parse { get; }
    public CliIo Io { get; }
    public Printer Print { get; }
    public bool Json => Print.Json;

    public T Get<T>(Option<T> option) => Parse.GetValue(option)!;
    public T Get<T>(Argument<T> argument) => Parse.GetValue(argument)!;

    /// <summary>Browser sessions, webhooks and billing (the SDK keeps the latter two on BrowserCloud, as the seed does).</summary>
    public BrowserCloud Browsers => _browsers ??= new BrowserCloud(ClientOptions());
    public SandboxCloud Sandboxes => _sandboxes ??= new SandboxCloud(ClientOptions());

    /// <summary>The API address and key from the options or the environment; a missing key or a malformed URL is a usage error.</summary>
    public BoxesClientOptions ClientOptions()
    {
        var key = NonEmpty(Parse.GetValue(_globals.ApiKey)) ?? NonEmpty(Io.Environment(BoxesClientOptions.ApiKeyVariable))
            ?? throw new UsageException($"No API key: pass --api-key or set {BoxesClientOptions.ApiKeyVariable}.");
        var url = NonEmpty(Parse.GetValue(_globals.ApiUrl)) ?? NonEmpty(Io.Environment(BoxesClientOptions.BaseUrlVariable))
            ?? BoxesClientOptions.DefaultBaseUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new UsageException($"The API URL '{url}' is not an absolute http(s) URL (--api-url or {BoxesClientOptions.BaseUrlVariable}).");
        return new BoxesClientOptions { ApiKey = key, BaseUrl = url };
    }

    /// <summary>Runs <paramref name="work"/> under a spinner on stderr when a person is watching (stderr is a terminal,
    /// no --json); otherwise just runs it, so pipes and scripts see no animation.</summary>
    public async Task<T> WhileWaitingAsync<T>(string message, Func<Task<T>> work)
    {
        if (Json || !Io.StderrIsTerminal) return await work();
        var console = Printer.CreateConsole(Io.Err, colour: !Io.NoColor, interactive: true, fd: 2);
        return await console.Status().Spinner(Spinner.Known.Dots).StartAsync(Markup.Escape(message), _ => work());
    }

    public void Dispose()
    {
        _browsers?.Dispose();
        _sandboxes?.Dispose();
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
