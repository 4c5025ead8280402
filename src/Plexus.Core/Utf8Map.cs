using System.Diagnostics.CodeAnalysis;

namespace Plexus.Core;

/// <summary>
/// A dictionary keyed by UTF-8 byte strings that can be looked up with a span, so that hot paths find a
/// measurement, column or series by the bytes they decoded without allocating a key per point.
/// </summary>
public sealed class Utf8Map<TValue>
{
    private readonly Dictionary<byte[], TValue> _entries = new(Utf8KeyComparer.Instance);
    private readonly Dictionary<byte[], TValue>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public Utf8Map()
    {
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count => _entries.Count;

    public bool TryGetValue(ReadOnlySpan<byte> key, [MaybeNullWhen(false)] out TValue value) => _lookup.TryGetValue(key, out value);

    /// <summary>Adds or replaces; copies the key, so this is the one call that allocates.</summary>
    public void Set(ReadOnlySpan<byte> key, TValue value) => _lookup[key] = value;

    public bool Remove(ReadOnlySpan<byte> key) => _lookup.Remove(key);

    public void Clear() => _entries.Clear();

    public IEnumerable<KeyValuePair<byte[], TValue>> Entries => _entries;

    private sealed class Utf8KeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly Utf8KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => Hash(obj);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

        private static int Hash(ReadOnlySpan<byte> bytes)
        {
            var hash = default(HashCode);
            hash.AddBytes(bytes);
            return hash.ToHashCode();
        }
    }
}
