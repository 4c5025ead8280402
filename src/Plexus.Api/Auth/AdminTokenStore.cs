using System.Security.Cryptography;
using System.Text;
using Plexus.Core;

namespace Plexus.Api.Auth;

/// <summary>
/// The admin token, kept only as a SHA-256 hash in the data folder. A token given on the command line or in
/// the environment replaces the stored one; without either, the first start generates one and shows it once.
/// </summary>
public sealed class AdminTokenStore
{
    public const string FileName = "admin-token.sha256";

    /// <summary>Shortest admin token accepted: it opens everything, so it must not be guessable.</summary>
    public const int MinTokenLength = 16;

    private readonly byte[] _hash;

    private AdminTokenStore(byte[] hash, string? generatedToken, string path)
    {
        _hash = hash;
        GeneratedToken = generatedToken;
        Path = path;
    }

    /// <summary>The token made on this start, to be shown to the operator once; null when it already existed or was given.</summary>
    public string? GeneratedToken { get; }

    public string Path { get; }

    public static AdminTokenStore Open(string dataDirectory, string? givenToken)
    {
        string path = System.IO.Path.Combine(dataDirectory, FileName);
        Directory.CreateDirectory(dataDirectory);
        if (!string.IsNullOrEmpty(givenToken))
        {
            if (!IsLongEnough(givenToken, out string? problem))
            {
                throw new ArgumentException(problem);
            }

            byte[] hash = Hash(givenToken);
            WriteHash(path, hash);
            return new AdminTokenStore(hash, null, path);
        }

        if (File.Exists(path))
        {
            string text = File.ReadAllText(path).Trim();
            try
            {
                return new AdminTokenStore(Convert.FromHexString(text), null, path);
            }
            catch (FormatException)
            {
                throw new InvalidOperationException($"The admin token file {path} is damaged; delete it to have a new token generated, or start with --admin-token.");
            }
        }

        string token = "plx_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(30)).Replace('+', '-').Replace('/', '_');
        byte[] generatedHash = Hash(token);
        WriteHash(path, generatedHash);
        return new AdminTokenStore(generatedHash, token, path);
    }

    /// <summary>False, with a message naming the option and how to make a good token, for a token shorter than <see cref="MinTokenLength"/>.</summary>
    public static bool IsLongEnough(string token, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(token);
        problem = token.Length < MinTokenLength
            ? $"admin-token: the token is {token.Length} characters; it must be at least {MinTokenLength}, since it opens everything (e.g. openssl rand -base64 32)"
            : null;
        return problem is null;
    }

    public bool IsAdminToken(ReadOnlySpan<char> token)
    {
        Span<byte> utf8 = stackalloc byte[Math.Min(Encoding.UTF8.GetMaxByteCount(token.Length), 1024)];
        if (Encoding.UTF8.GetMaxByteCount(token.Length) > utf8.Length)
        {
            return false;
        }

        int length = Encoding.UTF8.GetBytes(token, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _hash);
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static void WriteHash(string path, byte[] hash) => DurableFile.Replace(path, Encoding.ASCII.GetBytes(Convert.ToHexString(hash) + "\n"));
}
