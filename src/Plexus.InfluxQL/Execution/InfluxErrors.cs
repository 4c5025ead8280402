namespace Plexus.InfluxQL.Execution;

/// <summary>Messages of the engine as a statement's error: the engine's class prefix goes where it only adds noise.</summary>
public static class InfluxErrors
{
    // The translator raises its own messages inside the SQL (error('…')) when a condition is only known there.
    private const string RaisedPrefix = "Invalid Input Error: ";

    public static string FromEngine(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.StartsWith(RaisedPrefix, StringComparison.Ordinal) ? message[RaisedPrefix.Length..] : message;
    }
}
