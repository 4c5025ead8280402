using Plexus.Storage;

namespace Plexus.TestKit;

/// <summary>Reads a query's rows straight from a store, through a read-only connection, for assertions.</summary>
public static class StoreRows
{
    public static List<object?[]> Read(PlexusStore store, string sql)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }
}
