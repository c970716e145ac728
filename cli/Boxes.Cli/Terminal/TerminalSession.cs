using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Boxes.Cli.Terminal;

/// <summary>
/// <c>boxes sandboxes terminal</c>: the sandbox's shell over its terminalUrl WebSocket. Binary frames both ways are
/// raw terminal bytes; <c>{"type":"resize","cols","rows"}</c> goes up when the window changes; the server's
/// <c>{"type":"exit","exitCode":N}</c> ends the session with exit code N.
/// </summary>
internal static class TerminalSession
{
    /// <summary>Ctrl-D: what a terminal sends for end of input. Sent when piped stdin ends, so the shell sees EOF and exits.</summary>
    private const byte EndOfTransmission = 0x04;

    public static async Task<int> RunAsync(string terminalUrl, CliIo io, CancellationToken cancellationToken)
    {
        var interactive = io.StdinIsTerminal && !OperatingSystem.IsWindows();
        var size = interactive ? Size() : null;

        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        await ConnectAsync(socket, WithSize(terminalUrl, size), cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sendLock = new SemaphoreSlim(1, 1);
        RawMode? raw = null;
        var signals = new List<PosixSignalRegistration>();
        var endedBySignal = 0;
        try
        {
            if (interactive && !OperatingSystem.IsWindows())
            {
                raw = await RawMode.EnterAsync(cancellationToken);
                // A kill or a closed terminal must still give the user back a cooked terminal.
                foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGHUP })
                    signals.Add(PosixSignalRegistration.Create(signal, context =>
                    {
                        context.Cancel = true;
                        raw?.Dispose();
                        endedBySignal = 128 + (context.Signal == PosixSignal.SIGTERM ? 15 : 1);
                        stop.Cancel();
                    }));
                signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context =>
                {
                    // Fire and forget: the handler must return at once; SendResizeAsync swallows its own failures.
                    var resize = SendResizeAsync(socket, sendLock, Size(), stop.Token);
                }));
                await SendResizeAsync(socket, sendLock, size, stop.Token);
            }

            // Piped input waits for the shell's first output (its prompt): bytes that arrive while the shell is still
            // starting can be discarded when it sets up its terminal, and a script would then hang. A person waits anyway.
            var shellStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var input = Task.Run(async () =>
            {
                if (!interactive) await WaitQuietlyAsync(shellStarted.Task, FirstOutputWait, stop.Token);
                await PumpInputAsync(io.Stdin, socket, sendLock, sendEndOfInput: !interactive, stop.Token);
            }, stop.Token);
            int? exitCode;
            try
            {
                exitCode = await ReceiveAsync(socket, io.Stdout, shellStarted, stop.Token);
            }
            catch (OperationCanceledException) when (endedBySignal != 0)
            {
                // Killed or hung up: what a shell reports for a process ended by that signal (143, 129).
                exitCode = endedBySignal;
            }
            stop.Cancel();
            await CloseQuietlyAsync(socket);
            // The input pump may be blocked in a read of stdin that cannot be cancelled; it is not awaited, the
            // process ends without it. Its failure after the shell exited is of no interest.
            _ = input.ContinueWith(t => t.Exception, TaskScheduler.Default);
            if (exitCode is null && cancellationToken.IsCancellationRequested) cancellationToken.ThrowIfCancellationRequested();
            return exitCode ?? throw new CliApiException(0, "TERMINAL_CLOSED", "The terminal closed without reporting the shell's exit code.");
        }
        finally
        {
            foreach (var signal in signals) signal.Dispose();
            raw?.Dispose();
        }
    }

    private static async Task ConnectAsync(ClientWebSocket socket, Uri url, CancellationToken cancellationToken)
    {
        try
        {
            await socket.ConnectAsync(url, cancellationToken);
        }
        catch (WebSocketException) when (socket.HttpStatusCode is not 0 and not System.Net.HttpStatusCode.SwitchingProtocols)
        {
            // The API answered but refused the upgrade (token expired, sandbox paused or ended): an API error, not the network.
            var status = (int)socket.HttpStatusCode;
            throw new CliApiException(status, status switch
            {
                401 => "UNAUTHENTICATED",
                404 => "NOT_FOUND",
                409 => "CONFLICT",
                _ => $"HTTP_{status}",
            }, $"The terminal socket was refused with HTTP {status}.");
        }
    }

    /// <summary>How long piped input waits for the shell's first output before it is sent regardless.</summary>
    private static readonly TimeSpan FirstOutputWait = TimeSpan.FromSeconds(10);

    /// <summary>How often piped input that has ended says so again while the shell is still running.</summary>
    private static readonly TimeSpan EndOfInputRepeat = TimeSpan.FromMilliseconds(500);

    private static async Task WaitQuietlyAsync(Task task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            // A shell that prints nothing (no prompt) still gets its input.
        }
    }

    /// <summary>Every chunk of stdin as a binary frame, as soon as it is read.</summary>
    private static async Task PumpInputAsync(Stream stdin, ClientWebSocket socket, SemaphoreSlim sendLock, bool sendEndOfInput, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (!cancellationToken.IsCancellationRequested)
        {
            var read = await stdin.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                if (!sendEndOfInput) return;
                // Repeated until the session ends: a Ctrl-D that reaches the pty while the shell is between commands
                // (its terminal back in canonical mode) is taken as the end of an empty line and is gone by the time
                // readline reads again, and the shell would wait for ever (seen in CI). Once the shell has exited the
                // session ends and this stops; a program reading stdin meanwhile gets end-of-input too, as it should.
                while (!cancellationToken.IsCancellationRequested)
                {
                    await SendAsync(socket, sendLock, new[] { EndOfTransmission }, WebSocketMessageType.Binary, cancellationToken);
                    await Task.Delay(EndOfInputRepeat, cancellationToken);
                }
                return;
            }
            await SendAsync(socket, sendLock, buffer.AsMemory(0, read), WebSocketMessageType.Binary, cancellationToken);
        }
    }

    /// <summary>Writes binary frames to stdout until the server reports the exit code (returned) or closes (null).</summary>
    private static async Task<int?> ReceiveAsync(ClientWebSocket socket, Stream stdout, TaskCompletionSource firstOutput, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var text = new MemoryStream();
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult result;
                try
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                }
                catch (WebSocketException) when (socket.State is WebSocketState.Aborted or WebSocketState.Closed)
                {
                    return null;
                }
                switch (result.MessageType)
                {
                    case WebSocketMessageType.Close:
                        return null;
                    case WebSocketMessageType.Binary:
                        await stdout.WriteAsync(buffer.AsMemory(0, result.Count), cancellationToken);
                        if (result.EndOfMessage) await stdout.FlushAsync(cancellationToken);
                        firstOutput.TrySetResult();
                        break;
                    case WebSocketMessageType.Text:
                        text.Write(buffer, 0, result.Count);
                        if (!result.EndOfMessage) break;
                        var exit = ExitCode(text.ToArray());
                        text.SetLength(0);
                        if (exit is not null)
                        {
                            await stdout.FlushAsync(cancellationToken);
                            return exit;
                        }
                        break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The exit code from <c>{"type":"exit","exitCode":N}</c>; other control messages are not for the user.</summary>
    private static int? ExitCode(byte[] message)
    {
        try
        {
            using var document = JsonDocument.Parse(message);
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("type", out var type) && type.ValueEquals("exit")
                && root.TryGetProperty("exitCode", out var code) && code.TryGetInt32(out var value)
                ? value
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task SendResizeAsync(ClientWebSocket socket, SemaphoreSlim sendLock, (int Cols, int Rows)? size, CancellationToken cancellationToken)
    {
        if (size is not { } s) return;
        var frame = Encoding.UTF8.GetBytes($"{{\"type\":\"resize\",\"cols\":{s.Cols},\"rows\":{s.Rows}}}");
        try
        {
            await SendAsync(socket, sendLock, frame, WebSocketMessageType.Text, cancellationToken);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A resize racing the end of the session has nowhere to go.
        }
    }

    /// <summary>ClientWebSocket allows one send at a time; input and resizes come from different threads.</summary>
    private static async Task SendAsync(ClientWebSocket socket, SemaphoreSlim sendLock, ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        await sendLock.WaitAsync(cancellationToken);
        try
        {
            await socket.SendAsync(data, type, endOfMessage: true, cancellationToken);
        }
        finally
        {
            sendLock.Release();
        }
    }

    private static async Task CloseQuietlyAsync(ClientWebSocket socket)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived)) return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The shell has exited and its code is known; a socket that will not close cleanly changes nothing.
        }
    }

    /// <summary>The local terminal's size (stdin's, else stdout's), capped at what the API accepts.</summary>
    private static (int Cols, int Rows)? Size() =>
        (WindowSize.Of(0) ?? WindowSize.Of(1)) is { } s ? (Math.Min(s.Cols, 1000), Math.Min(s.Rows, 1000)) : null;

    private static Uri WithSize(string terminalUrl, (int Cols, int Rows)? size)
    {
        var builder = new UriBuilder(terminalUrl);
        if (size is { } s)
        {
            var extra = $"cols={s.Cols}&rows={s.Rows}";
            builder.Query = string.IsNullOrEmpty(builder.Query) ? extra : builder.Query.TrimStart('?') + "&" + extra;
        }
        return builder.Uri;
    }
}
