namespace Plexus.Storage.Cold;

/// <summary>
/// One compacted partition of one measurement: a Parquet file in the cold folder and its row in the manifest
/// (<c>_plexus.cold_partitions</c>). <paramref name="Fields"/> are the field columns the file holds; fields the
/// measurement gained later read as NULL from it. <paramref name="Scales"/> has one entry per field: the scale k of a
/// DOUBLE field the file stores as DECIMAL(18,k) because every value of the partition reads back bit for bit from it,
/// null for a field stored as its own type.
/// </summary>
public sealed record ColdPartition(
    int MeasurementId,
    long StartNs,
    long EndNs,
    string FileName,
    long Generation,
    long Rows,
    long Bytes,
    long MinTimeNs,
    long MaxTimeNs,
    IReadOnlyList<string> Fields,
    IReadOnlyList<int?> Scales);
