// Every test boots a QEMU guest under TCG, which takes both of the machine's cores: one VM at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
