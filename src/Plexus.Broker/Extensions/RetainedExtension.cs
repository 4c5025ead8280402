using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Broker.Retained;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Retained messages kept in the broker's own journal (<see cref="RetainedMessageStore"/>) with their limits; MQTTnet's
/// retained store is memory only here and is loaded from the journal at start.
/// </summary>
internal sealed class RetainedExtension(RetainedMessageStore store, MqttSessionOwnership owners, ConnectedClients clients, MqttServer server, ILogger logger)
    : IInterceptingPublishHook, IRetainedMessagesHook
{
    private List<MQTTnet.MqttApplicationMessage>? _loaded;

    /// <summary>
    /// Reads the journal before the server starts, not in MQTTnet's loading event: MQTTnet logs a failing loader and
    /// starts empty, and the next retained publish would then overwrite the damaged journal. A damaged journal stops
    /// the start instead.
    /// </summary>
    public void Load() => _loaded = store.Load();

    /// <summary>
    /// Retained messages whose truth is elsewhere (the devices' desired properties, in the database), retained from the
    /// start after the journal's and never written to it: their owner publishes every change again.
    /// </summary>
    public void AddLoaded(IEnumerable<MQTTnet.MqttApplicationMessage> messages) => (_loaded ??= []).AddRange(messages);

    public Task LoadingRetainedMessagesAsync(LoadingRetainedMessagesEventArgs e)
    {
        var messages = _loaded ?? [];
        _loaded = null;
        e.LoadedRetainedMessages = messages;
        BrokerLog.RetainedLoaded(logger, messages.Count, store.Path);
        return Task.CompletedTask;
    }

    public Task RetainedMessagesClearedAsync(EventArgs e)
    {
        try
        {
            store.Clear();
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            BrokerLog.RetainedSaveFailed(logger, error, store.Path);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Checks and saves a retained publish the ACL allowed, before MQTTnet retains and forwards it. A refused or
    /// unsaved one is neither retained nor forwarded, and the publisher is told: MQTT 5 QoS 1/2 by the PUBACK/PUBREC
    /// reason (0x97 Quota exceeded, 0x80 Unspecified error); MQTT 3.1.1, which has no failure acknowledgement, and
    /// QoS 0 by closing the connection (MQTT 5: DISCONNECT with that reason).
    /// </summary>
    public Task InterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (!e.ProcessPublish || !message.Retain || e.SessionItems?[DeviceTwinExtension.TwinKey] is true)
        {
            return Task.CompletedTask;
        }

        var principal = TopicAclExtension.PublisherOf(owners, e);
        RetainedChange change = store.Apply(message, principal is null ? "" : MqttSessionOwnership.IdentityOf(principal));
        if (change.Status == RetainedChangeStatus.Saved)
        {
            return Task.CompletedTask;
        }

        bool overLimit = change.Status == RetainedChangeStatus.OverLimit;
        if (overLimit)
        {
            RetainedLog.Refused(logger, e.ClientId, message.Topic, change.Reason!);
        }
        else
        {
            RetainedLog.SaveFailed(logger, change.Error!, store.Path, e.ClientId, message.Topic);
        }

        e.ProcessPublish = false;
        bool v5 = clients.TryGet(e.ClientId, out var client) && client.V5;
        if (v5 && message.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce)
        {
            e.Response.ReasonCode = overLimit ? MqttPubAckReasonCode.QuotaExceeded : MqttPubAckReasonCode.UnspecifiedError;
            e.Response.ReasonString = ConnectionEvents.Truncate(change.Reason);
        }
        else if (v5)
        {
            _ = DisconnectLaterAsync(e.ClientId, overLimit ? MqttDisconnectReasonCode.QuotaExceeded : MqttDisconnectReasonCode.UnspecifiedError);
        }
        else
        {
            e.CloseConnection = true;
        }

        return Task.CompletedTask;
    }

    /// <summary>Not awaited from a packet handler: the disconnect waits for the client's receive loop, which waits for the handler.</summary>
    private async Task DisconnectLaterAsync(string clientId, MqttDisconnectReasonCode reason)
    {
        try
        {
            await server.DisconnectClientAsync(clientId, reason);
        }
        catch (Exception error)
        {
            ProtocolLog.DisconnectFailed(logger, clientId, error.Message);
        }
    }
}
