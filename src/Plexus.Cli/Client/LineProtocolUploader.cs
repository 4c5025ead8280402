using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Plexus.Cli.Client;

/// <summary>How `plexus write` sends: target namespace, timestamp precision, compression and parallelism.</summary>
internal sealed record WriteSettings(string? Namespace, string Precision, bool Gzip, int Concurrency);

/// <summary>A line the server refused, numbered in the whole input.</summary>
internal sealed record RejectedLine(long Line, string Reason, string Text);

/// <summary>Running totals of an upload; read them after <see cref="LineProtocolUploader.UploadAsync"/> returns or throws.</summary>
internal sealed class WriteTotals
{
    public long LinesSent { get; set; }

    public long PointsWritten { get; set; }

    public long LinesRejected { get; set; }

    public long Requests { get; set; }

    /// <summary>The rejected lines with the lowest line numbers, at most <see cref="LineProtocolUploader.MaxShownErrors"/>.</summary>
    public List<RejectedLine> FirstRejected { get; } = [];
}

/// <summary>
/// Sends line-protocol batches to `POST /api/v2/write`, up to <see cref="WriteSettings.Concurrency"/> at a time,
/// retrying the transient 503 (server starting or stopping) and 429 with back-off, and adding up what the server
/// wrote and rejected. The first fatal failure (unreachable, 401, 413, other errors) stops the upload.
/// </summary>
internal sealed class LineProtocolUploader
{
    public const int MaxShownErrors = 20;

    // Longest wait a Retry-After header may impose on us; a server asking for more is treated as down.
    private static readonly TimeSpan s_maxRetryAfter = TimeSpan.FromSeconds(30);

    private readonly PlexusApiClient _client;
    private readonly WriteSettings _settings;
    private readonly TimeProvider _time;
    private readonly IReadOnlyList<TimeSpan> _retryDelays;
    private readonly Lock _totalsLock = new();
    private CliException? _fatal;

