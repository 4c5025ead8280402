// One file on purpose (about 620 lines): every change of the registry follows one order under one lock (credential
// journal, then SQL, then the in-memory map), and add, update, remove, rotate and the bulk import are that order
// written out; kept together so the order can be checked in one place.
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Plexus.Core;
using Plexus.Storage;
using static Plexus.Devices.RegistryFields;

namespace Plexus.Devices;

/// <summary>
/// The device registry: metadata in <c>_plexus.devices</c> and the SQL view <c>main.devices</c>; token hashes in
/// <see cref="DeviceCredentialFile"/>, outside the database, where no query can read them; device token validation for
/// the broker and HTTP writes.
/// </summary>
/// <remarks>
/// Design note: the table is the truth; this class also keeps every device in memory (a sorted map by id), loaded
/// at open and changed after each committed write, so that listing, filtering by tag and — on every MQTT CONNECT —
/// token validation never touch the database. A registry of 100,000 devices is a few tens of MB.
/// <code>
///   add/update/remove/rotate ─▶ lock ─▶ token hash to the credential journal (synced) when it changes
///                                      └─▶ parameterized SQL on the registry's own connection (autocommit)
///                                      └─▶ then the in-memory map (readers see only committed changes)
/// </code>
/// Writes are serialized by one lock; the registry's connection is separate from the store's writer, and DuckDB
/// runs the two transactions concurrently in-process.
/// </remarks>
public sealed class DeviceRegistry : IDisposable
{
    public const string TokenPrefix = "plxd_";
    public const string TableName = "_plexus.devices";

    /// <summary>The journal of device token hashes in the data folder.</summary>
    public const string CredentialFileName = DeviceCredentialFile.FileName;

    /// <summary>The SQL view; the measurement name <c>devices</c> in namespace <c>main</c> is therefore reserved.</summary>
    public const string ViewName = "main.devices";

    private static readonly byte[] NoSuchDeviceHash = SHA256.HashData("no such device"u8);

    private readonly MetadataConnection _connection;
    private readonly DeviceCredentialFile _credentials;
    private readonly Dictionary<string, byte[]> _storedHashes;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Device> _devices = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _tokenHashes = new(StringComparer.Ordinal);

    // Token hash (hex) to device id, for HTTP writes whose token alone names the device.
    private readonly ConcurrentDictionary<string, string> _idsByHash = new(StringComparer.Ordinal);
    private int _disposed;

    private DeviceRegistry(MetadataConnection connection, DeviceCredentialFile credentials, Dictionary<string, byte[]> storedHashes, TimeProvider time)
    {
        _connection = connection;
        _credentials = credentials;
        _storedHashes = storedHashes;
        _time = time;
        Certificates = new DeviceCertificates(connection, _lock, ContainsUnlocked, time);
    }

    /// <summary>The client certificates devices authenticate with over MQTT TLS.</summary>
    public DeviceCertificates Certificates { get; }

    /// <summary>
    /// Called with the device id after its token stopped working (rotated, or the device removed), outside the
    /// registry's lock; the server uses it to disconnect the device's open MQTT connections.
    /// </summary>
    public Action<string>? TokenRevoked { get; set; }

    /// <summary>The devices' measurement allow-lists, for the broker and the HTTP write endpoint; changes with the registry.</summary>
    public MeasurementAllowLists AllowLists { get; } = new();

    /// <summary>Assets share the lock and the id space with devices, and may be a device's parent.</summary>
    internal AssetRegistry? Assets { get; set; }

