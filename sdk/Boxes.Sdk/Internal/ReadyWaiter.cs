namespace Boxes.Sdk.Internal;

/// <summary>Polls a box until it is ready, with a short backoff: a warm pool answers in tens of milliseconds.</summary>
internal static class ReadyWaiter
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LongestPause = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Reads the box until its status is <c>ready</c> and returns it. <c>failed</c> is a <see cref="BoxesError"/>
    /// (<c>BOX_FAILED</c>, with its endReason), <c>ending</c>/<c>ended</c> (<c>BOX_ENDED</c>) and <c>paused</c>
    /// (<c>BOX_PAUSED</c>) likewise, since none of them becomes ready by waiting; no ready status within
    /// <paramref name="timeoutMs"/> is <c>TIMEOUT</c>.
    /// </summary>
    public static async Task<T> WaitAsync<T>(
        Func<CancellationToken, Task<T>> read, Func<T, string> status, Func<T, string?> endReason,
        string noun, string id, int timeoutMs, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(timeoutMs);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeoutMs);
        var pause = FirstPause;
        var last = "unknown";
        try
        {
            while (true)
            {
                var box = await read(deadline.Token).ConfigureAwait(false);
                last = status(box);
                switch (last)
                {
                    case "ready":
                        return box;
                    case "failed":
                        throw new BoxesError(0, BoxesError.BoxFailedCode, $"{noun} {id} failed: {endReason(box) ?? "no reason given"}.");
                    case "ending" or "ended":
                        throw new BoxesError(0, BoxesError.BoxEndedCode,
                            $"{noun} {id} is {last} ({endReason(box) ?? "no reason given"}), so it will not become ready.");
                    case "paused":
                        throw new BoxesError(0, BoxesError.BoxPausedCode, $"{noun} {id} is paused: resume it rather than wait for it.");
                }
                await Task.Delay(pause, deadline.Token).ConfigureAwait(false);
                pause = TimeSpan.FromTicks(Math.Min(LongestPause.Ticks, pause.Ticks * 3 / 2));
            }
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new BoxesError(0, BoxesError.TimeoutCode, $"{noun} {id} was not ready within {timeoutMs} ms (last status: {last}).", innerException: ex);
        }
    }
}