    public LineProtocolUploader(PlexusApiClient client, WriteSettings settings, TimeProvider? time = null, IReadOnlyList<TimeSpan>? retryDelays = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Concurrency, 1);
        _client = client;
        _settings = settings;
        _time = time ?? TimeProvider.System;
        _retryDelays = retryDelays ?? DefaultRetryDelays;
    }

    /// <summary>Waits between attempts after a 503/429: about 7.75 s in all before giving up.</summary>
    public static IReadOnlyList<TimeSpan> DefaultRetryDelays { get; } =
    [
        TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4),
    ];

    public WriteTotals Totals { get; } = new();

    /// <summary>
    /// Reads batches from <paramref name="reader"/> and sends them. <paramref name="progress"/> is called with the
    /// input bytes of each batch the server has answered, from any thread. Throws <see cref="CliException"/> on the
    /// first fatal failure; <see cref="Totals"/> then tells what had been written before it.
    /// </summary>
    public async Task UploadAsync(LineBatchReader reader, Action<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(_settings.Concurrency);
        var inFlight = new List<Task>();
        CliException? readFailure = null;
        try
        {
            while (true)
            {
                // Take a slot before reading, so no more than Concurrency batches are ever held in memory.
                await slots.WaitAsync(stop.Token);
                LineBatch? batch;
                try
                {
                    batch = await reader.ReadBatchAsync(stop.Token);
                }
                catch
                {
                    slots.Release();
                    throw;
                }

                if (batch is null)
                {
                    slots.Release();
                    break;
                }

                inFlight.RemoveAll(task => task.IsCompleted);
                inFlight.Add(SendInSlotAsync(batch, slots, stop, progress));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped by the user (thrown below) or by a batch's fatal failure (its error is thrown below).
        }
        catch (IOException e)
        {
            readFailure = new CliException($"cannot read the input: {e.Message}", e);
            await stop.CancelAsync();
        }

        // Every send task catches its own exceptions, so this only waits for them to settle.
        await Task.WhenAll(inFlight);
        cancellationToken.ThrowIfCancellationRequested();
        if (_fatal is not null)
        {
            throw _fatal;
        }

        if (readFailure is not null)
        {
            throw readFailure;
        }
    }

    private async Task SendInSlotAsync(LineBatch batch, SemaphoreSlim slots, CancellationTokenSource stop, Action<long>? progress)
    {
        try
        {
            await Task.Yield(); // Let the reader go on filling the next batch while this one is compressed and sent.
            await SendBatchAsync(batch, stop.Token);
            progress?.Invoke(batch.InputBytes);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped by the user or by another batch's failure; nothing to add.
        }
        catch (Exception e)
        {
            var failure = e as CliException ?? new CliException($"sending lines {batch.FirstLine}-{batch.FirstLine + batch.LineCount - 1} failed: {e.Message}", e);
            lock (_totalsLock)
            {
                _fatal ??= failure;
            }

            await stop.CancelAsync();
        }
        finally
        {
            slots.Release();
        }
    }

    private async Task SendBatchAsync(LineBatch batch, CancellationToken cancellationToken)
    {
        if (batch.DataLineCount == 0)
        {
            return; // Only blank and comment lines: nothing for the server to do.
        }

        var body = _settings.Gzip ? Compress(batch.Body) : batch.Body;
        string path = WritePath();
        for (int attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ReadOnlyMemoryContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
            if (_settings.Gzip)
            {
                request.Content.Headers.ContentEncoding.Add("gzip");
            }

            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                Record(batch, written: batch.DataLineCount, rejected: 0, []);
                return;
            }

            if ((response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests) && attempt < _retryDelays.Count)
            {
                var delay = RetryAfter(response) ?? _retryDelays[attempt];
                if (delay <= s_maxRetryAfter)
                {
                    await Task.Delay(delay, _time, cancellationToken);
                    continue;
                }
            }

            if (response.StatusCode == HttpStatusCode.BadRequest && await TryReadPartialWriteAsync(batch, response, cancellationToken))
            {
                return;
            }

            var failure = await _client.FailureAsync(response, cancellationToken);
            if (response.StatusCode == HttpStatusCode.RequestEntityTooLarge)
            {
                failure = new CliException($"{failure.Message}; the batch starting at line {batch.FirstLine} was {body.Length} bytes: lower --batch-size{(_settings.Gzip ? "" : " or add --gzip")}");
            }

            throw failure;
        }
    }

    /// <summary>Reads a 400 partial-write report; false when the 400 is about the request itself (bad precision, ...).</summary>
    private async Task<bool> TryReadPartialWriteAsync(LineBatch batch, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        byte[] bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException)
        {
            throw new CliException($"400 bad request: {System.Text.Encoding.UTF8.GetString(bytes).Trim()}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("rejected", out var rejectedElement) || !rejectedElement.TryGetInt64(out long rejected))
            {
                string message = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String
                    ? m.GetString()!
                    : "the server refused the request";
                throw new CliException($"400 bad request: {message}");
            }

            long written = root.TryGetProperty("written", out var writtenElement) && writtenElement.TryGetInt64(out long w)
                ? w
                : Math.Max(0, batch.DataLineCount - rejected);
            var errors = new List<RejectedLine>();
            if (root.TryGetProperty("errors", out var errorArray) && errorArray.ValueKind == JsonValueKind.Array)
            {
                foreach (var error in errorArray.EnumerateArray())
                {
                    if (errors.Count == MaxShownErrors)
                    {
                        break; // Only the first few are ever shown, and errors come in line order.
                    }

                    long line = error.TryGetProperty("line", out var l) && l.TryGetInt64(out long n) ? n : 0;
                    errors.Add(new RejectedLine(
                        line > 0 ? batch.ToInputLine(line) : 0,
                        StringOrEmpty(error, "reason"),
                        StringOrEmpty(error, "text")));
                }
            }

            Record(batch, written, rejected, errors);
            return true;
        }
    }

    private void Record(LineBatch batch, long written, long rejected, List<RejectedLine> errors)
    {
        lock (_totalsLock)
        {
            var totals = Totals;
            totals.Requests++;
            totals.LinesSent += batch.DataLineCount;
            totals.PointsWritten += written;
            totals.LinesRejected += rejected;
            if (errors.Count > 0)
            {
                // Batches finish out of order when several are in flight; keep the lowest line numbers overall.
                totals.FirstRejected.AddRange(errors);
                totals.FirstRejected.Sort((a, b) => a.Line.CompareTo(b.Line));
                if (totals.FirstRejected.Count > MaxShownErrors)
                {
                    totals.FirstRejected.RemoveRange(MaxShownErrors, totals.FirstRejected.Count - MaxShownErrors);
                }
            }
        }
    }

    private string WritePath()
    {
        string path = "api/v2/write?precision=" + Uri.EscapeDataString(_settings.Precision);
        if (!string.IsNullOrEmpty(_settings.Namespace))
        {
            path += "&bucket=" + Uri.EscapeDataString(_settings.Namespace);
        }

        return path;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter?.Delta is { } delta && delta >= TimeSpan.Zero ? delta : null;

    private static ReadOnlyMemory<byte> Compress(ReadOnlyMemory<byte> body)
    {
        var compressed = new MemoryStream(capacity: body.Length / 4 + 64);
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(body.Span);
        }

        return new ReadOnlyMemory<byte>(compressed.GetBuffer(), 0, (int)compressed.Length);
    }

    private static string StringOrEmpty(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";
}
