using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.InfluxQL.Tests.Execution;

/// <summary>
/// A server holding a small, fully known data set for the InfluxQL tests: namespace <c>lab</c> with <c>cpu</c> (tags
/// host, region; fields usage, load, status, up; a row every 10 s for 10 minutes from 2023-11-14T22:13:20Z, host b
/// silent for 100 s, host c sometimes with load only, host o'brien once a minute), <c>cpu_temp</c>, <c>mem</c> and
/// <c>disk,io</c>; namespace <c>lab2</c> with its own <c>cpu</c>.
/// </summary>
public sealed class InfluxLab : IAsyncLifetime
{
    /// <summary>The first point, in seconds: 2023-11-14T22:13:20Z.</summary>
    public const long T0 = 1_700_000_000;

    public PlexusTestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await PlexusTestServer.StartAsync();
        await WriteAsync("lab", Lab());
        await WriteAsync("lab2", Lab2());
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    private async Task WriteAsync(string db, string lines)
    {
        using var response = await Server.Client.PostAsync($"/write?db={db}&precision=s", new StringContent(lines, Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    /// <summary><c>GET /query</c> with the admin token; the body parsed.</summary>
    public async Task<JsonElement> QueryAsync(string q, string db = "lab", string extra = "epoch=ns")
    {
        using var response = await Server.Client.GetAsync($"/query?db={Uri.EscapeDataString(db)}&q={Uri.EscapeDataString(q)}&{extra}");
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static string Lab()
    {
        var text = new StringBuilder();
        void Line(FormattableString line) => text.Append(line.ToString(CultureInfo.InvariantCulture)).Append('\n');
        for (int i = 0; i < 60; i++)
        {
            long t = T0 + (10 * i);
            Line($"cpu,host=a,region=east usage={((i * 7) + 97) % 23}.5,load={i % 5}i,status=\"s{i % 3}\",up={i % 2 == 1} {t}");
            if (i is < 20 or >= 30)
            {
                Line($"cpu,host=b,region=west usage={((i * 7) + 98) % 23}.5,load={(i + 1) % 5}i,status=\"s{(i + 1) % 3}\",up={i % 2 == 0} {t}");
            }

            if (i % 7 == 0)
            {
                Line($"cpu,host=c load={i % 4}i {t}");
            }
            else
            {
                Line($"cpu,host=c usage={(i * 5) % 17}.25,load={i % 4}i,status=\"s{i % 2}\",up=true {t}");
            }

            if (i % 6 == 0)
            {
                Line($"cpu,host=o'brien,region=east usage={i}.0 {t}");
            }

            Line($"cpu_temp,host=a temp={20 + (i * 0.1):0.0} {t}");
            Line($"mem,host=a free={1000 - i}i {t}");
            if (i % 2 == 0)
            {
                Line($"mem,host=b free={2000 - (i * i)}i {t}");
            }

            Line($"disk\\,io,host=a read={i * 2.5} {t}");
        }

        return text.ToString();
    }

    private static string Lab2()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 10; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"cpu,host=z usage={(i * 3) % 7}.0 {T0 + (10 * i)}\n");
        }

        return text.ToString();
    }
}
