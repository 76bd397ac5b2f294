// Locals in this assembly are scratch buffers for syscalls and bursts; zeroing them costs more than it buys.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
// The fuzz harnesses (fuzz/Pmd.Fuzz) drive internal rings, queues and parsers directly.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Pmd.Fuzz")]
