using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>The composition root closes what it opened: in reverse order, all of it, on a clean stop and on a failed start.</summary>
public sealed class CompositionRootTests
{
    [Fact]
    public async Task Disposal_stack_closes_newest_first_and_goes_on_past_a_failure()
    {
        var logs = new CollectingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var closed = new List<string>();
        var stack = new DisposalStack(factory.CreateLogger("test"));
        stack.Own("first", new Closing(() => closed.Add("first")));
        stack.Defer("failing", () => throw new InvalidOperationException("cannot close"));
        stack.Own("async", new AsyncClosing(() => closed.Add("async")));

        await stack.DisposeAsync();

        Assert.Equal(["async", "first"], closed);
        Assert.Contains(logs.Entries, e => e.Message.Contains("Could not close failing", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => stack.Own("plain", new object()));
    }

    [Fact]
    public async Task A_start_that_fails_half_way_closes_the_store_so_the_folder_opens_again()
    {
        using var folder = new TempDirectory();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var failure = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(folder.Path, o => o with { MqttEndpoint = $"127.0.0.1:{port}" }));
        Assert.Contains("cannot listen for MQTT", failure.Message, StringComparison.Ordinal);

        // The store, the registries and the HTTP listener were closed: the same folder starts and takes data.
        await using var server = await PlexusTestServer.StartAsync(folder.Path);
        Assert.True((await server.WriteAsync("env t=1 1")).IsSuccessStatusCode);
    }

    private sealed class Closing(Action onClose) : IDisposable
    {
        public void Dispose() => onClose();
    }

    private sealed class AsyncClosing(Action onClose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            onClose();
            return ValueTask.CompletedTask;
        }
    }
}
