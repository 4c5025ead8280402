using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>A client certificate registered for a device: its SHA-256 thumbprint and, when it was given as PEM, what it says of itself.</summary>
public sealed record DeviceCertificate(
    string Thumbprint,
    string DeviceId,
    string? Subject,
    string? Issuer,
    DateTimeOffset? NotBefore,
    DateTimeOffset? NotAfter,
    DateTimeOffset AddedAt);

/// <summary>
/// The client certificates devices authenticate with over MQTT TLS (docs/devices.md#client-certificates), in
/// <c>_plexus.device_certificates</c>: the certificate's SHA-256 thumbprint (of its DER bytes) and its subject,
/// issuer and validity for people; never a private key, which the device keeps. A thumbprint belongs to one device.
/// A device has at most <see cref="MaxPerDevice"/>, so a new one can be added before the old one is removed.
/// </summary>
/// <remarks>
/// Shares the device registry's connection and lock: a device's removal removes its certificates in the same
/// transaction, so an id registered again later does not inherit them. Lookups (one per CONNECT with a certificate)
/// read an in-memory map, never the database.
/// </remarks>
public sealed class DeviceCertificates
{
    public const string TableName = "_plexus.device_certificates";

    /// <summary>Certificates one device may have at once: the current one, its successor during a rotation, and spares.</summary>
    public const int MaxPerDevice = 4;

    private readonly MetadataConnection _connection;
    private readonly Lock _lock;
    private readonly TimeProvider _time;
    private readonly Func<string, bool> _isRegisteredUnlocked;
    private readonly ConcurrentDictionary<string, DeviceCertificate> _byThumbprint = new(StringComparer.Ordinal);

    // Each device's certificates, oldest first; replaced whole under the lock, read without it (a CONNECT in CA mode).
    private readonly ConcurrentDictionary<string, DeviceCertificate[]> _byDevice = new(StringComparer.Ordinal);

    internal DeviceCertificates(MetadataConnection connection, Lock registryLock, Func<string, bool> isRegisteredUnlocked, TimeProvider time)
    {
        _isRegisteredUnlocked = isRegisteredUnlocked;
        _connection = connection;
        _lock = registryLock;
        _time = time;
    }

    /// <summary>
    /// Called with a device id after one of its certificates was added or removed, outside the lock: the server
    /// closes the device's connections whose certificate is no longer accepted. (A removed device's connections
    /// are all closed through <see cref="DeviceRegistry.TokenRevoked"/>.)
    /// </summary>
    public Action<string>? Changed { get; set; }

    /// <summary>The device a certificate thumbprint (hex, any case) is registered for; null when none.</summary>
    public string? DeviceOf(string thumbprint) =>
        _byThumbprint.TryGetValue(thumbprint.ToLowerInvariant(), out var certificate) ? certificate.DeviceId : null;

    /// <summary>Whether the device has registered certificates (then only those are accepted for it).</summary>
    public bool HasAny(string deviceId) => _byDevice.ContainsKey(deviceId);

    /// <summary>The device's certificates, oldest first.</summary>
    public IReadOnlyList<DeviceCertificate> List(string deviceId) => _byDevice.GetValueOrDefault(deviceId) ?? [];

    /// <summary>
    /// Registers a certificate for a registered device: a PEM certificate (<c>-----BEGIN CERTIFICATE-----</c>) or its
    /// SHA-256 thumbprint as 64 hex digits. A PEM that holds a private key is refused, so no key is ever stored.
    /// </summary>
    public DeviceCertificate Add(string deviceId, string certificateOrThumbprint)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        var parsed = Parse(certificateOrThumbprint);
        DeviceCertificate added;
        lock (_lock)
        {
            if (!_isRegisteredUnlocked(deviceId))
            {
                throw DeviceRegistry.NotFound(deviceId);
            }

            if (_byThumbprint.TryGetValue(parsed.Thumbprint, out var existing))
            {
                throw string.Equals(existing.DeviceId, deviceId, StringComparison.Ordinal)
                    ? RegistryException.Conflict("certificate", $"certificate {parsed.Thumbprint} is already registered for device \"{deviceId}\"")
                    : RegistryException.Conflict("certificate", $"certificate {parsed.Thumbprint} is registered for another device; one certificate authenticates one device, remove it there first");
            }

            int count = List(deviceId).Count;
            if (count >= MaxPerDevice)
            {
                throw RegistryException.Invalid("certificate", $"device \"{deviceId}\" already has {count} certificates, the most a device may have ({MaxPerDevice}); remove one it no longer uses first");
            }

            added = parsed with { DeviceId = deviceId, AddedAt = RegistryFields.Now(_time, null) };
            _connection.Execute(
                $"INSERT INTO {TableName} (thumbprint, device_id, subject, issuer, not_before, not_after, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                added.Thumbprint, added.DeviceId, added.Subject, added.Issuer, added.NotBefore?.UtcDateTime, added.NotAfter?.UtcDateTime, added.AddedAt.UtcDateTime);
            _byThumbprint[added.Thumbprint] = added;
            _byDevice[deviceId] = [.. List(deviceId), added];
        }

        Changed?.Invoke(deviceId);
        return added;
    }

