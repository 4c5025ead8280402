using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace Plexus.WebConsole;

/// <summary>One file of the console: its bytes, content type and a strong ETag (a hash of the bytes).</summary>
public sealed record ConsoleAsset(string Path, ReadOnlyMemory<byte> Content, string ContentType, string ETag);

/// <summary>
/// The console's files, read once from the assembly's embedded resources. Only these paths are ever served: a request
/// path is looked up in a frozen dictionary, never joined to a folder, so no path can reach another file.
/// </summary>
public static class ConsoleAssets
{
    private const string Prefix = "console/";

    /// <summary>The page the browser opens at <c>/</c>.</summary>
    public const string IndexPath = "index.html";

    private static readonly Lazy<FrozenDictionary<string, ConsoleAsset>> All = new(Load);

    /// <summary>Every asset by its path below <c>/console/</c> (<c>js/app.js</c>, <c>app.css</c>, <c>index.html</c>).</summary>
    public static IReadOnlyDictionary<string, ConsoleAsset> Files => All.Value;

    public static ConsoleAsset? Find(string path) => All.Value.GetValueOrDefault(path);

    private static FrozenDictionary<string, ConsoleAsset> Load()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var files = new Dictionary<string, ConsoleAsset>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            // MSBuild writes the recursive folder with the platform's separator.
            string path = name[Prefix.Length..].Replace('\\', '/');
            byte[] content = Read(assembly, name);
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content), 0, 8) + "\"";
            files[path] = new ConsoleAsset(path, content, ContentTypeOf(path), etag);
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"the console resource {name} is missing from {assembly.GetName().Name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static string ContentTypeOf(string path) => System.IO.Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".json" => "application/json",
        ".png" => "image/png",
        ".ico" => "image/x-icon",
        _ => "application/octet-stream",
    };
}
