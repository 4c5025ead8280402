namespace Plexus.Ingest.State;

/// <summary>How a reported property value was written in JSON; decides its JSON form in answers and its number.</summary>
public enum StateValueKind
{
    String,
    Number,
    Boolean,
    Null,

    /// <summary>An array, kept as its JSON text.</summary>
    Json,
}

/// <summary>One reported property of a state message: the flattened name (<c>a_b</c> for <c>{"a": {"b": …}}</c>) and its value.</summary>
/// <param name="Value">The value as text: a string's content, a number as written, <c>true</c>/<c>false</c>, <c>null</c>, or an array's JSON.</param>
/// <param name="Number">The value as a number where it has one (numbers, and booleans as 1 and 0).</param>
public readonly record struct StateProperty(string Name, string Value, double? Number, StateValueKind Kind);
