using DuckDB.NET.Data;
using Plexus.TestKit;

namespace Plexus.Storage.Tests;

/// <summary>The metadata write path on a real DuckDB file: a transaction commits all of its body or none of it.</summary>
public sealed class MetadataConnectionTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("plexus-metadata");
    private PlexusStore? _store;

    private PlexusStore Store => _store!;

    public Task InitializeAsync()
    {
        _store = Open();
        using var connection = Store.OpenMetadataConnection();
        connection.Execute("CREATE TABLE _plexus.things (id VARCHAR PRIMARY KEY, size INTEGER)");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    // xunit calls this after DisposeAsync: the folder goes once the store has closed its files.
    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Transaction_whose_body_returns_commits_every_statement_durably()
    {
        using (var connection = Store.OpenMetadataConnection())
        {
            connection.InTransaction(() =>
            {
                connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "a", 1);
                connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "b", null);
            });
        }

        Assert.Equal(["a:1", "b:"], Things(Store));

        await Store.DisposeAsync();
        _store = Open();
        Assert.Equal(["a:1", "b:"], Things(Store));
    }

    [Fact]
    public void Transaction_whose_body_throws_rolls_back_and_rethrows_the_same_exception()
    {
        using var connection = Store.OpenMetadataConnection();
        var thrown = new InvalidOperationException("the body gave up");

        var caught = Assert.Throws<InvalidOperationException>(() => connection.InTransaction(() =>
        {
            connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "a", 1);
            throw thrown;
        }));

        Assert.Same(thrown, caught);
        Assert.Empty(Things(Store));

        // Nothing of the failed transaction is left open on the connection: the next one starts and commits.
        connection.InTransaction(() => connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "b", 2));
        Assert.Equal(["b:2"], Things(Store));
    }

    [Fact]
    public void Transaction_whose_statement_fails_takes_back_the_statements_before_it()
    {
        using var connection = Store.OpenMetadataConnection();
        connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "taken", 0);

        var error = Assert.Throws<DuckDBException>(() => connection.InTransaction(() =>
        {
            connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "new", 1);
            connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "taken", 2);
        }));

        Assert.Contains("taken", error.Message, StringComparison.Ordinal);
        Assert.Equal(["taken:0"], Things(Store));

        connection.InTransaction(() => connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "next", 3));
        Assert.Equal(["next:3", "taken:0"], Things(Store));
    }

    [Fact]
    public void Transaction_that_conflicts_at_commit_reports_the_conflict_and_leaves_the_connection_usable()
    {
        using var first = Store.OpenMetadataConnection();
        using var second = Store.OpenMetadataConnection();

        // Both insert the same key; whichever DuckDB refuses (at the statement or at COMMIT), the refusal reaches
        // the caller, not a failed ROLLBACK of a transaction the engine already ended.
        var error = Record.Exception(() => second.InTransaction(() =>
        {
            second.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "same", 2);
            first.InTransaction(() => first.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "same", 1));
        }));

        var refused = Assert.IsType<DuckDBException>(error);
        Assert.DoesNotContain("no transaction is active", refused.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(["same:1"], Things(Store));

        second.InTransaction(() => second.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "later", 3));
        Assert.Equal(["later:3", "same:1"], Things(Store));
    }

    [Fact]
    public void Transaction_inside_a_transaction_is_refused_and_the_outer_one_rolls_back()
    {
        using var connection = Store.OpenMetadataConnection();

        var error = Assert.Throws<InvalidOperationException>(() => connection.InTransaction(() =>
        {
            connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "outer", 1);
            connection.InTransaction(() => connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "inner", 2));
        }));

        Assert.Contains("already open", error.Message, StringComparison.Ordinal);
        Assert.Empty(Things(Store));

        connection.InTransaction(() => connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2)", "next", 3));
        Assert.Equal(["next:3"], Things(Store));
    }

    [Fact]
    public void Query_and_scalar_bind_parameters_and_read_nulls()
    {
        using var connection = Store.OpenMetadataConnection();
        connection.Execute("INSERT INTO _plexus.things VALUES ($1, $2), ($3, $4)", "a", 1, "b", null);

        var ids = new List<string>();
        connection.Query("SELECT id FROM _plexus.things WHERE size IS NULL OR size > $1 ORDER BY id", reader => ids.Add(reader.GetString(0)), 0);

        Assert.Equal(["a", "b"], ids);
        Assert.Equal(1, Convert.ToInt32(connection.Scalar("SELECT size FROM _plexus.things WHERE id = $1", "a"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Null(connection.Scalar("SELECT size FROM _plexus.things WHERE id = $1", "b"));
        Assert.Null(connection.Scalar("SELECT size FROM _plexus.things WHERE id = $1", "nobody"));
    }

    private PlexusStore Open() => PlexusStore.Open(new StorageOptions { DataDirectory = _dir.Path, Threads = 2 });

    /// <summary>The rows as a separate reader sees them, "id:size" in id order.</summary>
    private static List<string> Things(PlexusStore store)
    {
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, size FROM _plexus.things ORDER BY id";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(reader.GetString(0) + ":" + (reader.IsDBNull(1) ? string.Empty : reader.GetInt32(1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return rows;
    }
}
