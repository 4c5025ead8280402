namespace Plexus.Devices;

public enum DeviceErrorKind
{
    /// <summary>Bad input; <see cref="DeviceRegistryException.Field"/> names it.</summary>
    Invalid,

    NotFound,

    /// <summary>A device with that id already exists.</summary>
    Conflict,
}

/// <summary>A refused registry operation, with the field at fault for <see cref="DeviceErrorKind.Invalid"/>.</summary>
public sealed class DeviceRegistryException : Exception
{
    public DeviceRegistryException()
    {
    }

    public DeviceRegistryException(string message)
        : base(message)
    {
    }

    public DeviceRegistryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DeviceRegistryException(DeviceErrorKind kind, string? field, string message)
        : base(message)
    {
        Kind = kind;
        Field = field;
    }

    public DeviceErrorKind Kind { get; }

    public string? Field { get; }

    internal static DeviceRegistryException Invalid(string field, string message) => new(DeviceErrorKind.Invalid, field, message);

    internal static DeviceRegistryException NotFound(string id) => new(DeviceErrorKind.NotFound, "id", $"no device \"{id}\" is registered");
}
