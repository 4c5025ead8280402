using System.Runtime.CompilerServices;

// The writer's internals are measured directly: allocation budgets in the tests, the append path in benchmarks.
[assembly: InternalsVisibleTo("Plexus.Storage.Tests")]
[assembly: InternalsVisibleTo("Plexus.Benchmarks")]
