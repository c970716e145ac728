using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;

namespace Boxes.Worker.Sandboxes;

/// <summary>What the agent answered with when it could not do what was asked (its RES_ERROR frame).</summary>
public sealed class AgentException(AgentError code, string message) : Exception(message)
{
    public AgentError Code { get; } = code;
}

/// <summary>The agent's error codes (boxes-sandbox.c, E_*).</summary>
public enum AgentError
{
    Invalid = 1, NotFound = 2, TooLarge = 3, NotRegular = 4, Symlink = 5, HardLink = 6, Io = 7, Spawn = 8, NotDirectory = 9, Limit = 10, NoSpace = 11,
    /// <summary>Not the agent's: the sandbox (its agent) is gone.</summary>
    Gone = 100,
}

public enum FileEntryType { File = 0, Directory = 1, Symlink = 2, Other = 3 }

public sealed record FileEntry(string Name, FileEntryType Type, long Size, DateTimeOffset ModifiedAt);

/// <summary>How a process ended: its exit code, or the signal that killed it.</summary>
public sealed record ProcessExit(int? ExitCode, int? Signal, bool TimedOut, TimeSpan Duration)
{
    /// <summary>The shell's convention: the exit code, 128 + signal when killed, 124 when stopped at its timeout.</summary>
    public int ShellCode => TimedOut ? 124 : ExitCode ?? 128 + (Signal ?? 0);
}

/// <summary>A command started in the sandbox: its output as it comes, its input, and its end.</summary>
public sealed class AgentProcess
{
    internal AgentProcess(SandboxAgent agent, uint id)
    {
        _agent = agent;
        Id = id;
    }

    private readonly SandboxAgent _agent;
    private long _unacknowledged;
    private readonly SemaphoreSlim _credit = new(0);
    internal readonly TaskCompletionSource<int> Started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    internal readonly TaskCompletionSource<ProcessExit> Exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public uint Id { get; }

    /// <summary>(stream 1 = stdout / the terminal, 2 = stderr, bytes) in arrival order; completes when the process has ended.</summary>
    public Channel<(int Stream, byte[] Data)> Output { get; } = Channel.CreateUnbounded<(int, byte[])>(new() { SingleReader = true, SingleWriter = true });

    public Task<ProcessExit> Exited => Exit.Task;

    /// <summary>How much input may be in flight to the agent before a writer waits for it to be taken (flow control).</summary>
    private const int InputWindow = 1024 * 1024;
    private const int InputChunk = 64 * 1024;

    /// <summary>Sends input, waiting while a window of earlier input has not been taken by the process yet.</summary>
    public async Task WriteInputAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            var chunk = data[..Math.Min(InputChunk, data.Length)];
            while (Interlocked.Read(ref _unacknowledged) + chunk.Length > InputWindow && !Exited.IsCompleted)
                await _credit.WaitAsync(TimeSpan.FromMilliseconds(200), ct);
            if (Exited.IsCompleted) return; // nobody is reading any more
            Interlocked.Add(ref _unacknowledged, chunk.Length);
            await _agent.SendAsync(SandboxAgent.ReqStdin, Id, w => w.Raw(chunk.Span), ct);
            data = data[chunk.Length..];
        }
    }

    internal void Acknowledge(long bytes)
    {
        Interlocked.Add(ref _unacknowledged, -bytes);
        _credit.Release();
    }

    public Task CloseInputAsync(CancellationToken ct) => _agent.SendAsync(SandboxAgent.ReqStdinEof, Id, _ => { }, ct);

    public Task ResizeAsync(int cols, int rows, CancellationToken ct) =>
        _agent.SendAsync(SandboxAgent.ReqResize, Id, w => { w.U32((uint)cols); w.U32((uint)rows); }, ct);

    /// <summary>Sends a signal to the process's whole group.</summary>
    public Task SignalAsync(int signal, CancellationToken ct) => _agent.SendAsync(SandboxAgent.ReqSignal, Id, w => w.U32((uint)signal), ct);
}

/// <summary>What to start: argv, the complete environment, the working folder, and limits.</summary>
public sealed record ProcessSpec(IReadOnlyList<string> Argv, IReadOnlyDictionary<string, string> Environment, string Cwd, TimeSpan? Timeout,
    bool Pty = false, int Cols = 80, int Rows = 24);

