using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Plexus.Cli.Tests")]
