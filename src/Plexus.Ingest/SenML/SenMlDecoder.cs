using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Plexus.Core;
using Plexus.Ingest.Json;

namespace Plexus.Ingest.SenML;

/// <summary>
/// Decodes one SenML JSON pack (RFC 8428) into points of a <see cref="PointBatch"/>: one point per distinct
/// resolved time, one field per record. Pure: no I/O, no clock (relative times count from the caller's receive
/// time), no exceptions for bad input, and no allocation for good packs once the batch and the shared array
/// pools have warmed up. The mapping rules are in docs/ingest/senml.md.
/// </summary>
/// <remarks>
/// Design note: two passes, so that a pack is one unit (all of its points or none) and records that share a
/// time share a point wherever they are in the pack.
/// <code>
///   pass 1  read every record, apply the base values in force (RFC 8428 §4.6) and check it; keep offsets
///           and numbers in a pooled SenMlRecord[]. Any error: return it, the batch was not touched.
///   pass 2  order the records by (time, position), then write one point per run of equal times. Nothing
///           here can fail, so no point ever has to be taken back.
/// </code>
/// Strings are not copied in pass 1: names, units and text values are unescaped straight from the payload into
/// the batch in pass 2 (pass 1 unescapes into the arena's free end, which is scratch until committed).
/// Pass 1, the pack reader, is in SenMlDecoder.PackReader.cs.
/// </remarks>
public static partial class SenMlDecoder
{
    /// <summary>The SenML version RFC 8428 defines; a pack with a higher <c>bver</c> is refused (§4.4).</summary>
    public const int SupportedVersion = 10;

    /// <summary>Resolved times below 2^28 seconds (about 8.5 years) are relative to "now" (RFC 8428 §4.5.3).</summary>
    public const long RelativeTimeLimitSeconds = 1L << 28;

    private const long RelativeTimeLimitNanoseconds = RelativeTimeLimitSeconds * JsonTimestamps.NanosecondsPerSecond;

    /// <summary>
    /// Decodes <paramref name="payload"/> into <paramref name="batch"/>. On failure nothing of the pack is left in
    /// the batch (points it held before are kept) and <paramref name="error"/> names the record, the label and
    /// the reason, e.g. <c>$[2]: the record has no value: give one of v, vs, vb or vd, or a sum s</c>.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, in SenMlOptions options, PointBatch batch, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!JsonText.TryCheckNames(options.Measurement, options.DeviceId, out error))
        {
            return false;
        }

