// The real-peer tests each run DPDK's testpmd, which busy-polls one of the machine's cores; they
// must not overlap with each other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
