/// <summary>Percentiles and the one-line report every measure prints.</summary>
internal static class Stats
{
    public static void Report(string what, List<double> ms) =>
        Console.WriteLine($"{what}: p50 {Percentile(ms, 50):0.0} ms, p95 {Percentile(ms, 95):0.0} ms, min {ms.Min():0.0}, max {ms.Max():0.0}");

    public static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
