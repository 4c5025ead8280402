using System.Text;
using Microsoft.Win32.SafeHandles;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>
/// Device token hashes, kept where no query can reach them: not in the database (every table of which SQL can read)
/// but in <c>device-credentials.journal</c> in the data folder, mode 0600.
/// </summary>
/// <remarks>
/// Format: a header line, then one line per change, appended and synced before the change is used:
/// <code>
///   plexus-device-credentials 1
///   set truck-7 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
///   del truck-7
/// </code>
/// Device ids are letters, digits and <c>_ - . :</c>, so a space separates the fields. A last line without its line
/// end is a write the crash cut short and was never acknowledged: it is dropped. Any other line that does not read is
/// damage, and opening stops with its line number rather than lock devices out silently. At open, a journal holding
/// more than twice as many lines as live devices (plus a slack) is rewritten with only the live ones: temporary file,
/// sync, rename, sync of the folder.
/// </remarks>
internal sealed class DeviceCredentialFile : IDisposable
{
    public const string FileName = "device-credentials.journal";
    private const string Header = "plexus-device-credentials 1";
    private const int CompactionSlack = 1024;

    private readonly SafeFileHandle _handle;
    private long _length;

    private DeviceCredentialFile(SafeFileHandle handle, long length)
    {
        _handle = handle;
        _length = length;
    }

    public static DeviceCredentialFile Open(string dataDirectory, out Dictionary<string, byte[]> hashes)
    {
        string path = Path.Combine(dataDirectory, FileName);
        hashes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int lines = 0;
        if (File.Exists(path))
        {
            lines = Read(path, hashes);
        }

        if (!File.Exists(path) || lines > 2 * hashes.Count + CompactionSlack)
        {
            Rewrite(path, hashes);
        }

        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        return new DeviceCredentialFile(handle, RandomAccess.GetLength(handle));
    }

    /// <summary>Records a device's token hash; synced when this returns.</summary>
    public void Set(string id, byte[] hash) => Append($"set {id} {Convert.ToHexStringLower(hash)}\n");

    /// <summary>Records that a device has no token any more; synced when this returns.</summary>
    public void Remove(string id) => Append($"del {id}\n");

    /// <summary>Records that devices have no token any more, with one sync.</summary>
    public void RemoveAll(IEnumerable<string> ids)
    {
        var text = new StringBuilder();
        foreach (string id in ids)
        {
            text.Append("del ").Append(id).Append('\n');
        }

        if (text.Length > 0)
        {
            Append(text.ToString());
        }
    }

    /// <summary>Records many hashes with one sync (migration, bulk registration).</summary>
    public void SetAll(IEnumerable<KeyValuePair<string, byte[]>> hashes)
    {
        var text = new StringBuilder();
        foreach (var (id, hash) in hashes)
        {
            text.Append("set ").Append(id).Append(' ').Append(Convert.ToHexStringLower(hash)).Append('\n');
        }

        if (text.Length > 0)
        {
            Append(text.ToString());
        }
    }

    public void Dispose() => _handle.Dispose();

    private void Append(string lines)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(lines);
        RandomAccess.Write(_handle, bytes, _length);
        DurableFile.SyncData(_handle);
        _length += bytes.Length;
    }

    private static int Read(string path, Dictionary<string, byte[]> hashes)
    {
        string text = File.ReadAllText(path, Encoding.ASCII);
        int end = text.LastIndexOf('\n');

        // Whatever follows the last line end is a torn append: never synced, so never acknowledged.
        string whole = end < 0 ? "" : text[..(end + 1)];
        var lines = whole.Split('\n');
        if (lines.Length == 0 || lines[0] != Header)
        {
            throw new InvalidOperationException($"{FileName} in the data folder does not start with \"{Header}\"; it is damaged or from a newer Plexus. Restore it from a backup, or rotate every device's token (plexus devices rotate).");
        }

        int count = 0;
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }

            count++;
            var parts = line.Split(' ');
            if (parts.Length == 3 && parts[0] == "set" && DeviceValidation.IsValidId(parts[1], out _) && parts[2].Length == 64 && IsHex(parts[2]))
            {
                hashes[parts[1]] = Convert.FromHexString(parts[2]);
            }
            else if (parts.Length == 2 && parts[0] == "del" && DeviceValidation.IsValidId(parts[1], out _))
            {
                hashes.Remove(parts[1]);
            }
            else
            {
                throw new InvalidOperationException($"{FileName} in the data folder is damaged at line {i + 1}; restore it from a backup, or rotate the tokens of the devices that can no longer connect.");
            }
        }

        return count;
    }

    private static bool IsHex(string text) => text.All(char.IsAsciiHexDigit);

    private static void Rewrite(string path, Dictionary<string, byte[]> hashes)
    {
        var text = new StringBuilder(Header).Append('\n');
        foreach (var (id, hash) in hashes)
        {
            text.Append("set ").Append(id).Append(' ').Append(Convert.ToHexStringLower(hash)).Append('\n');
        }

        DurableFile.Replace(path, Encoding.ASCII.GetBytes(text.ToString()));
    }
}
