using System.Formats.Tar;
using System.Security.Cryptography;

namespace Plexus.Storage.Backup;

/// <summary>
/// A backup as a stream: a tar (POSIX pax) whose first entry is <c>manifest.json</c> and whose other entries are the
/// files it names, in its order. The server writes it from a <see cref="BackupSnapshot"/>; <c>plexus backup</c> reads it
/// into a folder, checking each file's size and checksum as it arrives and writing the manifest last, so that a folder
/// with a manifest is a whole backup.
/// </summary>
public static class BackupArchive
{
    public const string ContentType = "application/x-tar";

    public static async Task WriteAsync(BackupSnapshot snapshot, Stream output, Action<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        byte[] manifest = snapshot.Manifest.ToJson();
        var first = new PaxTarEntry(TarEntryType.RegularFile, BackupManifest.FileName) { DataStream = new MemoryStream(manifest) };
        await tar.WriteEntryAsync(first, cancellationToken);
        long sent = 0;
        foreach (var file in snapshot.Manifest.Files)
        {
            await using var data = new FileStream(Path.Combine(snapshot.Folder, file.Path), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            var entry = new PaxTarEntry(TarEntryType.RegularFile, file.Path) { DataStream = data };
            await tar.WriteEntryAsync(entry, cancellationToken);
            sent += file.Bytes;
            progress?.Invoke(sent);
        }
    }

    /// <summary>
    /// Reads a backup stream into <paramref name="folder"/> (which the caller made sure is empty). Each file must be one
    /// the manifest names, of its size and checksum; the manifest is written last.
    /// </summary>
    /// <param name="progress">The manifest once read, and the bytes of files received so far.</param>
    /// <exception cref="BackupException">The stream is not a whole backup; what arrived stays in the folder, without a manifest.</exception>
    public static async Task<BackupManifest> ExtractAsync(Stream input, string folder, Action<BackupManifest, long>? progress, CancellationToken cancellationToken)
    {
        await using var tar = new TarReader(input, leaveOpen: true);
        TarEntry? entry;
        try
        {
            entry = await tar.GetNextEntryAsync(copyData: false, cancellationToken);
        }
        catch (InvalidDataException error)
        {
            throw new BackupException($"the answer is not a backup archive (tar): {error.Message}", error);
        }

        if (entry is null || entry.Name != BackupManifest.FileName || entry.DataStream is null)
        {
            throw new BackupException($"the backup archive does not start with {BackupManifest.FileName}; it is not a Plexus backup");
        }

        using var manifestBytes = new MemoryStream();
        await entry.DataStream.CopyToAsync(manifestBytes, cancellationToken);
        byte[] manifestData = manifestBytes.ToArray();
        var manifest = BackupManifest.Parse(manifestData);
        var expected = manifest.Files.ToDictionary(f => f.Path, StringComparer.Ordinal);
        progress?.Invoke(manifest, 0);
        Directory.CreateDirectory(folder);
        long received = 0;
        byte[] buffer = new byte[1 << 16];
        try
        {
            while ((entry = await tar.GetNextEntryAsync(copyData: false, cancellationToken)) is not null)
            {
                if (!expected.Remove(entry.Name, out var file))
                {
                    throw new BackupException($"the backup archive holds {entry.Name}, which its manifest does not name (or names once)");
                }

                if (entry.EntryType != TarEntryType.RegularFile || entry.DataStream is null || entry.Length != file.Bytes)
                {
                    throw new BackupException($"{file.Path} in the backup archive is {entry.Length} bytes, the manifest says {file.Bytes}");
                }

                string target = Path.Combine(folder, file.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                await using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                {
                    int n;
                    while ((n = await entry.DataStream.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        hash.AppendData(buffer, 0, n);
                        await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                        received += n;
                        progress?.Invoke(manifest, received);
                    }

                    output.Flush(flushToDisk: true);
                }

                string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (actual != file.Sha256)
                {
                    throw new BackupException($"{file.Path} arrived with SHA-256 {actual}, the manifest says {file.Sha256}: the backup was damaged on the way");
                }
            }
        }
        catch (Exception error) when (error is InvalidDataException or EndOfStreamException or IOException and not FileNotFoundException)
        {
            throw new BackupException($"the backup stream ended or broke after {received} bytes ({error.Message}); the backup is not whole, take it again", error);
        }

        if (expected.Count > 0)
        {
            throw new BackupException($"the backup stream ended before {string.Join(", ", expected.Keys.Take(5))}{(expected.Count > 5 ? $" and {expected.Count - 5} more" : "")}; the backup is not whole, take it again");
        }

        await File.WriteAllBytesAsync(Path.Combine(folder, BackupManifest.FileName), manifestData, cancellationToken);
        return manifest;
    }
}
