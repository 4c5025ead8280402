using Microsoft.Extensions.Logging;
using Plexus.Core;

namespace Plexus.Broker.Auth;

/// <summary>
/// The rules of an MQTT ACL file in Mosquitto's format, for applications (API tokens other than the admin token):
/// <code>
/// # comment
/// topic read public/#              # before any user line: for every application
/// user dashboard                   # the token's name
/// topic read devices/+/telemetry
/// topic readwrite apps/dashboard/#
/// pattern readwrite clients/%u/%c/# # every application: %u its token's name, %c the client id
/// </code>
/// With a file, an application may subscribe only within (and receive only from) its <c>read</c> grants and publish
/// only to its <c>write</c> grants, on top of its scope and its token's own topic filters. <c>%u</c> is the
/// authenticated token name, never the user name a client sent, and <c>%c</c> the client id of the connection, which
/// the session ownership keeps to that principal. A name or client id holding <c>+</c>, <c>#</c> or <c>/</c> (or empty)
/// makes a pattern grant nothing, so nobody widens a pattern by choosing one.
/// </summary>
public sealed class MqttAclFile
{
    private readonly Dictionary<string, Grant[]> _users;
    private readonly Grant[] _everyone;

    private MqttAclFile(Dictionary<string, Grant[]> users, Grant[] everyone)
    {
        _users = users;
        _everyone = everyone;
    }

