using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Plexus.Devices.Tests")]
