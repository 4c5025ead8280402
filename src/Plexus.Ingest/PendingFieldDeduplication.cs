using System.Buffers;
using Plexus.Core;

namespace Plexus.Ingest;

/// <summary>
/// Keeps the last of several fields with the same key in the point being built, as JSON (last duplicate key
/// wins) and line protocol do; the survivors keep their order. Keys are compared as bytes.
/// </summary>
internal static class PendingFieldDeduplication
{
    private const int QuadraticLimit = 32;

    public static void KeepLastOfEachKey(PointBatch batch)
    {
        int count = batch.PendingFieldCount;
        if (count < 2)
        {
            return;
        }

        if (count <= QuadraticLimit)
        {
            // Fast path: the prefix [0, i) never holds a duplicate, so each field matches at most one before it.
            int i = 1;
            while (i < batch.PendingFieldCount)
            {
                Span<FieldEntry> fields = batch.PendingFields;
                ReadOnlySpan<byte> key = batch.Text(fields[i].Key);
                int match = -1;
                for (int j = 0; j < i; j++)
                {
                    if (batch.Text(fields[j].Key).SequenceEqual(key))
                    {
                        match = j;
                        break;
                    }
                }

                if (match >= 0)
                {
                    batch.RemovePendingField(match);
                }
                else
                {
                    i++;
                }
            }

            return;
        }

        KeepLastSorted(batch, count);
    }

    /// <summary>Slow path for points with many fields: O(n log n), so that a 100,000-member object is not n².</summary>
    private static void KeepLastSorted(PointBatch batch, int count)
    {
        int[] rented = ArrayPool<int>.Shared.Rent(count);
        try
        {
            Span<int> order = rented.AsSpan(0, count);
            for (int i = 0; i < count; i++)
            {
                order[i] = i;
            }

            Span<FieldEntry> fields = batch.PendingFields;
            HeapSort(batch, fields, order);

            // Within a run of equal keys the sort put the highest index last: that one survives. A dropped field
            // is marked by an empty key, which a real field never has.
            bool any = false;
            for (int i = 1; i < count; i++)
            {
                if (batch.Text(fields[order[i - 1]].Key).SequenceEqual(batch.Text(fields[order[i]].Key)))
                {
                    int drop = order[i - 1];
                    fields[drop] = fields[drop] with { Key = default };
                    any = true;
                }
            }

            if (!any)
            {
                return;
            }

            int write = 0;
            for (int read = 0; read < count; read++)
            {
                if (!fields[read].Key.IsEmpty)
                {
                    fields[write++] = fields[read];
                }
            }

            // Removing from the end shifts nothing.
            while (batch.PendingFieldCount > write)
            {
                batch.RemovePendingField(batch.PendingFieldCount - 1);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
        }
    }

    private static bool Less(PointBatch batch, ReadOnlySpan<FieldEntry> fields, int left, int right)
    {
        int compare = batch.Text(fields[left].Key).SequenceCompareTo(batch.Text(fields[right].Key));
        return compare < 0 || (compare == 0 && left < right);
    }

    private static void HeapSort(PointBatch batch, ReadOnlySpan<FieldEntry> fields, Span<int> items)
    {
        for (int i = (items.Length / 2) - 1; i >= 0; i--)
        {
            SiftDown(batch, fields, items, i, items.Length);
        }

        for (int end = items.Length - 1; end > 0; end--)
        {
            (items[0], items[end]) = (items[end], items[0]);
            SiftDown(batch, fields, items, 0, end);
        }
    }

    private static void SiftDown(PointBatch batch, ReadOnlySpan<FieldEntry> fields, Span<int> items, int root, int length)
    {
        while (true)
        {
            int child = (2 * root) + 1;
            if (child >= length)
            {
                return;
            }

            if (child + 1 < length && Less(batch, fields, items[child], items[child + 1]))
            {
                child++;
            }

            if (!Less(batch, fields, items[root], items[child]))
            {
                return;
            }

            (items[root], items[child]) = (items[child], items[root]);
            root = child;
        }
    }
}
