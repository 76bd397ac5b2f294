// Each real-peer test runs DPDK's testpmd and ours, both busy-polling a core of the machine's
// two; they must not overlap.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
