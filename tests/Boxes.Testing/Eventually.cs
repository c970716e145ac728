using System.Diagnostics;

namespace Boxes.Testing;

/// <summary>Waits on a condition with a deadline instead of sleeping for a fixed time.</summary>
public static class Eventually
{
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        var delay = 5;
        T last = default!;
        while (true)
        {
            last = await probe();
            if (done(last)) return last;
            if (sw.Elapsed > timeout)
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}; last value: {last}");
            await Task.Delay(delay);
            delay = Math.Min(delay * 2, 100);
        }
    }

    public static Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        Until(condition, ok => ok, timeout, what);

    public static Task Until(Func<bool> condition, TimeSpan timeout, string what) =>
        Until(() => Task.FromResult(condition()), ok => ok, timeout, what);
}
