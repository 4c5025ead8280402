using Plexus.Broker.Extensions;

namespace Plexus.Broker.Tests.Extensions;

/// <summary>The graceful stop: nothing enters once the gate closed, and the stop waits for what is inside.</summary>
public sealed class PublishGateTests
{
    [Fact]
    public async Task Closing_waits_for_the_messages_inside_and_refuses_new_ones()
    {
        var gate = new PublishGate();
        Assert.True(gate.TryEnter());

        Assert.True(gate.TryClose(out int inFlight));
        Assert.Equal(1, inFlight);
        Assert.True(gate.IsStopping);
        Assert.False(gate.TryEnter());
        Assert.False(gate.Drained.IsCompleted);

        gate.Exit();
        await gate.Drained;
        Assert.False(gate.TryClose(out _));
    }

    [Fact]
    public async Task Closing_an_empty_gate_is_drained_at_once()
    {
        var gate = new PublishGate();

        Assert.True(gate.TryClose(out int inFlight));

        Assert.Equal(0, inFlight);
        await gate.Drained;
    }
}
