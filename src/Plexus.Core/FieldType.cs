namespace Plexus.Core;

/// <summary>The value types a field can hold; a field keeps its first type for the life of a measurement.</summary>
public enum FieldType : byte
{
    None = 0,
    Float = 1,
    Integer = 2,
    UInteger = 3,
    Boolean = 4,
    String = 5,
}

public static class FieldTypeNames
{
    /// <summary>The word users see in errors: the line-protocol type names, not CLR or SQL ones.</summary>
    public static string Name(this FieldType type) => type switch
    {
        FieldType.Float => "float",
        FieldType.Integer => "integer",
        FieldType.UInteger => "unsigned",
        FieldType.Boolean => "boolean",
        FieldType.String => "string",
        _ => "none",
    };
}