        int bom = JsonText.BomLength(payload);
        ReadOnlySpan<byte> json = payload[bom..];
        BatchMark before = batch.Mark();
        SenMlRecord[] records = ArrayPool<SenMlRecord>.Shared.Rent(16);
        try
        {
            int count;
            try
            {
                var pack = new PackReader(json, options, batch);
                if (!pack.Read(ref records, out count, out error))
                {
                    Debug.Assert(batch.Mark() == before, "pass 1 writes nothing");
                    return false;
                }
            }
            catch (JsonException exception)
            {
                Debug.Assert(batch.Mark() == before, "pass 1 writes nothing");
                error = JsonText.InvalidJson(json, bom, exception);
                return false;
            }

            WritePoints(json, options, batch, records.AsSpan(0, count));
            error = default;
            return true;
        }
        finally
        {
            ArrayPool<SenMlRecord>.Shared.Return(records);
        }
    }

    // ---- pass 2 ---------------------------------------------------------------------------------------------------

    private static void WritePoints(ReadOnlySpan<byte> json, in SenMlOptions options, PointBatch batch, ReadOnlySpan<SenMlRecord> records)
    {
        if (records.IsEmpty)
        {
            return;
        }

        long[] rentedTimes = ArrayPool<long>.Shared.Rent(records.Length);
        int[] rentedOrder = ArrayPool<int>.Shared.Rent(records.Length);
        try
        {
            Span<long> times = rentedTimes.AsSpan(0, records.Length);
            Span<int> order = rentedOrder.AsSpan(0, records.Length);
            bool sorted = true;
            for (int i = 0; i < records.Length; i++)
            {
                times[i] = records[i].Time;
                order[i] = i;
                sorted &= i == 0 || times[i - 1] <= times[i];
            }

            if (!sorted)
            {
                // The sort is not stable: put each run of equal times back in pack order, which is the order
                // its fields are written in and the order in which a repeated name's last value wins.
                times.Sort(order);
                for (int start = 0; start < times.Length;)
                {
                    int end = RunEnd(times, start);
                    order[start..end].Sort();
                    start = end;
                }
            }

            for (int start = 0; start < times.Length;)
            {
                int end = RunEnd(times, start);
                JsonText.BeginDevicePoint(batch, options.Measurement, options.DeviceId, lineNumber: order[start] + 1);
                for (int i = start; i < end; i++)
                {
                    WriteFields(json, batch, records[order[i]], options.IncludeUnits);
                }

                PendingFieldDeduplication.KeepLastOfEachKey(batch);
                batch.EndPoint(times[start]);
                start = end;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rentedOrder);
            ArrayPool<long>.Shared.Return(rentedTimes);
        }
    }

    private static int RunEnd(ReadOnlySpan<long> times, int start)
    {
        int end = start + 1;
        while (end < times.Length && times[end] == times[start])
        {
            end++;
        }

        return end;
    }

    private static void WriteFields(ReadOnlySpan<byte> json, PointBatch batch, in SenMlRecord record, bool includeUnits)
    {
        if (record.Kind != SenMlValueKind.None)
        {
            TextSlice key = WriteFieldName(json, batch, record, default);
            switch (record.Kind)
            {
                case SenMlValueKind.Number:
                    batch.AddFloat(key, record.Value);
                    break;
                case SenMlValueKind.Boolean:
                    batch.AddBoolean(key, record.Value != 0);
                    break;
                default:
                    batch.AddString(key, WriteString(json, batch, record.Text));
                    break;
            }
        }

        if (record.HasSum)
        {
            batch.AddFloat(WriteFieldName(json, batch, record, "_sum"u8), record.Sum);
        }

        if (includeUnits && record.Unit.IsPresent)
        {
            batch.AddString(WriteFieldName(json, batch, record, "_unit"u8), WriteString(json, batch, record.Unit));
        }
    }

    private static TextSlice WriteFieldName(ReadOnlySpan<byte> json, PointBatch batch, in SenMlRecord record, ReadOnlySpan<byte> suffix)
    {
        Span<byte> destination;
        int length;
        switch (record.Naming)
        {
            case SenMlNaming.Name:
                destination = batch.ReserveText(record.BaseName.Length + record.Name.Length + suffix.Length);
                length = CopyName(json, record, destination);

                // Drop the device prefix: move the rest to the front (CopyTo copes with the overlap).
                destination[record.PrefixLength..length].CopyTo(destination);
                length -= record.PrefixLength;
                break;
            case SenMlNaming.Unit:
                destination = batch.ReserveText(record.Unit.Length + suffix.Length);
                length = Copy(json, record.Unit, destination);
                break;
            default:
                destination = batch.ReserveText(5 + suffix.Length);
                "value"u8.CopyTo(destination);
                length = 5;
                break;
        }

        suffix.CopyTo(destination[length..]);
        return batch.CommitText(length + suffix.Length);
    }

    private static TextSlice WriteString(ReadOnlySpan<byte> json, PointBatch batch, SenMlString text)
    {
        Span<byte> destination = batch.ReserveText(text.Length);
        return batch.CommitText(Copy(json, text, destination));
    }

    /// <summary>bn + n, unescaped, into <paramref name="destination"/> (which has room for both raw strings).</summary>
    private static int CopyName(ReadOnlySpan<byte> json, in SenMlRecord record, Span<byte> destination)
    {
        int length = Copy(json, record.BaseName, destination);
        return length + Copy(json, record.Name, destination[length..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Copy(ReadOnlySpan<byte> json, SenMlString text, Span<byte> destination)
        => text.IsPresent ? JsonText.CopyUnescaped(json, text.Start, text.Length, text.Escaped, destination) : 0;
}
