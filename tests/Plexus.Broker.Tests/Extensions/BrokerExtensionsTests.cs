using MQTTnet.Server;
using Plexus.Broker.Extensions;

namespace Plexus.Broker.Tests.Extensions;

/// <summary>The dispatcher runs each event's hooks in the order of the broker's list, and stops at one that throws.</summary>
public sealed class BrokerExtensionsTests
{
    [Fact]
    public async Task Hooks_run_in_list_order_and_extensions_without_the_hook_are_skipped()
    {
        var calls = new List<string>();
        var extensions = new BrokerExtensions([new Recording("first", calls), new NoHooks(), new Recording("second", calls), new Recording("third", calls)]);

        var handler = extensions.Chain<IServerStoppedHook, EventArgs>(static (x, e) => x.ServerStoppedAsync(e));
        await handler!(EventArgs.Empty);

        Assert.Equal(["first", "second", "third"], calls);
    }

    [Fact]
    public async Task A_hook_that_completes_later_is_awaited_before_the_next_one_runs()
    {
        var calls = new List<string>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var extensions = new BrokerExtensions([new Recording("slow", calls, gate.Task), new Recording("next", calls)]);

        Task run = extensions.Chain<IServerStoppedHook, EventArgs>(static (x, e) => x.ServerStoppedAsync(e))!(EventArgs.Empty);
        Assert.Equal(["slow"], calls);
        gate.SetResult();
        await run;

        Assert.Equal(["slow", "next"], calls);
    }

    [Fact]
    public async Task An_extension_that_throws_stops_the_chain_and_the_exception_reaches_MQTTnet()
    {
        var calls = new List<string>();
        var extensions = new BrokerExtensions([new Recording("first", calls), new Throwing(), new Recording("after", calls)]);

        var handler = extensions.Chain<IServerStoppedHook, EventArgs>(static (x, e) => x.ServerStoppedAsync(e))!;

        await Assert.ThrowsAsync<InvalidOperationException>(() => handler(EventArgs.Empty));
        Assert.Equal(["first"], calls);
    }

    [Fact]
    public void An_event_no_extension_hooks_gets_no_handler()
    {
        var extensions = new BrokerExtensions([new NoHooks()]);

        Assert.Null(extensions.Chain<IServerStoppedHook, EventArgs>(static (x, e) => x.ServerStoppedAsync(e)));
    }

    [Fact]
    public async Task Attached_to_an_MQTTnet_server_the_hooks_run_in_list_order()
    {
        var calls = new List<string>();
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build());
        new BrokerExtensions([new Recording("first", calls), new Recording("second", calls)]).AttachTo(server);

        await server.StartAsync();
        await server.StopAsync();

        Assert.Equal(["first", "second"], calls);
    }

    private sealed class Recording(string name, List<string> calls, Task? completion = null) : IServerStoppedHook
    {
        public Task ServerStoppedAsync(EventArgs e)
        {
            calls.Add(name);
            return completion ?? Task.CompletedTask;
        }
    }

    private sealed class Throwing : IServerStoppedHook
    {
        public Task ServerStoppedAsync(EventArgs e) => throw new InvalidOperationException("broken extension");
    }

    private sealed class NoHooks : IBrokerExtension;
}
