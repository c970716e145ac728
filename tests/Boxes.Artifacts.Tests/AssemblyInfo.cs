using Xunit;

// One test class at a time: the 100 MiB test reads the process's managed heap, which another class's
// uploads running alongside would inflate. The whole assembly still takes only seconds.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