    /// <summary>Removes one of the device's certificates; it stops working at once. False when the device has no such certificate.</summary>
    public bool Remove(string deviceId, string thumbprint)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        ArgumentNullException.ThrowIfNull(thumbprint);
        string key = thumbprint.ToLowerInvariant();
        lock (_lock)
        {
            if (!_byThumbprint.TryGetValue(key, out var existing) || !string.Equals(existing.DeviceId, deviceId, StringComparison.Ordinal))
            {
                return false;
            }

            _connection.Execute($"DELETE FROM {TableName} WHERE thumbprint = $1", key);
            _byThumbprint.TryRemove(key, out _);
            var rest = List(deviceId).Where(c => c.Thumbprint != key).ToArray();
            if (rest.Length == 0)
            {
                _byDevice.TryRemove(deviceId, out _);
            }
            else
            {
                _byDevice[deviceId] = rest;
            }
        }

        Changed?.Invoke(deviceId);
        return true;
    }

    /// <summary>Inside the registry's lock and its removal transaction: the device's rows go with it.</summary>
    internal void RemoveDeviceUnlocked(string deviceId) =>
        _connection.Execute($"DELETE FROM {TableName} WHERE device_id = $1", deviceId);

    /// <summary>After the removal committed: the device's certificates stop working.</summary>
    internal void ForgetDeviceUnlocked(string deviceId)
    {
        if (_byDevice.TryRemove(deviceId, out var certificates))
        {
            foreach (var certificate in certificates)
            {
                _byThumbprint.TryRemove(certificate.Thumbprint, out _);
            }
        }
    }

    internal void EnsureCreatedAndLoad()
    {
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {TableName} (
                thumbprint VARCHAR PRIMARY KEY,
                device_id VARCHAR NOT NULL,
                subject VARCHAR,
                issuer VARCHAR,
                not_before TIMESTAMP,
                not_after TIMESTAMP,
                added_at TIMESTAMP NOT NULL)
            """);
        _connection.Query($"SELECT thumbprint, device_id, subject, issuer, not_before, not_after, added_at FROM {TableName}", reader =>
        {
            var certificate = new DeviceCertificate(
                reader.GetString(0),
                reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : RegistryFields.AsUtc(reader.GetDateTime(4)),
                reader.IsDBNull(5) ? null : RegistryFields.AsUtc(reader.GetDateTime(5)),
                RegistryFields.AsUtc(reader.GetDateTime(6)));
            _byThumbprint[certificate.Thumbprint] = certificate;
        });
        foreach (var device in _byThumbprint.Values.GroupBy(c => c.DeviceId, StringComparer.Ordinal))
        {
            _byDevice[device.Key] = [.. device.OrderBy(c => c.AddedAt).ThenBy(c => c.Thumbprint, StringComparer.Ordinal)];
        }
    }

    /// <summary>The SHA-256 thumbprint of a certificate's DER bytes, lower-case hex: the form the registry stores and matches.</summary>
    public static string ThumbprintOf(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));
    }

    private static DeviceCertificate Parse(string? certificateOrThumbprint)
    {
        string text = certificateOrThumbprint?.Trim() ?? "";
        if (text.Length == 0)
        {
            throw RegistryException.Invalid("certificate", "certificate is required: a PEM certificate (-----BEGIN CERTIFICATE-----) or its SHA-256 thumbprint as 64 hex digits");
        }

        if (text.Length == 64 && text.All(char.IsAsciiHexDigit))
        {
            return new DeviceCertificate(text.ToLowerInvariant(), "", null, null, null, null, default);
        }

        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            throw RegistryException.Invalid("certificate", "the PEM holds a private key; send only the certificate (-----BEGIN CERTIFICATE-----), the device keeps its key");
        }

        if (text.Length > 64 * 1024)
        {
            throw RegistryException.Invalid("certificate", $"the certificate is {text.Length} characters, more than the 65536 a PEM certificate needs");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(text);
        }
        catch (CryptographicException error)
        {
            throw RegistryException.Invalid("certificate", $"not a PEM certificate ({error.Message}); give the device's certificate as PEM (-----BEGIN CERTIFICATE-----) or its SHA-256 thumbprint as 64 hex digits");
        }

        using (certificate)
        {
            return new DeviceCertificate(
                ThumbprintOf(certificate),
                "",
                certificate.Subject,
                certificate.Issuer,
                new DateTimeOffset(certificate.NotBefore.ToUniversalTime()),
                new DateTimeOffset(certificate.NotAfter.ToUniversalTime()),
                default);
        }
    }
}
