using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Pmd.Benchmarks.MempoolBenchmarks).Assembly).Run(args);
