using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>
/// The live state's copy for SQL: <c>_plexus.device_state</c> (one row per device seen) and the
/// <c>main.device_state</c> view over it and the registry. Changed devices are marked dirty and written every flush
/// interval on the live state's own connection, so SQL sees a change within one interval.
/// </summary>
internal sealed class LiveStateSnapshot : IDisposable
{
    private readonly MetadataConnection _connection;
    private readonly ConcurrentDictionary<string, LiveDevice> _devices;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private Task _flushLoop = Task.CompletedTask;

    public LiveStateSnapshot(MetadataConnection connection, ConcurrentDictionary<string, LiveDevice> devices, ILogger logger)
    {
        _connection = connection;
        _devices = devices;
        _logger = logger;
    }

    /// <summary>Creates the snapshot table and (again) the view; the registry's table must exist (the view joins it).</summary>
    public void EnsureCreated()
    {
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {DeviceDataNames.DeviceStateTable} (
                device VARCHAR PRIMARY KEY,
                online BOOLEAN NOT NULL,
                last_seen TIMESTAMP,
                properties VARCHAR NOT NULL,
                lat DOUBLE,
                lon DOUBLE,
                position_time TIMESTAMP)
            """);

        // One row per registered or seen device; properties as MAP(VARCHAR, VARCHAR) so SQL can say properties['firmware'].
        _connection.Execute($$"""
            CREATE OR REPLACE VIEW {{DeviceDataNames.Namespace}}.{{DeviceDataNames.DeviceState}} AS
            SELECT coalesce(s.device, d.id) AS device,
                   coalesce(s.online, false) AS online,
                   s.last_seen,
                   CAST(json(coalesce(s.properties, '{}')) AS MAP(VARCHAR, VARCHAR)) AS properties,
                   s.lat, s.lon, s.position_time
            FROM {{DeviceDataNames.DeviceStateTable}} s FULL OUTER JOIN {{DeviceRegistry.TableName}} d ON d.id = s.device
            """);
    }

    public void MarkDirty(string device) => _dirty.TryAdd(device, 0);

    /// <summary>Replaces the whole table with the devices in memory (at start, after loading them from history).</summary>
    public void Rewrite()
    {
        _connection.InTransaction(() =>
        {
            _connection.Execute($"DELETE FROM {DeviceDataNames.DeviceStateTable}");
            foreach (string device in _devices.Keys)
            {
                Upsert(device);
            }
        });
        _dirty.Clear();
    }

    /// <summary>Flushes the dirty devices every <paramref name="interval"/> until <see cref="StopAsync"/>.</summary>
    public void Start(TimeSpan interval, TimeProvider time) => _flushLoop = FlushLoopAsync(interval, time);

    /// <summary>Writes the dirty devices now.</summary>
    public void Flush()
    {
        _flushGate.Wait();
        try
        {
            FlushDirty();
        }
        finally
        {
            _flushGate.Release();
        }
    }

    /// <summary>Ends the flush loop, then writes what is still dirty; a failure is logged.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _flushLoop;
        }
        catch (OperationCanceledException)
        {
        }

        try
        {
            Flush();
        }
        catch (Exception error) when (error is DuckDBException or InvalidOperationException)
        {
            DeviceStateLog.FlushFailed(_logger, error);
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _flushGate.Dispose();
    }

    private async Task FlushLoopAsync(TimeSpan interval, TimeProvider time)
    {
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(_stop.Token))
        {
            if (_dirty.IsEmpty)
            {
                continue;
            }

            try
            {
                Flush();
            }
            catch (Exception error) when (error is DuckDBException or InvalidOperationException)
            {
                DeviceStateLog.FlushFailed(_logger, error);
            }
        }
    }

    private void FlushDirty()
    {
        if (_dirty.IsEmpty)
        {
            return;
        }

        var devices = _dirty.Keys.ToList();
        foreach (string device in devices)
        {
            _dirty.TryRemove(device, out _);
        }

        try
        {
            _connection.InTransaction(() =>
            {
                foreach (string device in devices)
                {
                    Upsert(device);
                }
            });
        }
        catch
        {
            // Tried again with the next flush.
            foreach (string device in devices)
            {
                MarkDirty(device);
            }

            throw;
        }
    }

    private void Upsert(string device)
    {
        var entry = _devices[device];
        bool online;
        long lastSeen;
        string properties;
        object lat, lon, positionTime;
        lock (entry.Sync)
        {
            online = entry.Online;
            lastSeen = entry.LastSeenNs;
            properties = PropertiesJson(entry);
            lat = entry.HasPosition ? entry.Lat : DBNull.Value;
            lon = entry.HasPosition ? entry.Lon : DBNull.Value;
            positionTime = entry.HasPosition ? LiveDevice.TimeOf(entry.PositionNs).UtcDateTime : DBNull.Value;
        }

        _connection.Execute(
            $"INSERT OR REPLACE INTO {DeviceDataNames.DeviceStateTable} VALUES ($1, $2, $3, $4, $5, $6, $7)",
            device, online, lastSeen == 0 ? null : LiveDevice.TimeOf(lastSeen).UtcDateTime, properties, lat, lon, positionTime);
    }

    private static string PropertiesJson(LiveDevice entry)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in entry.Properties.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                json.WriteString(name, value.Value);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
