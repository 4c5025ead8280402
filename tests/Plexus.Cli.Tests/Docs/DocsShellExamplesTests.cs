using Plexus.Cli.Client;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Docs;

/// <summary>
/// Every shell example of every page of docs/ (<c>console</c>, <c>sh</c> and <c>bash</c> blocks not marked
/// illustrative) runs as written against one server per page, set up only by what the page itself shows before it;
/// a <c>console</c> block must print what the page shows. See <see cref="DocsShell"/> for how.
/// </summary>
public sealed class DocsShellExamplesTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>The key devices.md's auto-provisioning example connects with, as <c>$PROVISIONING_KEY</c>.</summary>
    private const string ProvisioningKey = "docs-provisioning-key-0123456789";

    public static TheoryData<string> Pages()
    {
        // PLEXUS_DOCS_PAGES=http-api.md,mqtt.md runs only those pages, while one is being edited.
        string[] only = Environment.GetEnvironmentVariable("PLEXUS_DOCS_PAGES")?.Split(',') ?? [];
        var pages = new TheoryData<string>();
        foreach (string page in DocsPages.All().Where(page => DocsShell.BlocksOf(page).Count > 0 && (only.Length == 0 || only.Contains(page))))
        {
            pages.Add(page);
        }

        return pages;
    }

    [Fact]
    public void The_most_read_pages_have_shell_examples_to_run()
    {
        var pages = DocsPages.All().Where(page => DocsShell.BlocksOf(page).Count > 0).ToList();
        Assert.All(["getting-started.md", "http-api.md", "cli.md", "devices.md", "mqtt.md"], page => Assert.Contains(page, pages));
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Shell_examples_of_the_page_run_and_print_what_the_page_shows(string page)
    {
        using var certificates = new TempDirectory("plexus-docs-tls");
        var (certificate, key, _) = TestCertificates.WriteSelfSignedPem(certificates.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: options => page switch
        {
            // The page connects over TLS (sslmode=require) and, on the server's machine, without it.
            "postgres.md" => options with { PgTlsCertificate = certificate, PgTlsKey = key, PgAllowLoopbackCleartext = true },
            "devices.md" => options with { ProvisioningKey = ProvisioningKey },
            _ => options,
        });
        using var stop = new CancellationTokenSource();
        Task demo = Task.CompletedTask;
        if (page == "getting-started.md")
        {
            // The page starts the server with --demo; the test runs the demo in this server instead.
            demo = DemoRunner.RunInProcessAsync(server.Server, TextWriter.Null, TimeSpan.FromMilliseconds(200), stop.Token);
            await Eventually.TrueAsync(async () => await DocsShell.CountAsync(server, "SELECT count(DISTINCT device) FROM positions") == 4, Deadline, "the demo trucks' positions");
        }

        var failures = await DocsShell.RunPageAsync(server, page, new Dictionary<string, string> { ["PROVISIONING_KEY"] = ProvisioningKey });

        await stop.CancelAsync();
        await demo;
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }
}
