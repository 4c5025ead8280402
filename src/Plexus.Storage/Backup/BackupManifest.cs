using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace Plexus.Storage.Backup;

/// <summary>One file of a backup: its path inside the backup (forward slashes), its size and its SHA-256 (lower-case hex).</summary>
public sealed record BackupFile(string Path, long Bytes, string Sha256);

/// <summary>
/// <c>manifest.json</c> of a backup (docs/storage.md#backup-and-restore): which files make the data folder, with their sizes
/// and checksums, so that a restore can tell a whole backup from a damaged or unfinished one before it touches anything.
/// </summary>
public sealed class BackupManifest
{
    public const string FileName = "manifest.json";

    public const string Format = "plexus-backup";

    public const int CurrentVersion = 1;

    // A manifest names a few files per measurement partition; a larger one is not a manifest this release wrote.
    private const int MaxManifestBytes = 64 * 1024 * 1024;

    private const int MaxPathLength = 255;

    public BackupManifest(DateTimeOffset created, IReadOnlyList<BackupFile> files)
    {
        Created = created;
        Files = files;
    }

    public DateTimeOffset Created { get; }

    public IReadOnlyList<BackupFile> Files { get; }

    public long TotalBytes => Files.Sum(f => f.Bytes);

    /// <summary>
    /// A path a backup may hold: relative, forward slashes, every segment of letters, digits, '.', '_' and '-' and none of
    /// them "." or "..". Anything else (an absolute path, a way out of the folder) is refused before a file is made from it.
    /// </summary>
    public static bool IsSafePath(string path)
    {
        if (string.IsNullOrEmpty(path) || path.Length > MaxPathLength || path == FileName)
        {
            return false;
        }

        foreach (string segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment is "." or ".." || !segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", Format);
            json.WriteNumber("version", CurrentVersion);
            json.WriteString("created", Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteNumber("total_bytes", TotalBytes);
            json.WriteStartArray("files");
            foreach (var file in Files)
            {
                json.WriteStartObject();
                json.WriteString("path", file.Path);
                json.WriteNumber("bytes", file.Bytes);
                json.WriteString("sha256", file.Sha256);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <exception cref="BackupException">The bytes are not a manifest of a version this release reads; the message says what is wrong.</exception>
    public static BackupManifest Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxManifestBytes)
        {
            throw new BackupException($"{FileName} is {bytes.Length} bytes, more than any backup's manifest ({MaxManifestBytes} bytes): it is not a Plexus backup manifest");
        }

        try
        {
            var reader = new Utf8JsonReader(bytes);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != Format)
            {
                throw new BackupException($"{FileName} does not say \"format\": \"{Format}\": it is not a Plexus backup manifest");
            }

            int version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : -1;
            if (version != CurrentVersion)
            {
                throw new BackupException($"{FileName} is of version {version}; this release reads version {CurrentVersion} (restore it with the release that made it)");
            }

            var created = root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.String && c.TryGetDateTimeOffset(out var time) ? time : DateTimeOffset.UnixEpoch;
            if (!root.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Array)
            {
                throw new BackupException($"{FileName} has no \"files\" list");
            }

            var list = new List<BackupFile>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            int index = 0;
            foreach (var file in files.EnumerateArray())
            {
                string? path = file.ValueKind == JsonValueKind.Object && file.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                long bytesValue = file.ValueKind == JsonValueKind.Object && file.TryGetProperty("bytes", out var b) && b.ValueKind == JsonValueKind.Number && b.TryGetInt64(out long size) ? size : -1;
                string? sha = file.ValueKind == JsonValueKind.Object && file.TryGetProperty("sha256", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
                if (path is null || !IsSafePath(path))
                {
                    throw new BackupException($"{FileName}: files[{index}] has the path \"{path}\", which is not a relative path inside the backup (letters, digits, '.', '_', '-' and '/' only)");
                }

                if (bytesValue < 0 || sha is null || sha.Length != 64 || !sha.All(char.IsAsciiHexDigitLower))
                {
                    throw new BackupException($"{FileName}: files[{index}] ({path}) needs \"bytes\" (a size) and \"sha256\" (64 lower-case hex digits)");
                }

                if (!seen.Add(path))
                {
                    throw new BackupException($"{FileName} names {path} twice");
                }

                list.Add(new BackupFile(path, bytesValue, sha));
                index++;
            }

            return new BackupManifest(created, list);
        }
        catch (JsonException error)
        {
            throw new BackupException($"{FileName} is not valid JSON ({error.Message}): the backup is damaged or did not finish", error);
        }
    }

    /// <summary>
    /// Checks every file the manifest names in <paramref name="folder"/>: present, of its size, of its checksum. Returns
    /// one sentence per problem (empty when the backup is whole); <paramref name="progress"/> gets the bytes read so far.
    /// </summary>
    public IReadOnlyList<string> Verify(string folder, Action<long>? progress = null)
    {
        var problems = new List<string>();
        long done = 0;
        foreach (var file in Files)
        {
            string path = System.IO.Path.Combine(folder, file.Path);
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                problems.Add($"{file.Path} is missing");
                continue;
            }

            if (info.Length != file.Bytes)
            {
                problems.Add($"{file.Path} is {info.Length} bytes, the manifest says {file.Bytes} (the file is damaged or was cut short)");
                continue;
            }

            string actual = HashFile(path, read => progress?.Invoke(done + read));
            done += file.Bytes;
            if (actual != file.Sha256)
            {
                problems.Add($"{file.Path} has SHA-256 {actual}, the manifest says {file.Sha256} (the file is damaged)");
            }
        }

        return problems;
    }

    /// <summary>The SHA-256 of a file as lower-case hex; <paramref name="progress"/> gets the bytes read so far.</summary>
    public static string HashFile(string path, Action<long>? progress = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 16];
        long read = 0;
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            read += n;
            progress?.Invoke(read);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>A backup is not whole or not a backup, or a restore cannot go ahead; the message says what and how to go on.</summary>
public sealed class BackupException : Exception
{
    public BackupException(string message)
        : base(message)
    {
    }

    public BackupException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    public BackupException()
    {
    }
}

/// <summary>A backup was asked for while another one is still being taken or sent.</summary>
public sealed class BackupInProgressException : Exception
{
    public BackupInProgressException()
        : base("a backup is already running; wait until it has finished and try again")
    {
    }

    public BackupInProgressException(string message)
        : base(message)
    {
    }

    public BackupInProgressException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}

/// <summary>The data folder's disk has too little free space to stage a backup; nothing was staged.</summary>
public sealed class BackupSpaceException : Exception
{
    public BackupSpaceException(long needed, long free)
        : base($"a backup needs about {needed:N0} bytes free on the data folder's disk to stage a copy of the database, and {free:N0} are free; free some space (or compact and expire old data) and try again")
    {
        Needed = needed;
        Free = free;
    }

    public BackupSpaceException()
    {
    }

    public BackupSpaceException(string message)
        : base(message)
    {
    }

    public BackupSpaceException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    public long Needed { get; }

    public long Free { get; }
}