    /// <summary>Reads and checks a file; a mistake is a <see cref="FormatException"/> naming the file and line.</summary>
    public static MqttAclFile Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllText(path), path);
    }

    public static MqttAclFile Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var users = new Dictionary<string, List<Grant>>(StringComparer.Ordinal);
        var everyone = new List<Grant>();
        List<Grant>? current = null;
        string[] lines = text.Split('\n');
        for (int number = 1; number <= lines.Length; number++)
        {
            string line = lines[number - 1].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string where = $"{source} line {number}";
            switch (words[0])
            {
                case "user" when words.Length == 2:
                    if (!users.TryGetValue(words[1], out current))
                    {
                        current = [];
                        users[words[1]] = current;
                    }

                    break;
                case "user":
                    throw new FormatException($"{where}: write \"user <token name>\" (one name, no spaces)");
                case "topic" or "pattern":
                    bool isPattern = words[0] == "pattern";
                    var (access, filter) = words.Length switch
                    {
                        2 => ("readwrite", words[1]),
                        3 => (words[1], words[2]),
                        _ => throw new FormatException($"{where}: write \"{words[0]} [read|write|readwrite] <topic filter>\" (the filter without spaces)"),
                    };
                    if (access is not ("read" or "write" or "readwrite"))
                    {
                        throw new FormatException($"{where}: the access \"{access}\" is not read, write or readwrite");
                    }

                    if (!MqttTopicFilter.IsValid(filter, MqttTopicRules.MaxFilterLength, out string? problem))
                    {
                        throw new FormatException($"{where}: {problem}");
                    }

                    var grant = new Grant(access != "write", access != "read", filter, isPattern && (filter.Contains("%u", StringComparison.Ordinal) || filter.Contains("%c", StringComparison.Ordinal)));
                    (isPattern ? everyone : current ?? everyone).Add(grant);
                    break;
                default:
                    throw new FormatException($"{where}: \"{words[0]}\" is not a rule; use user, topic or pattern (# starts a comment)");
            }
        }

        return new MqttAclFile(users.ToDictionary(u => u.Key, u => u.Value.ToArray(), StringComparer.Ordinal), [.. everyone]);
    }

    /// <summary>Whether the application may subscribe to <paramref name="filter"/>, or receive a message on a topic (a topic is a filter that covers only itself).</summary>
    public bool MayRead(string tokenName, string clientId, string filter) => Allows(tokenName, clientId, filter, read: true);

    /// <summary>Whether the application may publish to <paramref name="topic"/>.</summary>
    public bool MayWrite(string tokenName, string clientId, string topic) => Allows(tokenName, clientId, topic, read: false);

    private bool Allows(string tokenName, string clientId, string topicOrFilter, bool read)
    {
        if (_users.TryGetValue(tokenName, out var own) && AnyAllows(own, tokenName, clientId, topicOrFilter, read))
        {
            return true;
        }

        return AnyAllows(_everyone, tokenName, clientId, topicOrFilter, read);
    }

    private static bool AnyAllows(Grant[] grants, string tokenName, string clientId, string topicOrFilter, bool read)
    {
        foreach (var grant in grants)
        {
            if (read ? !grant.Read : !grant.Write)
            {
                continue;
            }

            string filter = grant.Filter;
            if (grant.Substitutes)
            {
                if (!IsPlainLevel(tokenName) || !IsPlainLevel(clientId))
                {
                    continue;
                }

                filter = filter.Replace("%u", tokenName, StringComparison.Ordinal).Replace("%c", clientId, StringComparison.Ordinal);
            }

            if (MqttTopicFilter.Covers(filter, topicOrFilter))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A value that fills exactly one topic level and adds no wildcard.</summary>
    private static bool IsPlainLevel(string value) =>
        value.Length > 0 && value.AsSpan().IndexOfAny('+', '#', '/') < 0 && !value.Contains('\0', StringComparison.Ordinal);

    private sealed record Grant(bool Read, bool Write, string Filter, bool Substitutes);
}

/// <summary>
/// The ACL file in force: loaded at start (a mistake stops the start), then reloaded when the file changes or the
/// server gets SIGHUP. A reload that fails keeps the rules in force and logs why.
/// </summary>
public sealed class MqttAclFileSource : IDisposable
{
    private readonly ILogger _logger;
    private readonly FileSystemWatcher _watcher;
    private readonly System.Runtime.InteropServices.PosixSignalRegistration? _hangup;
    private readonly Lock _reloading = new();
    private readonly ITimer _settle;
    private volatile MqttAclFile _current;

    /// <summary>
    /// How long the file must stay unchanged before it is read again: saving a file truncates it first, and an empty
    /// file is a valid one that grants nothing, so a reload between the two writes would lock every application out.
    /// </summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(300);

    public MqttAclFileSource(string path, ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(logger);
        Path = System.IO.Path.GetFullPath(path);
        _logger = logger;
        if (!File.Exists(Path))
        {
            throw new FileNotFoundException($"the MQTT ACL file {Path} (--mqtt-acl-file) does not exist", Path);
        }

        try
        {
            _current = MqttAclFile.Load(Path);
        }
        catch (FormatException error)
        {
            throw new IOException(error.Message + " (--mqtt-acl-file)", error);
        }

        _watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(Path)!, System.IO.Path.GetFileName(Path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _settle = time.CreateTimer(_ => Reload("the file changed"), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _watcher.Changed += (_, _) => _settle.Change(SettleTime, Timeout.InfiniteTimeSpan);
        _watcher.Created += (_, _) => _settle.Change(SettleTime, Timeout.InfiniteTimeSpan);
        _watcher.Renamed += (_, _) => _settle.Change(SettleTime, Timeout.InfiniteTimeSpan);
        _watcher.EnableRaisingEvents = true;
        if (!OperatingSystem.IsWindows())
        {
            _hangup = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP reloads; it does not stop the server
                Reload("SIGHUP");
            });
        }
    }

    public string Path { get; }

    public MqttAclFile Current => _current;

    /// <summary>Reads the file again; on a mistake the rules in force stay.</summary>
    public bool Reload(string reason)
    {
        lock (_reloading)
        {
            try
            {
                _current = MqttAclFile.Load(Path);
                MqttAclFileLog.Reloaded(_logger, Path, reason);
                return true;
            }
            catch (Exception error) when (error is FormatException or IOException or UnauthorizedAccessException)
            {
                MqttAclFileLog.ReloadFailed(_logger, Path, reason, error.Message);
                return false;
            }
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _settle.Dispose();
        _hangup?.Dispose();
    }
}

internal static partial class MqttAclFileLog
{
    [LoggerMessage(EventId = 2110, Level = LogLevel.Information, Message = "MQTT ACL file {Path} reloaded ({Reason})")]
    public static partial void Reloaded(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 2111, Level = LogLevel.Warning, Message = "MQTT ACL file {Path} not reloaded ({Reason}): {Problem}; the rules loaded before stay in force until the file is fixed")]
    public static partial void ReloadFailed(ILogger logger, string path, string reason, string problem);
}
