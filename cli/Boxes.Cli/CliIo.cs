using System.Text;
using Boxes.Cli.Terminal;

namespace Boxes.Cli;

/// <summary>
/// The process's streams and environment as the commands see them, so the whole command tree runs in-process in
/// tests with memory streams, and against the real console in <c>Program</c>.
/// </summary>
public sealed class CliIo
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    public CliIo(Stream stdin, Stream stdout, TextWriter stderr)
    {
        Stdin = stdin;
        Stdout = stdout;
        Out = new StreamWriter(stdout, Utf8NoBom, bufferSize: 4096, leaveOpen: true) { AutoFlush = true, NewLine = "\n" };
        Err = stderr;
    }

    /// <summary>Raw standard input (fs write -, exec --stdin-file -, run-code -, terminal).</summary>
    public Stream Stdin { get; }
    /// <summary>Raw standard output, for bytes that must arrive unchanged (fs read, terminal output).</summary>
    public Stream Stdout { get; }
    /// <summary>Text over <see cref="Stdout"/>; flushes on every write so text and raw bytes keep their order.</summary>
    public TextWriter Out { get; }
    public TextWriter Err { get; }

    /// <summary>Standard input is a terminal: the terminal command switches it to raw mode and forwards resizes.</summary>
    public bool StdinIsTerminal { get; init; }
    /// <summary>Standard output is a terminal: colour and markup are allowed (unless NO_COLOR is set).</summary>
    public bool StdoutIsTerminal { get; init; }
    /// <summary>Standard error is a terminal: a spinner may be shown there while waiting.</summary>
    public bool StderrIsTerminal { get; init; }

    /// <summary>Environment lookup; tests replace it so the machine's own BOXES_API_KEY does not leak in.</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    public bool NoColor => !string.IsNullOrEmpty(Environment("NO_COLOR"));

    /// <summary>The real console. A stream that is a terminal is file descriptor 0, 1 or 2 itself (see
    /// <see cref="TerminalStreams"/>); a redirected one is .NET's console stream.</summary>
    public static CliIo ForConsole()
    {
        var (stdinIsTerminal, stdoutIsTerminal, stderrIsTerminal) = (!Console.IsInputRedirected, !Console.IsOutputRedirected, !Console.IsErrorRedirected);
        var io = new CliIo(
            stdinIsTerminal ? TerminalStreams.Open(0, FileAccess.Read) ?? Console.OpenStandardInput() : Console.OpenStandardInput(),
            stdoutIsTerminal ? TerminalStreams.Open(1, FileAccess.Write) ?? Console.OpenStandardOutput() : Console.OpenStandardOutput(),
            new StreamWriter(stderrIsTerminal ? TerminalStreams.Open(2, FileAccess.Write) ?? Console.OpenStandardError() : Console.OpenStandardError(),
                Utf8NoBom) { AutoFlush = true, NewLine = "\n" })
        {
            StdinIsTerminal = stdinIsTerminal,
            StdoutIsTerminal = stdoutIsTerminal,
            StderrIsTerminal = stderrIsTerminal,
        };
        // Console.Out/Error are looked at by libraries (Spectre compares writers with them); created lazily by .NET they
        // would initialise its terminal handling, so they are ours from the start.
        Console.SetOut(io.Out);
        Console.SetError(io.Err);
        return io;
    }
}
