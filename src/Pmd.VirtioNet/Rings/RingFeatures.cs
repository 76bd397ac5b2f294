namespace Pmd.VirtioNet.Rings;

/// <summary>The negotiated features that change how a ring is driven.</summary>
internal readonly record struct RingFeatures(bool EventIndex, bool InOrder, bool IndirectDescriptors);