    internal Lock SyncRoot => _lock;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _devices.Count;
            }
        }
    }

    /// <summary>Creates the table and view if needed and loads the registry.</summary>
    public static DeviceRegistry Open(PlexusStore store, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        DeviceCredentialFile? credentials = null;
        try
        {
            credentials = DeviceCredentialFile.Open(store.Options.DataDirectory, out var hashes);
            var registry = new DeviceRegistry(connection, credentials, hashes, time ?? TimeProvider.System);
            registry.EnsureCreated();
            registry.Load();
            registry.Certificates.EnsureCreatedAndLoad();
            return registry;
        }
        catch
        {
            credentials?.Dispose();
            connection.Dispose();
            throw;
        }
    }

    public Device? Get(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_lock)
        {
            return _devices.GetValueOrDefault(id);
        }
    }

    /// <summary>Devices in id order having every one of <paramref name="tags"/>, paged; <c>Total</c> counts all matches.</summary>
    public DevicePage List(IReadOnlyList<KeyValuePair<string, string>>? tags = null, int limit = 100, int offset = 0) =>
        List(tags, null, limit, offset);

    /// <summary>
    /// As above, also keeping only the devices <paramref name="match"/> accepts (the console's search, type and online
    /// filters). It runs under the registry's lock, so it must be quick and must not call back into the registry.
    /// </summary>
    public DevicePage List(IReadOnlyList<KeyValuePair<string, string>>? tags, Func<Device, bool>? match, int limit, int offset)
    {
        if (limit < 0)
        {
            throw RegistryException.Invalid("limit", "limit must be 0 or more");
        }

        if (offset < 0)
        {
            throw RegistryException.Invalid("offset", "offset must be 0 or more");
        }

        var page = new List<Device>(Math.Min(limit, 1000));
        int total = 0;
        lock (_lock)
        {
            foreach (var device in _devices.Values)
            {
                if ((tags is not null && !HasAll(device.Tags, tags)) || (match is not null && !match(device)))
                {
                    continue;
                }

                if (total >= offset && page.Count < limit)
                {
                    page.Add(device);
                }

                total++;
            }
        }

        return new DevicePage(page, total);
    }

    public RegisteredDevice Add(NewDevice device) => Add(device, NewToken());

    /// <summary>
    /// Registers a device whose token the caller chose (auto-provisioning derives it from the provisioning key);
    /// the token must be long and random enough to be a secret, which is the caller's duty.
    /// </summary>
    public RegisteredDevice AddWithToken(NewDevice device, string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        return Add(device, token);
    }

    /// <summary>The id of the device whose current token this is, or null; for HTTP writes with a device token.</summary>
    public string? FindByToken(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 1024)
        {
            return null;
        }

        return _idsByHash.GetValueOrDefault(Convert.ToHexStringLower(Hash(token)));
    }

    private RegisteredDevice Add(NewDevice device, string token)
    {
        ArgumentNullException.ThrowIfNull(device);
        var (created, measurements) = CheckNew(device);
        byte[] hash = Hash(token);
        lock (_lock)
        {
            ThrowIfDisposed();
            CheckFree(created);
            Commit([new PendingDevice(created, measurements, token, hash)]);
            return new RegisteredDevice(created, token);
        }
    }

    /// <summary>
    /// Registers many devices at once, in order, each standing alone: a device that is refused (bad id, taken id,
    /// unknown parent...) gets its <see cref="RegistryException"/> and the others are registered. A device may name
    /// an earlier one of the same call as its parent. The accepted ones cost one sync of the credentials and one
    /// metadata transaction together, not one each, so a fleet of 10,000 registers in seconds.
    /// </summary>
    public IReadOnlyList<(RegisteredDevice? Added, RegistryException? Error)> AddMany(IReadOnlyList<NewDevice> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        var results = new (RegisteredDevice? Added, RegistryException? Error)[devices.Count];
        var checkedDevices = new (Device Created, IReadOnlyList<string>? Measurements)?[devices.Count];
        for (int index = 0; index < devices.Count; index++)
        {
            try
            {
                checkedDevices[index] = CheckNew(devices[index]);
            }
            catch (RegistryException error)
            {
                results[index] = (null, error);
            }
        }

        lock (_lock)
        {
            ThrowIfDisposed();
            var pending = new List<PendingDevice>();
            var accepted = new List<int>();
            try
            {
                for (int index = 0; index < devices.Count; index++)
                {
                    if (checkedDevices[index] is not var (created, measurements))
                    {
                        continue;
                    }

                    try
                    {
                        CheckFree(created);
                    }
                    catch (RegistryException error)
                    {
                        results[index] = (null, error);
                        continue;
                    }

                    string token = NewToken();
                    pending.Add(new PendingDevice(created, measurements, token, Hash(token)));
                    accepted.Add(index);

                    // Visible to the checks of the devices after it (a later one may hang from it), taken back below
                    // if the batch cannot be stored.
                    _devices.Add(created.Id, created);
                }
            }
            finally
            {
                foreach (var device in pending)
                {
                    _devices.Remove(device.Created.Id);
                }
            }

            if (pending.Count > 0)
            {
                Commit(pending);
            }

            for (int i = 0; i < pending.Count; i++)
            {
                results[accepted[i]] = (new RegisteredDevice(pending[i].Created, pending[i].Token), null);
            }
        }

        return results;
    }

    private (Device Created, IReadOnlyList<string>? Measurements) CheckNew(NewDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        DeviceValidation.RequireId(device.Id);
        DeviceValidation.CheckMetadata(device.Name, device.Type, device.Tags);
        var measurements = DeviceValidation.CheckMeasurements(device.Measurements);
        var now = Now();
        return (new Device(device.Id, device.Name, device.Type, Copy(device.Tags), device.Parent, now, now, measurements), measurements);
    }

    /// <summary>Under the lock: the id is free among devices and assets, and the parent exists without a cycle.</summary>
    private void CheckFree(Device created)
    {
        if (_devices.ContainsKey(created.Id))
        {
            throw RegistryException.Conflict("id", $"a device \"{created.Id}\" is already registered; rotate its token or remove it first");
        }

        if (Assets?.ContainsUnlocked(created.Id) == true)
        {
            throw RegistryException.Conflict("id", $"an asset \"{created.Id}\" exists; devices and assets share one id space, choose another id");
        }

        CheckParent(created.Id, created.Parent);
    }

    private sealed record PendingDevice(Device Created, IReadOnlyList<string>? Measurements, string Token, byte[] Hash);

    /// <summary>Under the lock: stores checked devices durably, then makes them known (their tokens work from here).</summary>
    private void Commit(IReadOnlyList<PendingDevice> pending)
    {
        // The hashes first: a device row without its credential could not connect, a credential without its row is
        // ignored at load. If the rows cannot be written, the credentials are taken back.
        _credentials.SetAll(pending.Select(device => KeyValuePair.Create(device.Created.Id, device.Hash)));
        try
        {
            _connection.InTransaction(() =>
            {
                // A few hundred rows per statement: one statement per device made 10,000 devices take minutes.
                const int RowsPerStatement = 200;
                for (int first = 0; first < pending.Count; first += RowsPerStatement)
                {
                    int count = Math.Min(RowsPerStatement, pending.Count - first);
                    var insert = new StringBuilder($"INSERT INTO {TableName} (id, name, type, tags, parent, created_at, updated_at, measurements) VALUES ");
                    var parameters = new object?[count * 8];
                    for (int i = 0; i < count; i++)
                    {
                        var (created, measurements, _, _) = pending[first + i];
                        var at = created.CreatedAt.UtcDateTime;
                        int p = i * 8;
                        insert.Append(i == 0 ? "(" : ", (");
                        for (int column = 1; column <= 8; column++)
                        {
                            insert.Append(column == 1 ? "$" : ", $").Append(p + column);
                        }

                        insert.Append(')');
                        (parameters[p], parameters[p + 1], parameters[p + 2], parameters[p + 3]) = (created.Id, created.Name, created.Type, TagsJson(created.Tags));
                        (parameters[p + 4], parameters[p + 5], parameters[p + 6], parameters[p + 7]) = (created.Parent, at, at, MeasurementsJson(measurements));
                    }

                    _connection.Execute(insert.ToString(), parameters);
                }

                RegistryHistory.RecordMany(_connection, RegistryHistory.DeviceTable,
                    [.. pending.Select(device => (device.Created.Id, device.Created.Name, device.Created.Type, TagsJson(device.Created.Tags), device.Created.Parent, device.Created.CreatedAt.UtcDateTime))]);
            });
        }
        catch
        {
            _credentials.RemoveAll(pending.Select(device => device.Created.Id));
            throw;
        }

        foreach (var (created, measurements, _, hash) in pending)
        {
            _devices.Add(created.Id, created);
            AllowLists.Set(created.Id, measurements);
            _tokenHashes[created.Id] = hash;
            _idsByHash[Convert.ToHexStringLower(hash)] = created.Id;
        }
    }

    public Device Update(string id, DeviceChanges changes)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(changes);
        DeviceValidation.CheckChanges(changes.NameSet, changes.Name, changes.TypeSet, changes.Type, changes.TagsSet, changes.Tags);
        var measurements = changes.MeasurementsSet ? DeviceValidation.CheckMeasurements(changes.Measurements) : null;

        lock (_lock)
        {
            ThrowIfDisposed();
            var existing = _devices.GetValueOrDefault(id) ?? throw NotFound(id);
            if (changes.ParentSet)
            {
                CheckParent(id, changes.Parent);
            }

            var updated = existing with
            {
                Name = changes.NameSet ? changes.Name : existing.Name,
                Type = changes.TypeSet ? changes.Type : existing.Type,
                Tags = changes.TagsSet ? Copy(changes.Tags) : existing.Tags,
                Parent = changes.ParentSet ? changes.Parent : existing.Parent,
                Measurements = changes.MeasurementsSet ? measurements : existing.Measurements,
                UpdatedAt = Now(existing.UpdatedAt),
            };
            _connection.InTransaction(() =>
            {
                _connection.Execute(
                    $"UPDATE {TableName} SET name = $2, type = $3, tags = $4, parent = $5, updated_at = $6, measurements = $7 WHERE id = $1",
                    id, updated.Name, updated.Type, TagsJson(updated.Tags), updated.Parent, updated.UpdatedAt.UtcDateTime, MeasurementsJson(updated.Measurements));
                RegistryHistory.Record(_connection, RegistryHistory.DeviceTable, id, updated.Name, updated.Type, TagsJson(updated.Tags), updated.Parent, updated.UpdatedAt.UtcDateTime);
            });
            _devices[id] = updated;
            AllowLists.Set(id, updated.Measurements);
            return updated;
        }
    }

    /// <summary>Removes a device; its token stops working at once. False when no such device.</summary>
    public bool Remove(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_devices.TryGetValue(id, out var existing))
            {
                return false;
            }

            _connection.InTransaction(() =>
            {
                _connection.Execute($"DELETE FROM {TableName} WHERE id = $1", id);
                Certificates.RemoveDeviceUnlocked(id);
                RegistryHistory.Close(_connection, RegistryHistory.DeviceTable, id, Now(existing.UpdatedAt).UtcDateTime);
            });
            _credentials.Remove(id);
            _devices.Remove(id);
            Certificates.ForgetDeviceUnlocked(id);
            AllowLists.Set(id, null);
            if (_tokenHashes.TryRemove(id, out byte[]? removed))
            {
                _idsByHash.TryRemove(Convert.ToHexStringLower(removed), out _);
            }
        }

        TokenRevoked?.Invoke(id);
        return true;
    }

    /// <summary>A new token for the device, shown once; the old one stops working at once (new CONNECTs are refused).</summary>
    public string RotateToken(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        string token = NewToken();
        byte[] hash = Hash(token);
        lock (_lock)
        {
            ThrowIfDisposed();
            var existing = _devices.GetValueOrDefault(id) ?? throw NotFound(id);
            var updated = existing with { UpdatedAt = Now() };
            _credentials.Set(id, hash);
            _connection.Execute($"UPDATE {TableName} SET updated_at = $2 WHERE id = $1", id, updated.UpdatedAt.UtcDateTime);
            _devices[id] = updated;
            if (_tokenHashes.TryGetValue(id, out byte[]? old))
            {
                _idsByHash.TryRemove(Convert.ToHexStringLower(old), out _);
            }

            _tokenHashes[id] = hash;
            _idsByHash[Convert.ToHexStringLower(hash)] = id;
        }

        TokenRevoked?.Invoke(id);
        return token;
    }

    /// <summary>
    /// True when <paramref name="token"/> is the device's current token. The hash comparison is constant-time, and
    /// an unknown device is compared against a dummy hash, so timing tells neither the token nor whether the id exists.
    /// </summary>
    public bool Validate(string? deviceId, string? token)
    {
        if (string.IsNullOrEmpty(deviceId) || string.IsNullOrEmpty(token) || token.Length > 1024)
        {
            return false;
        }

        bool known = _tokenHashes.TryGetValue(deviceId, out byte[]? expected);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        byte[] utf8 = Encoding.UTF8.GetBytes(token);
        SHA256.HashData(utf8, hash);
        bool equal = CryptographicOperations.FixedTimeEquals(hash, known ? expected : NoSuchDeviceHash);
        return known && equal;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _connection.Dispose();
                _credentials.Dispose();
            }
        }
    }

    private void EnsureCreated()
    {
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {TableName} (
                id VARCHAR PRIMARY KEY,
                name VARCHAR,
                type VARCHAR,
                tags VARCHAR NOT NULL,
                parent VARCHAR,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                measurements VARCHAR)
            """);
        MoveTokenHashesOutOfTheDatabase();

        // The allow-list came after the table: a registry made before it gets the column, NULL (any) for every device.
        _connection.Execute($"ALTER TABLE {TableName} ADD COLUMN IF NOT EXISTS measurements VARCHAR");

        // Tags are stored as JSON text and shown as MAP(VARCHAR, VARCHAR), so SQL can say tags['fleet'].
        _connection.Execute($"""
            CREATE OR REPLACE VIEW {ViewName} AS
            SELECT id, name, type, CAST(json(tags) AS MAP(VARCHAR, VARCHAR)) AS tags, parent, created_at, updated_at, {MeasurementsSql}
            FROM {TableName}
            """);
        _connection.Execute(RegistryHistory.CreateSql(RegistryHistory.DeviceTable));
        _connection.Execute(RegistryHistory.BackfillSql(RegistryHistory.DeviceTable, TableName));
    }

    /// <summary>The allow-list as the views show it: a list of names, NULL for any (main.devices' last column).</summary>
    internal const string MeasurementsSql = "CAST(json(measurements) AS VARCHAR[]) AS measurements";

    internal bool ContainsUnlocked(string id) => _devices.ContainsKey(id);

    /// <summary>Ids of the devices whose parent is <paramref name="parent"/>; the caller holds <see cref="SyncRoot"/>.</summary>
    internal List<string> ChildrenOfUnlocked(string parent) =>
        [.. _devices.Values.Where(d => string.Equals(d.Parent, parent, StringComparison.Ordinal)).Select(d => d.Id)];

    /// <summary>
    /// Data folders from before kept the hashes in a column of the registry table, where any read token could select
    /// them: they move to the credential journal (synced) before the column is dropped, so a crash in between only
    /// repeats the move. A checkpoint then takes them out of the database's own log.
    /// </summary>
    private void MoveTokenHashesOutOfTheDatabase()
    {
        long column = Convert.ToInt64(
            _connection.Scalar("SELECT count(*) FROM duckdb_columns() WHERE schema_name = '_plexus' AND table_name = 'devices' AND column_name = 'token_hash'"),
            System.Globalization.CultureInfo.InvariantCulture);
        if (column == 0)
        {
            return;
        }

        var moved = new List<KeyValuePair<string, byte[]>>();
        _connection.Query($"SELECT id, token_hash FROM {TableName}", reader => moved.Add(new(reader.GetString(0), Convert.FromHexString(reader.GetString(1)))));
        _credentials.SetAll(moved);
        foreach (var (id, hash) in moved)
        {
            _storedHashes[id] = hash;
        }

        _connection.Execute($"ALTER TABLE {TableName} DROP COLUMN token_hash");
        _connection.Execute("CHECKPOINT");
    }

    private void Load()
    {
        _connection.Query($"SELECT id, name, type, tags, parent, created_at, updated_at, measurements FROM {TableName}", reader =>
        {
            string id = reader.GetString(0);
            var device = new Device(
                id,
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                ParseTags(reader.GetString(3)),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                AsUtc(reader.GetDateTime(5)),
                AsUtc(reader.GetDateTime(6)),
                reader.IsDBNull(7) ? null : ParseMeasurements(reader.GetString(7)));
            _devices[id] = device;
            AllowLists.Set(id, device.Measurements);

            // A device whose credential is missing (a journal restored from an older backup) cannot connect until
            // its token is rotated; a credential without a device is left over from a removal and ignored.
            if (_storedHashes.TryGetValue(id, out byte[]? hash))
            {
                _tokenHashes[id] = hash;
                _idsByHash[Convert.ToHexStringLower(hash)] = id;
            }
        });

        _storedHashes.Clear();
    }

    private void CheckParent(string id, string? parent)
    {
        if (parent is null)
        {
            return;
        }

        DeviceValidation.RequireId(parent, "parent");
        if (string.Equals(parent, id, StringComparison.Ordinal))
        {
            throw RegistryException.Invalid("parent", "a device cannot be its own parent");
        }

        if (!_devices.TryGetValue(parent, out var parentDevice))
        {
            // Assets only ever hang from assets, so a device under an asset cannot close a cycle.
            if (Assets?.ContainsUnlocked(parent) == true)
            {
                return;
            }

            throw RegistryException.Invalid("parent", $"parent \"{parent}\" is neither a registered device nor an asset; register it first");
        }

        RegistryFields.CheckNoCycle(id, parent, parentDevice, _devices, d => d.Parent);
    }

    /// <summary>The answer to an id no device has.</summary>
    public static RegistryException NotFound(string id) => RegistryException.NotFound("id", $"no device \"{id}\" is registered");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private DateTimeOffset Now(DateTimeOffset? notBefore = null) => RegistryFields.Now(_time, notBefore);

    private static string NewToken() => TokenPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
