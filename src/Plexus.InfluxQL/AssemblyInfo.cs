using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Plexus.InfluxQL.Tests")]
