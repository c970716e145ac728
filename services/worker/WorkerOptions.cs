using Boxes.Contracts;

namespace Boxes.Worker;

/// <summary>Who this worker is and how much it can hold (config section <c>Worker</c>).</summary>
public sealed class WorkerOptions
{
    /// <summary>Stable id; the scheduler sends this worker's commands to <see cref="WorkerQueues.For"/>(Id).</summary>
    public string Id { get; set; } = $"worker-{Environment.MachineName.ToLowerInvariant()}";
    /// <summary>Where this worker's data plane listens, as other hosts reach it.</summary>
    public string Address { get; set; } = "http://127.0.0.1:8082";
    public string Region { get; set; } = "local";
    /// <summary>Slots: a light browser takes 1, medium 2, heavy 4.</summary>
    public int Capacity { get; set; } = 8;
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);
}
