// Locals in this assembly are scratch buffers for syscalls and bursts; zeroing them costs more than it buys.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
