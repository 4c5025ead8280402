using System.Globalization;
using Plexus.Cli.Client;
using Plexus.Simulator;

namespace Plexus.Cli.Commands;

/// <summary>The raw option values of `plexus simulate`, before they are checked.</summary>
internal sealed record SimulateArguments(
    int Trucks,
    string? Start,
    string? End,
    string? Duration,
    string Interval,
    ulong Seed,
    string Format,
    string? Out,
    bool NoChaos,
    bool NoMissing,
    bool NoOutOfOrder,
    bool NoNulls,
    string? Url,
    bool Realtime);

/// <summary>The checked settings of one `plexus simulate` run.</summary>
internal sealed record SimulateSettings(FleetSimulationOptions Options, FleetFormat Format, string OutputPath, string? Url, bool Realtime)
{
    private static readonly TimeSpan s_defaultDuration = TimeSpan.FromHours(1);

    /// <summary>Checks and combines the options; a bad value is a <see cref="CliException"/> saying which and why.</summary>
    public static SimulateSettings Resolve(SimulateArguments arguments, TimeProvider clock)
    {
        if (!SimulationDuration.TryParse(arguments.Interval, out var interval) || interval <= TimeSpan.Zero)
        {
            throw new CliException($"--interval: '{arguments.Interval}' is not a duration such as 10s, 500ms or 1m");
        }

        if (arguments.End is not null && arguments.Duration is not null)
        {
            throw new CliException("give --end or --duration, not both");
        }

        DateTimeOffset start;
        if (arguments.Realtime)
        {
            if (arguments.Start is not null)
            {
                throw new CliException("--realtime starts now; leave out --start");
            }

            // Now, rounded down to the interval, so ticks fall on round times (…:00, :10, :20 for 10 s).
            long now = (clock.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks;
            start = DateTimeOffset.UnixEpoch.AddTicks(now - (now % interval.Ticks));
        }
        else
        {
            start = arguments.Start is null ? FleetSimulationOptions.DefaultStart : ParseTime(arguments.Start, "--start");
        }

        DateTimeOffset end;
        if (arguments.End is not null)
        {
            end = ParseTime(arguments.End, "--end");
            if (end < start)
            {
                throw new CliException($"--end {Rfc3339(end)} is before the start {Rfc3339(start)}");
            }
        }
        else
        {
            var duration = s_defaultDuration;
            if (arguments.Duration is not null && (!SimulationDuration.TryParse(arguments.Duration, out duration) || duration <= TimeSpan.Zero))
            {
                throw new CliException($"--duration: '{arguments.Duration}' is not a duration such as 30m, 5h, 1h30m or 3d");
            }

            end = start + duration;
        }

        if (end > FleetSimulationOptions.MaxTimestamp || start < DateTimeOffset.UnixEpoch)
        {
            throw new CliException("the run must lie between 1970-01-01 and 2262-04-11 (nanosecond timestamps in 64 bits)");
        }

        if (!FleetFormatters.TryParse(arguments.Format, out var format))
        {
            throw new CliException($"--format: '{arguments.Format}' is not one of lp, csv, jsonl");
        }

        // Unlike `write`, PLEXUS_URL alone does not switch to sending: without --url the fleet goes to --out.
        string? url = arguments.Url;
        if (url is not null)
        {
            if (arguments.Out is not null)
            {
                throw new CliException("--out and --url exclude each other: write to a file or send to a server");
            }

            if (format != FleetFormat.LineProtocol)
            {
                throw new CliException("the server takes line protocol: leave out --format (or use --format lp) with --url");
            }
        }

        var chaos = FleetChaosOptions.Tsbs;
        if (arguments.NoChaos)
        {
            chaos = FleetChaosOptions.None;
        }

        if (arguments.NoMissing)
        {
            chaos = chaos.WithoutMissing();
        }

        if (arguments.NoOutOfOrder)
        {
            chaos = chaos.WithoutOutOfOrder();
        }

        if (arguments.NoNulls)
        {
            chaos = chaos.WithoutNulls();
        }

        var options = new FleetSimulationOptions
        {
            Trucks = arguments.Trucks,
            Start = start,
            End = end,
            Interval = interval,
            Seed = arguments.Seed,
            Chaos = chaos,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            // The library names the parameter and value for developers; the person at the prompt needs only the reason.
            string message = e.Message;
            int detail = message.IndexOf(" (Parameter", StringComparison.Ordinal);
            throw new CliException(detail > 0 ? message[..detail] : message, e);
        }

        return new SimulateSettings(options, format, arguments.Out ?? "-", url, arguments.Realtime);
    }

    private static string Rfc3339(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text, string option)
    {
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time;
        }

        throw new CliException($"{option}: '{text}' is not a time such as 2016-01-01T00:00:00Z");
    }
}
