using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.InfluxQL.Tests.Execution;

/// <summary>Every ```influxql block of docs/influxql.md runs against the lab data and answers series without an error.</summary>
public sealed class InfluxQLDocsExamplesTests(InfluxLab lab) : IClassFixture<InfluxLab>
{
    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var block in DocsPages.Runnable("influxql.md", "influxql"))
        {
            data.Add(block.Code);
        }

        return data;
    }

    [Fact]
    public void The_docs_have_examples_to_run() => Assert.True(Examples().Count >= 10);

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task InfluxQL_example_from_the_docs_answers_series(string statement)
    {
        var answer = await lab.QueryAsync(statement);
        var result = Assert.Single(answer.GetProperty("results").EnumerateArray());
        Assert.False(result.TryGetProperty("error", out var error), $"{statement}: {error}");
        Assert.True(result.TryGetProperty("series", out var series) && series.GetArrayLength() > 0, $"{statement}: no series");
        Assert.All(series.EnumerateArray(), s => Assert.NotEqual(0, s.GetProperty("values").GetArrayLength()));
    }
}
