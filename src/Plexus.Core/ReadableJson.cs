using System.Text.Encodings.Web;
using System.Text.Json;

namespace Plexus.Core;

/// <summary>
/// The one way Plexus writes JSON that people read (HTTP answers, errors, query results): quotes, apostrophes, angle
/// brackets and non-ASCII text stay as they are instead of System.Text.Json's default <c>\u0022</c>, <c>\u0027</c>,
/// <c>\u003C</c>, so that an error read in curl or the influx CLI says what it says.
/// </summary>
/// <remarks>
/// The default encoder escapes HTML-significant characters for JSON pasted into an HTML page. Plexus's JSON is never
/// that: every JSON answer is served as <c>application/json</c> with <c>X-Content-Type-Options: nosniff</c>, so no
/// browser renders it as HTML, and the output is still valid JSON (a quote inside a string is <c>\"</c>, control
/// characters are escaped). A page that embeds Plexus's JSON into HTML must encode it for HTML itself, as it would
/// any data.
/// </remarks>
public static class ReadableJson
{
    public static JavaScriptEncoder Encoder => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static readonly JsonWriterOptions Options = new() { Encoder = Encoder, Indented = false };

    /// <summary>For what a person reads in a terminal (the CLI's JSON output).</summary>
    public static readonly JsonWriterOptions Indented = new() { Encoder = Encoder, Indented = true };
}
