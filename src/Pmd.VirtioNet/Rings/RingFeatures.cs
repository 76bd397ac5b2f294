namespace Pmd.VirtioNet.Rings;

/// <summary>
/// The negotiated features that change how a ring is driven, and whether it takes its batched,
/// vectorized path (<see cref="VectorPath"/>): descriptors written in one 16-byte store each and
/// published once per batch, and IN_ORDER completions of a batch learned from one used entry.
/// </summary>
internal readonly record struct RingFeatures(bool EventIndex, bool InOrder, bool IndirectDescriptors, bool Vectorized = false);
