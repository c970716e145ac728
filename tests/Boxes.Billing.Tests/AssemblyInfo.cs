using Xunit;

// One test class at a time: the feed's read horizon (pg_snapshot_xmin) is server-wide, and FeedTests holds a
// transaction open on purpose, which would hold back every other class's feed reads; and running-box classes time
// pieces against the clock, which classes competing for two cores would blur.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
