using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Storage.Cold;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;

namespace Plexus.Storage;

/// <summary>
/// The embedded store: one DuckDB database file in the data folder, one writer, and any number of read
/// connections for queries. Only this project and the query project know DuckDB types.
/// </summary>
public sealed class PlexusStore : IAsyncDisposable
{
    private readonly DuckDBConnection _root;
    private readonly ILogger _logger;
    private int _disposed;

    private readonly string _connectionString;

    private readonly Compactor _compactor;

    private PlexusStore(StorageOptions options, string connectionString, DuckDBConnection root, StoreWriter writer, ColdStore cold, ILogger logger)
    {
        _connectionString = connectionString;
        Options = options;
        _root = root;
        Writer = writer;
        Cold = cold;
        _logger = logger;
        _compactor = new Compactor(() => OpenConnection(waitForWrites: false), writer, cold, options.Time, logger);
    }

    /// <summary>The cold tier: Parquet files of compacted partitions (docs/storage.md#hot-and-cold-tiers).</summary>
    public ColdStore Cold { get; }

    /// <summary>Partitions the compactor committed since start.</summary>
    public long PartitionsCompacted => _compactor.PartitionsCompacted;

    /// <summary>Compacts every closed partition that has hot rows now, as a check of the compactor does; returns how many it committed.</summary>
    public Task<int> CompactAsync(CancellationToken cancellationToken = default) => _compactor.CompactAsync(cancellationToken);

    public StorageOptions Options { get; }

    public StoreWriter Writer { get; }

    /// <summary>
    /// Opens (or creates) the store. If the last run did not close cleanly, DuckDB replays its own log and the
    /// writer then applies the acknowledged writes that were only in Plexus's write log, before this returns.
    /// </summary>
    public static PlexusStore Open(StorageOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.SchemaLimits.Validate();
        if (options.ColdTier.Validate() is { } invalid)
        {
            throw new ArgumentException(invalid, nameof(options));
        }

        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Plexus.Storage");
        Directory.CreateDirectory(options.DataDirectory);
        var builder = new DuckDBConnectionStringBuilder
        {
            DataSource = options.DatabasePath,
            AutoinstallKnownExtensions = false,
        };
        var cold = new ColdStore(options.DataDirectory, options.ColdTier, options.Time, logger);

        // The engine's allocator keeps freed memory for reuse; after a wide result (a chunk of large strings lives
        // outside the buffer pool's limit) that cache held a second copy's worth while the next query allocated.
        // Returning memory once a task peaked past 64 MB, from background threads, kept a 400 MB answer's peak at
        // one copy in repeated runs.
        builder["allocator_flush_threshold"] = "64MB";
        builder["allocator_background_threads"] = "true";
        if (options.MemoryLimit is not null)
        {
            builder.MemoryLimit = options.MemoryLimit;
        }

        if (options.Threads is not null)
        {
            builder.Threads = options.Threads;
        }

        var root = new DuckDBConnection(builder.ConnectionString);
        try
        {
            root.Open();

            // SQL reaches the data through the query API; it must not read or write the server's files
            // (read_csv('/etc/...'), COPY, ATTACH) nor load extensions from the network. The one folder the engine may
            // still reach is the cold tier's, whose Parquet files the views read and the compactor writes; the query
            // API's plan check refuses COPY and lets read_parquet name only files of measurements the caller may read.
            Catalog.Execute(root, $"SET allowed_directories = [{Schema.SqlNames.Literal(cold.Directory)}]");
            Catalog.Execute(root, "SET enable_external_access = false");
            Catalog.EnsureCreated(root);
            RemoveLeftoverBackup(options.DataDirectory, logger);
            ColdStore.EnsureCreated(root);
            cold.Open(root);

            // Settings are the server's: no statement, however wrapped, may raise the memory limit, turn file
            // access back on or unlock them again. Session-local ones (search_path for a request's namespace) stay free.
            Catalog.Execute(root, "SET lock_configuration = true");
            // DuckDB.NET shares one database instance among connections to the same file, which is what
            // lets the writer and the readers see one another's commits inside this process.
            var writerConnection = new DuckDBConnection(builder.ConnectionString);
            StoreWriter writer;
            try
            {
                writerConnection.Open();
                writer = new StoreWriter(writerConnection, options, logger, cold);
            }
            catch
            {
                // A failed replay must not leave the database open in this process.
                writerConnection.Dispose();
                throw;
            }

            return new PlexusStore(options, builder.ConnectionString, root, writer, cold, logger);
        }
        catch (Exception error)
        {
            root.Dispose();
            if (error is StorageException)
            {
                throw;
            }

            throw new StorageException($"Cannot open the database at {options.DatabasePath}: {error.Message}", error);
        }
    }

    // A server stopped (or killed) while a backup was staged leaves its copy behind: it can be as large as the database
    // and nothing will send it. The database is open, so no other server is using this folder.
    private static void RemoveLeftoverBackup(string dataDirectory, ILogger logger)
    {
        string staging = Path.Combine(dataDirectory, Backup.BackupSnapshot.StagingFolderName);
        if (!Directory.Exists(staging))
        {
            return;
        }

        try
        {
            Directory.Delete(staging, recursive: true);
            logger.LogInformation("Removed {Folder}, a backup copy left by a server that stopped while sending it", staging);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Could not remove {Folder}, a backup copy left by a server that stopped while sending it: {Error}", staging, error.Message);
        }
    }

    /// <summary>
    /// A new connection for one reader, inside a read-only transaction: DuckDB refuses any change to any table,
    /// view, macro, sequence or type made through it, whatever statement wraps the change. The caller disposes it
    /// (which ends the transaction). It sees every write acknowledged before the call: if some are still only in
    /// the write log, they are applied first.
    /// </summary>
    /// <exception cref="StoreUnavailableException">Some acknowledged writes cannot be applied now; the caller answers "unavailable, retry", never without them.</exception>
    public DuckDBConnection OpenReadConnection()
    {
        var connection = OpenConnection(waitForWrites: true);
        try
        {
            Catalog.Execute(connection, "BEGIN TRANSACTION READ ONLY");
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        return connection;
    }

    /// <summary>
    /// A connection that may write, for Plexus's own metadata: registries, live-state snapshots, views and macros.
    /// Never hand it to user SQL; queries use <see cref="OpenReadConnection"/>. It sees every acknowledged write.
    /// </summary>
    public MetadataConnection OpenMetadataConnection() => new(OpenConnection(waitForWrites: true));

    /// <summary>Folds the write-ahead log into the database file, which also compresses what was appended since.</summary>
    public void Checkpoint()
    {
        using var connection = OpenMetadataConnection();
        connection.Execute("CHECKPOINT");
    }

    /// <exception cref="StoreUnavailableException">Acknowledged writes are not in the database and the writer cannot get them there now (a full disk), or not within <see cref="StorageOptions.ReadWaitTimeout"/>: never read without them.</exception>
    private DuckDBConnection OpenConnection(bool waitForWrites)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (waitForWrites)
        {
            Writer.WaitForAcknowledgedWrites(Options.ReadWaitTimeout);
        }

        var connection = new DuckDBConnection(_connectionString);
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _compactor.DisposeAsync();
        await Writer.DisposeAsync();
        try
        {
            using var command = _root.CreateCommand();
            command.CommandText = "CHECKPOINT";
            command.ExecuteNonQuery();
        }
        catch (DuckDBException error)
        {
            // Not fatal: the log is replayed on the next start.
            _logger.LogWarning(error, "Checkpoint on shutdown failed");
        }

        _root.Dispose();
    }
}