/// <summary>
/// The worker's end of the protocol with the agent inside one sandbox (boxes-sandbox.c): frames over the
/// sandbox's stdin/stdout, any number of requests in flight, matched by id.
/// </summary>
public sealed class SandboxAgent : IAsyncDisposable
{
    internal const byte ReqExec = 1, ReqStdin = 2, ReqStdinEof = 3, ReqResize = 4, ReqSignal = 5, ReqFsRead = 6, ReqFsWrite = 7, ReqFsList = 8, ReqPing = 9;
    private const byte ResStarted = 101, ResOut = 102, ResExit = 103, ResError = 104, ResOk = 105, ResData = 106, ResList = 107, ResPong = 108, ResAck = 109;
    private const int MaxFrame = 80 * 1024 * 1024;

    private readonly Stream _input;   // the agent's stdin
    private readonly Stream _output;  // the agent's stdout
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<(byte Type, byte[] Payload)>> _calls = new();
    private readonly ConcurrentDictionary<uint, AgentProcess> _processes = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;

    public SandboxAgent(Stream input, Stream output, ILogger logger)
    {
        _input = input;
        _output = output;
        _logger = logger;
        _ = Task.Run(ReadLoopAsync);
    }

    /// <summary>Completes when the agent's output ends (the sandbox is gone).</summary>
    public Task Closed => _closed.Task;

    public async Task PingAsync(CancellationToken ct) => await CallAsync(ReqPing, _ => { }, ct);

    /// <summary>Starts a process; throws <see cref="AgentException"/> when it cannot (Spawn for a missing command, NotDirectory for a bad cwd).</summary>
    public async Task<AgentProcess> StartAsync(ProcessSpec spec, CancellationToken ct)
    {
        var id = NextId();
        var process = new AgentProcess(this, id);
        _processes[id] = process;
        try
        {
            await SendAsync(ReqExec, id, w =>
            {
                w.U32(spec.Pty ? 1u : 0u);
                w.U32(spec.Timeout is { } t ? (uint)Math.Clamp(t.TotalMilliseconds, 1, uint.MaxValue) : 0u);
                w.U32((uint)spec.Cols);
                w.U32((uint)spec.Rows);
                w.U32((uint)spec.Argv.Count);
                foreach (var a in spec.Argv) w.Str(a);
                w.U32((uint)spec.Environment.Count);
                foreach (var (k, v) in spec.Environment) w.Str($"{k}={v}");
                w.Str(spec.Cwd);
            }, ct);
            await process.Started.Task.WaitAsync(ct);
            return process;
        }
        catch
        {
            _processes.TryRemove(id, out _);
            throw;
        }
    }

    public async Task<byte[]> ReadFileAsync(string path, long maxBytes, CancellationToken ct) =>
        (await CallAsync(ReqFsRead, w => { w.Str(path); w.U64((ulong)maxBytes); }, ct)).Payload;

