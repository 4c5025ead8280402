using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Plexus.Query.Tests")]
