using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Rules.Alarms;
using Plexus.Storage;

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

    /// <summary>Fills a topic or payload template: {rule}, {device}, {severity}, {status}, {id}; in a topic, a value's '/', '+' and '#' become '_'.</summary>
    public static string Fill(string template, AlarmRecord alarm, bool topic)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(alarm);
        string Safe(string value) => topic ? value.Replace('/', '_').Replace('+', '_').Replace('#', '_').Replace('\0', '_') : value;
        return template
            .Replace("{rule}", Safe(alarm.Rule), StringComparison.Ordinal)
            .Replace("{device}", Safe(alarm.Device), StringComparison.Ordinal)
            .Replace("{severity}", AlarmStore.Text(alarm.Severity), StringComparison.Ordinal)
            .Replace("{status}", AlarmStore.Text(alarm.Status), StringComparison.Ordinal)
            .Replace("{id}", alarm.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
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
        string target = delivery.Action.Type == RuleAction.Mqtt ? Fill(delivery.Action.Topic!, alarm, topic: true) : delivery.Action.Url!;
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
