using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Core;
using Plexus.Devices.Twin;
using Plexus.Rules.Alarms;
using Plexus.Storage;
using Plexus.Storage.Writing;

namespace Plexus.Rules.Actions;

/// <summary>How actions run: the webhook timeout and retries, and how many may run at once.</summary>
public sealed record RuleActionOptions
{
    public TimeSpan WebhookTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Retries after a failed call, 1 s, 2 s, 4 s... apart (capped at a minute).</summary>
    public int WebhookRetries { get; init; } = 3;

    /// <summary>Actions waiting to run; past it a new one is a dead letter at once (counted).</summary>
    public int QueueCapacity { get; init; } = 10_000;

    /// <summary>Actions running at once, so that one slow webhook does not hold up the others.</summary>
    public int Concurrency { get; init; } = 16;
}

/// <summary>
/// Runs the actions of rules when their alarms change (docs/rules.md#actions), off the ingest path: the alarm store
/// announces a transition, this queues one delivery per action, and deliveries run on tasks of their own. A webhook gets
/// the alarm as JSON (POST), with a timeout and retries with back-off on the injected clock; an MQTT action publishes
/// through the embedded broker on its templated topic. An action that fails for good becomes a row of
/// <c>_plexus.rule_dead_letters</c> (<c>main.rule_dead_letters</c> in SQL) and is counted.
/// </summary>
public sealed partial class RuleActions : IAsyncDisposable
{
    public const string DeadLetterTable = "_plexus.rule_dead_letters";
    public const string DeadLetterView = "main.rule_dead_letters";
    private const int MaxErrorLength = 1024;

    private readonly RuleRegistry _rules;
    private readonly MetadataConnection _connection;
    private readonly Lock _connectionLock = new();
    private readonly HttpClient _http;
    private readonly Func<string, byte[], Task>? _publish;
    private readonly RuleActionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Delivery> _queue;
    private readonly SemaphoreSlim _running;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _worker;
    private long _delivered;
    private long _deadLetters;
    private long _attempts;

