namespace Plexus.Core;

/// <summary>Why a registry (devices, assets, geofences, position sources) refused an operation.</summary>
public enum RegistryErrorKind
{
    /// <summary>Bad input; <see cref="RegistryException.Field"/> names the part at fault.</summary>
    Invalid,

    /// <summary>No entry has that id, name or key.</summary>
    NotFound,

    /// <summary>The operation clashes with what exists: the id is taken, the entry still has children.</summary>
    Conflict,

    /// <summary>A part of the request is larger than a configured limit; the message names the option that raises it.</summary>
    TooLarge,
}

/// <summary>
/// A refused registry operation. The message is for the person who sent the request: it says what was wrong and how
/// to fix it. Each front end maps <see cref="Kind"/> to its own answer once (HTTP status, CLI exit).
/// </summary>
public sealed class RegistryException : Exception
{
    public RegistryException()
    {
    }

    public RegistryException(string message)
        : base(message)
    {
    }

    public RegistryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RegistryException(RegistryErrorKind kind, string? field, string message)
        : base(message)
    {
        Kind = kind;
        Field = field;
    }

    public RegistryErrorKind Kind { get; }

    /// <summary>The request's field at fault (<c>id</c>, <c>tags</c>, <c>name</c>...), or null when it is the whole request.</summary>
    public string? Field { get; }

    public static RegistryException Invalid(string? field, string message) => new(RegistryErrorKind.Invalid, field, message);

    public static RegistryException NotFound(string? field, string message) => new(RegistryErrorKind.NotFound, field, message);

    public static RegistryException Conflict(string? field, string message) => new(RegistryErrorKind.Conflict, field, message);

    public static RegistryException TooLarge(string? field, string message) => new(RegistryErrorKind.TooLarge, field, message);
}