    public async Task<long> WriteFileAsync(string path, ReadOnlyMemory<byte> content, CancellationToken ct)
    {
        var (_, payload) = await CallAsync(ReqFsWrite, w => { w.Str(path); w.U32(0x1A4); w.Raw(content.Span); }, ct); // 0644
        return (long)BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    public async Task<IReadOnlyList<FileEntry>> ListAsync(string path, CancellationToken ct)
    {
        var (_, payload) = await CallAsync(ReqFsList, w => w.Str(path), ct);
        var r = new FrameReader(payload);
        var count = r.U32();
        var entries = new List<FileEntry>((int)Math.Min(count, 10_000));
        for (var i = 0; i < count; i++)
        {
            var name = r.Str();
            var type = (FileEntryType)r.U8();
            var size = (long)r.U64();
            var mtime = DateTimeOffset.FromUnixTimeMilliseconds((long)r.U64());
            entries.Add(new FileEntry(name, type, size, mtime));
        }
        return entries;
    }

    private uint NextId() => (uint)Interlocked.Increment(ref _nextId);

    private async Task<(byte Type, byte[] Payload)> CallAsync(byte type, Action<FrameWriter> body, CancellationToken ct)
    {
        var id = NextId();
        var reply = new TaskCompletionSource<(byte, byte[])>(TaskCreationOptions.RunContinuationsAsynchronously);
        _calls[id] = reply;
        try
        {
            await SendAsync(type, id, body, ct);
            return await reply.Task.WaitAsync(ct);
        }
        finally
        {
            _calls.TryRemove(id, out _);
        }
    }

    internal async Task SendAsync(byte type, uint id, Action<FrameWriter> body, CancellationToken ct)
    {
        if (_closed.Task.IsCompleted) throw Gone();
        var w = new FrameWriter();
        w.U32(0); // length, patched below
        w.U8(type);
        w.U32(id);
        body(w);
        var frame = w.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(frame.Length - 4));
        await _writeLock.WaitAsync(ct);
        try
        {
            await _input.WriteAsync(frame, ct);
            await _input.FlushAsync(ct);
        }
        catch (IOException)
        {
            throw Gone();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static AgentException Gone() => new(AgentError.Gone, "the sandbox is not running any more");

    private async Task ReadLoopAsync()
    {
        var header = new byte[9];
        try
        {
            while (true)
            {
                if (!await ReadExactlyAsync(header)) break;
                var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
                if (length < 5 || length > MaxFrame) throw new InvalidDataException($"agent frame of {length} bytes");
                var type = header[4];
                var id = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(5));
                var payload = new byte[length - 5];
                if (!await ReadExactlyAsync(payload)) break;
                Dispatch(type, id, payload);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ObjectDisposedException)
        {
            _logger.LogWarning(ex, "Sandbox agent connection broke");
        }
        finally
        {
            _closed.TrySetResult();
            foreach (var call in _calls.Values) call.TrySetException(Gone());
            foreach (var p in _processes.Values)
            {
                p.Started.TrySetException(Gone());
                p.Exit.TrySetException(Gone());
                p.Output.Writer.TryComplete();
            }
        }
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer)
    {
        try
        {
            await _output.ReadExactlyAsync(buffer);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }

    private void Dispatch(byte type, uint id, byte[] payload)
    {
        switch (type)
        {
            case ResStarted when _processes.TryGetValue(id, out var p):
                p.Started.TrySetResult((int)BinaryPrimitives.ReadUInt32LittleEndian(payload));
                return;
            case ResOut when _processes.TryGetValue(id, out var p):
                p.Output.Writer.TryWrite((payload[0], payload[1..]));
                return;
            case ResAck when _processes.TryGetValue(id, out var p):
                p.Acknowledge((long)BinaryPrimitives.ReadUInt64LittleEndian(payload));
                return;
            case ResExit when _processes.TryRemove(id, out var p):
            {
                var r = new FrameReader(payload);
                var signaled = r.U8() == 1;
                var code = (int)r.U32();
                var timedOut = r.U8() == 1;
                var micros = (long)r.U64();
                p.Output.Writer.TryComplete();
                p.Exit.TrySetResult(new ProcessExit(signaled ? null : code, signaled ? code : null, timedOut, TimeSpan.FromMicroseconds(micros)));
                return;
            }
            case ResError:
            {
                var r = new FrameReader(payload);
                var error = new AgentException((AgentError)r.U32(), r.Str());
                if (_processes.TryRemove(id, out var p))
                {
                    p.Started.TrySetException(error);
                    p.Output.Writer.TryComplete();
                    p.Exit.TrySetException(error);
                }
                else if (_calls.TryGetValue(id, out var call))
                {
                    call.TrySetException(error);
                }
                return;
            }
            case ResOk or ResData or ResList or ResPong when _calls.TryGetValue(id, out var call):
                call.TrySetResult((type, payload));
                return;
            default:
                _logger.LogDebug("Sandbox agent frame {Type} for unknown request {Id}", type, id);
                return;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await _input.DisposeAsync(); }
        catch (IOException) { }
    }

    internal sealed class FrameWriter
    {
        private readonly MemoryStream _ms = new();
        public void U8(byte v) => _ms.WriteByte(v);
        public void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); _ms.Write(b); }
        public void U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); _ms.Write(b); }
        public void Str(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            U32((uint)bytes.Length);
            _ms.Write(bytes);
        }
        public void Raw(ReadOnlySpan<byte> bytes) => _ms.Write(bytes);
        public byte[] ToArray() => _ms.ToArray();
    }

    private ref struct FrameReader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;
        public byte U8() { var v = _rest[0]; _rest = _rest[1..]; return v; }
        public uint U32() { var v = BinaryPrimitives.ReadUInt32LittleEndian(_rest); _rest = _rest[4..]; return v; }
        public ulong U64() { var v = BinaryPrimitives.ReadUInt64LittleEndian(_rest); _rest = _rest[8..]; return v; }
        public string Str()
        {
            var n = (int)U32();
            var s = Encoding.UTF8.GetString(_rest[..n]);
            _rest = _rest[n..];
            return s;
        }
    }
}
