using Xunit;

// One test class at a time: several classes measure when retries fire (hundreds of milliseconds apart) and how
// many requests are in flight at once, which other classes' hosts competing for two cores would blur.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
