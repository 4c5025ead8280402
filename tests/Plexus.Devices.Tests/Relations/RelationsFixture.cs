using Microsoft.Extensions.Time.Testing;
using Plexus.Storage;
using Plexus.TestKit;

namespace Plexus.Devices.Tests.Relations;

/// <summary>A real store in a temp folder with the device registry, assets and device links on a fake clock.</summary>
internal sealed class RelationsFixture : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new("plexus-relations");

    public RelationsFixture(string? deviceTag = null)
    {
        Store = PlexusStore.Open(new StorageOptions { DataDirectory = _directory.Path });
        Devices = DeviceRegistry.Open(Store, Time);
        Assets = AssetRegistry.Open(Store, Devices, Time);
        Links = DeviceLinks.Open(Store, DeviceTagMap.Parse(deviceTag));
    }

    public FakeTimeProvider Time { get; } = new(Start);

    public PlexusStore Store { get; private set; }

    public DeviceRegistry Devices { get; private set; }

    public AssetRegistry Assets { get; private set; }

    public DeviceLinks Links { get; private set; }

    /// <summary>Closes everything and opens the same data folder again, as a server restart does.</summary>
    public async Task ReopenAsync()
    {
        Links.Dispose();
        Assets.Dispose();
        Devices.Dispose();
        await Store.DisposeAsync();
        Store = PlexusStore.Open(new StorageOptions { DataDirectory = _directory.Path });
        Devices = DeviceRegistry.Open(Store, Time);
        Assets = AssetRegistry.Open(Store, Devices, Time);
        Links = DeviceLinks.Open(Store, Links.Tags);
    }

    public List<object?[]> Rows(string sql) => StoreRows.Read(Store, sql);

    public static string Sql(DateTimeOffset time) => $"TIMESTAMP '{time.UtcDateTime:yyyy-MM-dd HH:mm:ss.ffffff}'";

    public async ValueTask DisposeAsync()
    {
        Links.Dispose();
        Assets.Dispose();
        Devices.Dispose();
        await Store.DisposeAsync();
        _directory.Dispose();
    }
}