    public RuleActions(PlexusStore store, RuleRegistry rules, Func<string, byte[], Task>? mqttPublish, RuleActionOptions? options = null, TimeProvider? time = null, ILogger? logger = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(rules);
        _rules = rules;
        _publish = mqttPublish;
        _options = options ?? new RuleActionOptions();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;

        // No redirects: a webhook answers where it was configured to, it does not send the alarm on elsewhere.
        _http = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
        _queue = Channel.CreateBounded<Delivery>(new BoundedChannelOptions(_options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _running = new SemaphoreSlim(_options.Concurrency);
        _connection = store.OpenMetadataConnection();
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {DeadLetterTable} (
                failed_at TIMESTAMP NOT NULL, rule VARCHAR NOT NULL, alarm_id BIGINT NOT NULL, transition VARCHAR NOT NULL,
                action VARCHAR NOT NULL, target VARCHAR NOT NULL, attempts INTEGER NOT NULL, error VARCHAR NOT NULL, body VARCHAR NOT NULL)
            """);
        _connection.Execute($"CREATE OR REPLACE VIEW {DeadLetterView} AS SELECT failed_at, rule, alarm_id, transition, action, target, attempts, error, body::JSON AS body FROM {DeadLetterTable}");
        _worker = Task.Run(RunAsync);
    }

    /// <summary>
    /// Where <c>point</c> actions write: the ingest pipeline with the origin <see cref="IngestSource.Rules"/>, whose
    /// writes the rule engine does not evaluate (docs/rules.md#derived-points). Null: point actions are dead letters.
    /// </summary>
    public IPointWriter? Points { get; set; }

    /// <summary>The devices' desired properties, for <c>desired</c> actions; null: they are dead letters.</summary>
    public DesiredProperties? Desired { get; set; }

    /// <summary>The devices' commands, for <c>command</c> actions; null: they are dead letters.</summary>
    public DeviceCommands? Commands { get; set; }

    /// <summary>Whether an alarm's device is a registered device, which <c>desired</c> and <c>command</c> actions need.</summary>
    public Func<string, bool>? IsRegisteredDevice { get; set; }

    /// <summary>Actions that succeeded.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Actions that failed for good (or found the queue full).</summary>
    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    /// <summary>Calls and publishes tried, retries included.</summary>
    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Queues the actions of the alarm's rule; called by the alarm store after a transition (never blocks).</summary>
    public void OnTransition(AlarmEvent change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change.Transition == AlarmTransition.Acknowledged || _rules.Get(change.Alarm.Rule) is not { } rule)
        {
            return;
        }

        byte[]? body = null;
        foreach (var action in rule.Definition.Actions)
        {
            var delivery = new Delivery(change, action, body ??= Body(change));
            if (!_queue.Writer.TryWrite(delivery))
            {
                DeadLetter(delivery, 0, $"the action queue is full ({_options.QueueCapacity} waiting); the receivers are too slow or down");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _worker;
        await _stopping.CancelAsync();
        for (int i = 0; i < _options.Concurrency; i++)
        {
            await _running.WaitAsync();
        }

        _http.Dispose();
        _connection.Dispose();
        _stopping.Dispose();
        _running.Dispose();
    }

    /// <summary>
    /// Fills a template: {rule}, {device}, {severity}, {status}, {id}, and the values of the point that opened or cleared
    /// the alarm, {value} (the first the condition reads) and {value.NAME} (empty when it has none); in a topic, a value's
    /// '/', '+' and '#' become '_'.
    /// </summary>
    public static string Fill(string template, AlarmRecord alarm, bool topic)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(alarm);
        string Safe(string value) => topic ? value.Replace('/', '_').Replace('+', '_').Replace('#', '_').Replace('\0', '_') : value;
        string filled = template
            .Replace("{rule}", Safe(alarm.Rule), StringComparison.Ordinal)
            .Replace("{device}", Safe(alarm.Device), StringComparison.Ordinal)
            .Replace("{severity}", AlarmStore.Text(alarm.Severity), StringComparison.Ordinal)
            .Replace("{status}", AlarmStore.Text(alarm.Status), StringComparison.Ordinal)
            .Replace("{id}", alarm.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        return filled.Contains("{value", StringComparison.Ordinal) ? FillValues(filled, alarm, Safe) : filled;
    }

    /// <summary>Fills the strings of JSON text (a desired patch, a command payload); a value stays a valid JSON string.</summary>
    public static string FillJson(string json, AlarmRecord alarm) =>
        Fill(json, alarm with { Rule = JsonText(alarm.Rule), Device = JsonText(alarm.Device), LastValue = EscapedValues(alarm.LastValue) }, topic: false);

    private static string FillValues(string template, AlarmRecord alarm, Func<string, string> safe)
    {
        using var values = DerivedPoint.ParseValues(alarm.LastValue);
        var text = new StringBuilder(template.Length);
        int at = 0;
        while (at < template.Length)
        {
            int start = template.IndexOf("{value", at, StringComparison.Ordinal);
            int end = start < 0 ? -1 : template.IndexOf('}', start);
            if (start < 0 || end < 0)
            {
                text.Append(template, at, template.Length - at);
                break;
            }

            text.Append(template, at, start - at);
            string placeholder = template[start..(end + 1)];
            if (placeholder == "{value}" || placeholder.StartsWith("{value.", StringComparison.Ordinal))
            {
                text.Append(DerivedPoint.ValueOf(values?.RootElement, placeholder) is { } value ? safe(value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText()) : string.Empty);
            }
            else
            {
                text.Append(placeholder);
            }

            at = end + 1;
        }

        return text.ToString();
    }

    private static string JsonText(string value) => JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();

    /// <summary>The alarm's values with each string's text JSON-escaped, so that filling it into a JSON string keeps the JSON valid.</summary>
    private static string EscapedValues(string values)
    {
        using var document = DerivedPoint.ParseValues(values);
        if (document?.RootElement.ValueKind != JsonValueKind.Object)
        {
            return values;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var member in document.RootElement.EnumerateObject())
            {
                if (member.Value.ValueKind == JsonValueKind.String)
                {
                    json.WriteString(member.Name, JsonText(member.Value.GetString()!));
                }
                else
                {
                    member.WriteTo(json);
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static byte[] Body(AlarmEvent change)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("transition", change.Transition.ToString().ToLowerInvariant());
            json.WriteString("rule", change.Alarm.Rule);
            json.WriteString("device", change.Alarm.Device);
            json.WriteStartObject("alarm");
            AlarmJson.WriteMembers(json, change.Alarm);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private async Task RunAsync()
    {
        await foreach (var delivery in _queue.Reader.ReadAllAsync())
        {
            await _running.WaitAsync();
            _ = Task.Run(async () =>
            {
                try
                {
                    await DeliverAsync(delivery);
                }
                catch (Exception error) when (error is not OutOfMemoryException)
                {
                    DeadLetter(delivery, 1, error.Message);
                }
                finally
                {
                    _running.Release();
                }
            });
        }
    }

    private async Task DeliverAsync(Delivery delivery)
    {
        if (delivery.Action.Type is RuleAction.Point or RuleAction.Desired or RuleAction.Command)
        {
            Interlocked.Increment(ref _attempts);
            string? error = delivery.Action.Type switch
            {
                RuleAction.Point => await WritePointAsync(delivery),
                RuleAction.Desired => await PatchDesiredAsync(delivery),
                _ => await SendCommandAsync(delivery),
            };
            if (error is null)
            {
                Interlocked.Increment(ref _delivered);
            }
            else
            {
                DeadLetter(delivery, 1, error);
            }

            return;
        }

        if (delivery.Action.Type == RuleAction.Mqtt)
        {
            Interlocked.Increment(ref _attempts);
            if (_publish is null)
            {
                DeadLetter(delivery, 0, "the MQTT broker is off (--mqtt off)");
                return;
            }

            byte[] payload = delivery.Action.Payload is { } template ? Encoding.UTF8.GetBytes(Fill(template, delivery.Change.Alarm, topic: false)) : delivery.Body;
            await _publish(Fill(delivery.Action.Topic!, delivery.Change.Alarm, topic: true), payload);
            Interlocked.Increment(ref _delivered);
            return;
        }

        string? lastError = null;
        int attempts = 0;
        for (int attempt = 0; attempt <= _options.WebhookRetries; attempt++)
        {
            if (attempt > 0)
            {
                var backoff = TimeSpan.FromSeconds(Math.Min(60, 1 << Math.Min(attempt - 1, 6)));
                try
                {
                    await Task.Delay(backoff, _time, _stopping.Token);
                }
                catch (OperationCanceledException)
                {
                    lastError += "; the server stopped before the next retry";
                    break;
                }
            }

            attempts++;
            Interlocked.Increment(ref _attempts);
            lastError = await CallAsync(delivery);
            if (lastError is null)
            {
                Interlocked.Increment(ref _delivered);
                return;
            }
        }

        DeadLetter(delivery, attempts, lastError!);
    }

    /// <summary>Writes the action's derived point through the pipeline; null once it is durable, else why not.</summary>
    private async Task<string?> WritePointAsync(Delivery delivery)
    {
        if (Points is not { } points)
        {
            return "derived points are not available on this server";
        }

        var action = delivery.Action;
        var batch = DerivedPoint.Build(action, delivery.Change);
        string ns = DerivedPoint.Split(action.Measurement!).Namespace.ToLowerInvariant();
        try
        {
            var result = await points.WriteAsync(ns, batch, _stopping.Token);
            return result.PointsWritten == 1 ? null : $"the point was refused: {(result.Rejected.Count > 0 ? result.Rejected[0].Reason : "nothing was stored")}";
        }
        catch (Exception error) when (error is SchemaLimitException or StoreUnavailableException or OperationCanceledException)
        {
            return $"the point was not written: {error.Message}";
        }
    }

    private async Task<string?> PatchDesiredAsync(Delivery delivery)
    {
        if (Desired is not { } desired)
        {
            return "desired properties are not available on this server";
        }

        var alarm = delivery.Change.Alarm;
        if (DeviceProblem(alarm.Device) is { } problem)
        {
            return problem;
        }

        try
        {
            using var patch = JsonDocument.Parse(FillJson(delivery.Action.Json!, alarm));
            await desired.PatchAsync(alarm.Device, patch.RootElement, _stopping.Token);
            return null;
        }
        catch (Exception error) when (error is RegistryException or JsonException or OperationCanceledException)
        {
            return $"the desired properties of device \"{alarm.Device}\" were not changed: {error.Message}";
        }
    }

    private async Task<string?> SendCommandAsync(Delivery delivery)
    {
        if (Commands is not { } commands)
        {
            return "commands are not available on this server";
        }

        var alarm = delivery.Change.Alarm;
        if (DeviceProblem(alarm.Device) is { } problem)
        {
            return problem;
        }

        var action = delivery.Action;
        try
        {
            string? payload = action.Json is null ? null : FillJson(action.Json, alarm);
            var command = await commands.SendAsync(alarm.Device, action.Name!, payload, action.Timeout);

            // Recorded in device_commands either way; one no session took is also a dead letter, so that it is seen.
            return command.Status == CommandStatus.Failed ? $"command {command.Id}: {command.Error}" : null;
        }
        catch (RegistryException error)
        {
            return $"the command was not sent to device \"{alarm.Device}\": {error.Message}";
        }
    }

    private string? DeviceProblem(string device) =>
        IsRegisteredDevice is { } registered && !registered(device)
            ? $"\"{device}\" is not a registered device (the rule's alarm is per device tag value, or per series for points without one); register it or send this action's rule only device data"
            : null;

    /// <summary>One webhook call; null when it answered 2xx in time, else why not.</summary>
    private async Task<string?> CallAsync(Delivery delivery)
    {
        var timeout = delivery.Action.Timeout ?? _options.WebhookTimeout;
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, _stopping.Token);
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Action.Url) { Content = new ByteArrayContent(delivery.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.UserAgent.ParseAdd("Plexus-Rules/1");
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            return response.IsSuccessStatusCode ? null : $"the webhook answered {(int)response.StatusCode} {response.ReasonPhrase}";
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return $"no answer within {RuleDurations.Format(timeout)} (the action's timeout, or --webhook-timeout)";
        }
        catch (HttpRequestException error)
        {
            return $"the call failed: {error.Message}";
        }
    }

    private void DeadLetter(Delivery delivery, int attempts, string error)
    {
        var alarm = delivery.Change.Alarm;
        string target = delivery.Action.Type == RuleAction.Mqtt ? Fill(delivery.Action.Topic!, alarm, topic: true) : delivery.Action.Target;
        Log.DeadLetter(_logger, alarm.Rule, alarm.Id, delivery.Action.Type, target, attempts, error);
        try
        {
            lock (_connectionLock)
            {
                _connection.Execute(
                    $"INSERT INTO {DeadLetterTable} (failed_at, rule, alarm_id, transition, action, target, attempts, error, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    _time.GetUtcNow().UtcDateTime, alarm.Rule, alarm.Id, delivery.Change.Transition.ToString().ToLowerInvariant(), delivery.Action.Type, target, attempts,
                    error.Length > MaxErrorLength ? error[..MaxErrorLength] : error, Encoding.UTF8.GetString(delivery.Body));
            }
        }
        catch (Exception failure) when (failure is not OutOfMemoryException)
        {
            Log.DeadLetterNotStored(_logger, failure, alarm.Rule, alarm.Id);
        }

        // Counted once its row is there: whoever sees the count finds the row.
        Interlocked.Increment(ref _deadLetters);
    }

    private sealed record Delivery(AlarmEvent Change, RuleAction Action, byte[] Body);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3210, Level = LogLevel.Warning, Message = "Rule {Rule}: the {Action} action for alarm {AlarmId} to {Target} failed after {Attempts} attempts: {Error}; recorded in rule_dead_letters")]
        public static partial void DeadLetter(ILogger logger, string rule, long alarmId, string action, string target, int attempts, string error);

        [LoggerMessage(EventId = 3211, Level = LogLevel.Error, Message = "Rule {Rule}: the dead letter of alarm {AlarmId} could not be stored")]
        public static partial void DeadLetterNotStored(ILogger logger, Exception error, string rule, long alarmId);
    }
}
