using System.Security.Cryptography;
using System.Text;

namespace Plexus.Broker.Auth;

/// <summary>
/// Auto-provisioning (off unless a provisioning key is configured): an unknown device that connects with user name =
/// its new id and password = the provisioning key is registered and accepted. Its token is not the key itself but
/// <see cref="DeviceToken"/>, derived from the key and its id, so every device's stored hash is its own: the key alone
/// names no device over HTTP, and a device whose token an admin rotated (or any device registered by an admin) cannot
/// be taken over with the key.
/// </summary>
public sealed class DeviceProvisioning
{
    public const string TokenPrefix = "plxp_";

    private readonly byte[] _key;
    private readonly byte[] _keyHash;

    /// <param name="key">The provisioning key, a shared secret of the fleet.</param>
    /// <param name="isRegistered">Whether a device id is registered.</param>
    /// <param name="register">Registers (id, token); returns null when done, else why not (an invalid id, a conflict).</param>
    public DeviceProvisioning(string key, Func<string, bool> isRegistered, Func<string, string, string?> register)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(isRegistered);
        ArgumentNullException.ThrowIfNull(register);
        _key = Encoding.UTF8.GetBytes(key);
        _keyHash = SHA256.HashData(_key);
        IsRegistered = isRegistered;
        Register = register;
    }

    public Func<string, bool> IsRegistered { get; }

    public Func<string, string, string?> Register { get; }

    /// <summary>The token of an auto-provisioned device: <c>plxp_</c> + base64url(HMAC-SHA256(key, id)).</summary>
    public static string DeviceToken(string key, string deviceId)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(deviceId);
        return DeviceToken(Encoding.UTF8.GetBytes(key), deviceId);
    }

    public string DeviceTokenFor(string deviceId) => DeviceToken(_key, deviceId);

    /// <summary>Compares in constant time, so timing does not tell how much of the key a guess got right.</summary>
    public bool IsKey(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(password)), _keyHash);
    }

    private static string DeviceToken(byte[] key, string deviceId) =>
        TokenPrefix + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(deviceId))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
