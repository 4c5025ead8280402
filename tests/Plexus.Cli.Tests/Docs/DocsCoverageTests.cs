using Plexus.TestKit;

namespace Plexus.Cli.Tests.Docs;

/// <summary>
/// Every fenced block of every page of docs/ is either run by a docs test or marked
/// <c>&lt;!-- illustrative: why --&gt;</c> with its reason. Each docs test runs every runnable block (see
/// <see cref="DocsPages.Runnable"/>) of the languages listed for it here, so this list is what they execute.
/// </summary>
public sealed class DocsCoverageTests
{
    /// <summary>Which test runs which blocks: every block of the languages on the page (<c>*</c>: every page).</summary>
    private static readonly (string Page, string[] Languages, string Test)[] Runners =
    [
        // The shell, Python and JavaScript blocks of every page, and the files they read (marked <!-- file: name -->).
        ("*", DocsShell.Languages, "Plexus.Cli.Tests.Docs.DocsShellExamplesTests"),
        // The config file and what plexus serve prints when it starts, from a real plexus serve on free ports.
        ("configuration.md", ["json", ""], "Plexus.Cli.Tests.Docs.ServeDocsTests"),
        ("cli.md", ["sql"], "Plexus.Cli.Tests.Client.DemoRunnerTests.Serve_demo_shows_devices_positions_and_state_in_sql_within_a_minute_and_remove_takes_it_away"),
        ("mqtt.md", ["conf"], "Plexus.Broker.Tests.Auth.MqttAclFileTests (the ACL file the tests grant by)"),
        ("sql.md", ["sql"], "Plexus.Server.Tests.DocsExamplesTests"),
        ("assets.md", ["sql"], "Plexus.Server.Tests.DocsExamplesTests"),
        ("storage.md", ["sql"], "Plexus.Server.Tests.ColdTierQueryTests.The_partitions_query_of_storage_md_lists_both_tiers_with_their_rows"),
        ("cross-data.md", ["sql"], "Plexus.Server.Tests.CrossData.CrossDataCookbookTests"),
        ("geo.md", ["sql"], "Plexus.Geo.Tests.GeoDocsExamplesTests"),
        ("devices.md", ["sql"], "Plexus.Devices.Tests.DeviceDocsExamplesTests"),
        ("rules.md", ["json", "sql"], "Plexus.Rules.Tests.RulesCookbookTests"),
        ("influxql.md", ["influxql"], "Plexus.InfluxQL.Tests.Execution.InfluxQLDocsExamplesTests"),
        ("ingest/json.md", ["json", ""], "Plexus.Ingest.Tests.Docs.PayloadDocsExamplesTests (each payload and the table of its rows)"),
        ("ingest/senml.md", ["json", ""], "Plexus.Ingest.Tests.Docs.PayloadDocsExamplesTests (each payload and the table of its rows)"),
        ("ingest/line-protocol.md", [""], "Plexus.Ingest.Tests.Docs.PayloadDocsExamplesTests (the error examples)"),
    ];

    [Fact]
    public void Every_block_of_every_page_is_run_by_a_test_or_says_why_it_is_illustrative()
    {
        var pages = DocsPages.All();
        Assert.Contains("http-api.md", pages);
        Assert.Contains("ingest/json.md", pages);
        var uncovered = new List<string>();
        foreach (var block in pages.SelectMany(DocsPages.Blocks))
        {
            if (block.Illustrative is { } reason)
            {
                if (reason.Length == 0)
                {
                    uncovered.Add($"{block}: marked illustrative without a reason");
                }
            }
            else if (RunnerOf(block) is null)
            {
                uncovered.Add($"{block}: no test runs it; run it in a test, or mark it <!-- illustrative: why -->");
            }
        }

        Assert.True(uncovered.Count == 0, $"{uncovered.Count} blocks of docs/ are neither run nor illustrative:\n" + string.Join('\n', uncovered));
    }

    [Fact]
    public void Every_runner_has_blocks_to_run_on_its_page()
    {
        foreach (var (page, languages, test) in Runners.Where(runner => runner.Page != "*"))
        {
            Assert.True(DocsPages.Runnable(page, languages).Count > 0, $"{test} runs the {string.Join('/', languages)} blocks of {page}, which has none");
        }
    }

    private static string? RunnerOf(DocsBlock block) =>
        DocsShell.StartsServer(block) ? "Plexus.Cli.Tests.Docs.ServeDocsTests.Shell_blocks_that_start_a_server_run_with_it_on_free_ports"
        : block.File is not null
            ? Runners[0].Test
            : Runners.Where(runner => (runner.Page == "*" || runner.Page == block.Page) && runner.Languages.Contains(block.Language)).Select(runner => runner.Test).FirstOrDefault();
}
