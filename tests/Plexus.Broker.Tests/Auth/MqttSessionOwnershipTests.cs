using Microsoft.Extensions.Time.Testing;
using Plexus.Broker.Auth;

namespace Plexus.Broker.Tests.Auth;

/// <summary>The client-id ownership rule on its own, with the broker's session table played by a set.</summary>
public sealed class MqttSessionOwnershipTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly HashSet<string> _sessions = new(StringComparer.Ordinal);
    private readonly MqttSessionOwnership _owners;

    private static readonly MqttPrincipal Dashboard = MqttPrincipal.Application("dashboard", MqttApplicationScope.Read);
    private static readonly MqttPrincipal DeviceOne = MqttPrincipal.Device("d1");

    public MqttSessionOwnershipTests() => _owners = new MqttSessionOwnership(_time, _sessions.Contains);

    private void Connect(string clientId, MqttPrincipal principal)
    {
        Assert.True(_owners.TryClaim(clientId, principal, out _));
        _sessions.Add(clientId);
        _owners.Connected(clientId);
    }

    [Fact]
    public void Another_principal_is_refused_while_the_session_exists_and_named_as_the_owner()
    {
        Connect("dash", Dashboard);

        Assert.False(_owners.TryClaim("dash", DeviceOne, out var owner));

        Assert.Same(Dashboard, owner);
        Assert.Same(Dashboard, _owners.PrincipalOf("dash"));
    }

    [Fact]
    public void The_owner_with_new_credentials_may_take_its_client_id_over()
    {
        Connect("dash", Dashboard);
        var again = MqttPrincipal.Application("Dashboard", MqttApplicationScope.Read);

        Assert.True(_owners.TryClaim("dash", again, out _));

        Assert.Same(again, _owners.PrincipalOf("dash"));
    }

    [Fact]
    public void A_claim_whose_session_is_not_created_yet_still_holds_the_id_until_it_times_out()
    {
        Assert.True(_owners.TryClaim("new", Dashboard, out _));

        Assert.False(_owners.TryClaim("new", DeviceOne, out _));
        _time.Advance(MqttSessionOwnership.PendingClaimTimeout + TimeSpan.FromSeconds(1));
        Assert.True(_owners.TryClaim("new", DeviceOne, out _));
    }

    [Fact]
    public void A_session_that_expired_without_an_event_frees_the_id()
    {
        Connect("dash", Dashboard);
        _sessions.Remove("dash");

        Assert.True(_owners.TryClaim("dash", DeviceOne, out _));
        Assert.Same(DeviceOne, _owners.PrincipalOf("dash"));
    }

    [Fact]
    public void A_deleted_session_frees_the_id_unless_a_new_connect_claimed_it_meanwhile()
    {
        Connect("dash", Dashboard);
        _sessions.Remove("dash");
        _owners.SessionEnded("dash");
        Assert.False(_owners.HasOwner("dash"));

        // The owner reconnects; its old connection's session deletion arrives after the new claim.
        Assert.True(_owners.TryClaim("dash", Dashboard, out _));
        _owners.SessionEnded("dash");

        Assert.False(_owners.TryClaim("dash", DeviceOne, out _));
    }

    [Fact]
    public void A_revoked_principal_receives_nothing_until_it_connects_again()
    {
        Connect("dash", Dashboard);
        Connect("d1-client", DeviceOne);
        Assert.True(_owners.MayReceive("dash", "devices/d1/telemetry"));

        var revoked = _owners.Revoke(p => p.Kind == MqttPrincipalKind.Application && p.TokenName == "dashboard");

        Assert.Equal(["dash"], revoked);
        Assert.False(_owners.MayReceive("dash", "devices/d1/telemetry"));
        Assert.Null(_owners.PrincipalOf("dash"));
        Assert.True(_owners.MayReceive("d1-client", "devices/d1/cmd"));

        // Still its session: nobody else takes it; the same principal with valid credentials gets it back.
        Assert.False(_owners.TryClaim("dash", DeviceOne, out _));
        Assert.True(_owners.TryClaim("dash", Dashboard, out _));
        Assert.True(_owners.MayReceive("dash", "devices/d1/telemetry"));
    }

    [Fact]
    public void A_device_receives_only_its_own_topics_whatever_its_session_subscribed_to()
    {
        Connect("d1-client", DeviceOne);

        Assert.True(_owners.MayReceive("d1-client", "devices/d1/cmd/reboot"));
        Assert.False(_owners.MayReceive("d1-client", "devices/d2/telemetry"));
        Assert.False(_owners.MayReceive("unknown", "devices/d1/cmd/reboot"));
    }
}
