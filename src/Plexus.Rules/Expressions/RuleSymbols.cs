using System.Text;

namespace Plexus.Rules.Expressions;

/// <summary>
/// The point columns (fields and tags) the compiled rules read, each with a number: a row looks a column up once per
/// point however many rules read it (<see cref="RuleRow"/>). Names are case-insensitive, as in SQL. Shared by every
/// rule of an engine; only grows.
/// </summary>
public sealed class RuleSymbols
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.OrdinalIgnoreCase);
    private volatile byte[][] _names = [];
    private readonly Lock _lock = new();

    public int Count => _names.Length;

    public int IdOf(string column)
    {
        ArgumentNullException.ThrowIfNull(column);
        lock (_lock)
        {
            if (!_ids.TryGetValue(column, out int id))
            {
                id = _names.Length;
                _ids[column] = id;
                _names = [.. _names, Encoding.UTF8.GetBytes(column)];
            }

            return id;
        }
    }

    internal byte[] NameOf(int id) => _names[id];
}
