using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.SignalR;
using RelayCluster.Core.Streams;

namespace RelayCluster.Silo.Streams;

/// <summary>
/// One stream entry as subscribers receive it. <c>Type</c> is token, progress, completed or failed (the last two
/// end the stream), or a notice: <c>gap</c> (entries before <c>Sequence</c> were trimmed and cannot be replayed;
/// the stream continues) or <c>lagged</c> (this subscriber fell too far behind; <c>Sequence</c> is the last entry
/// it got and the subscription ends: subscribe again from <c>Sequence + 1</c>).
/// </summary>
public sealed record StreamMessage(long Sequence, string Type, string Data);

/// <summary>
/// <c>/hubs/streams</c>: browsers subscribe with a subscribe token (SignalR's <c>accessTokenFactory</c>), never a
/// tenant key. <c>Subscribe(streamId, fromSequence)</c> streams every entry from that sequence on: the stored
/// ones, then live ones, up to the terminal entry, whichever silo runs the completion (or batch: any stream id,
/// such as <c>batch:{id}</c>, works the same). A silo's subscriptions to one stream share one reader of the store,
/// each with a bounded buffer, so a slow browser slows nobody else: it is dropped with a <c>lagged</c> message.
/// </summary>
internal sealed class StreamsHub(StreamTokens tokens, IStreamChannelFactory channels, Telemetry.RelayMetrics metrics) : Hub
{
    public override Task OnConnectedAsync()
    {
        // StreamsHubGate refused tokenless connections with a 401 already; this catches any other way in (a connect
        // request with a different token than its negotiate's) without throwing, which SignalR would log as an error.
        if (tokens.Validate(ConnectionToken()) is null)
        {
            Context.Abort();
            return Task.CompletedTask;
        }

        return base.OnConnectedAsync();
    }

    /// <summary>Subscribes with the connection's token.</summary>
    public IAsyncEnumerable<StreamMessage> Subscribe(string streamId, long fromSequence, CancellationToken cancellationToken) =>
        Follow(streamId, fromSequence, ConnectionToken(), cancellationToken);

    /// <summary>Subscribes with a token of its own, so one connection can watch several streams.</summary>
    public IAsyncEnumerable<StreamMessage> SubscribeWithToken(string streamId, long fromSequence, string token, CancellationToken cancellationToken) =>
        Follow(streamId, fromSequence, token, cancellationToken);

    /// <summary>
    /// As <see cref="Subscribe"/>, but each item is an array of consecutive messages: whatever was already waiting
    /// when the previous array was sent (one message when the subscriber keeps up). A subscriber that falls
    /// behind catches up with fewer, larger frames instead of paying the per-message cost on every token, which
    /// is what limits a silo serving a thousand subscribers.
    /// </summary>
    public IAsyncEnumerable<StreamMessage[]> SubscribeBatched(string streamId, long fromSequence, CancellationToken cancellationToken) =>
        Batched(Follow(streamId, fromSequence, ConnectionToken(), cancellationToken), cancellationToken);

    private static async IAsyncEnumerable<StreamMessage[]> Batched(
        IAsyncEnumerable<StreamMessage> messages, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        const int MaxBatch = 256;
        var batch = new List<StreamMessage>();
        await using var reader = messages.GetAsyncEnumerator(cancellationToken);
        var next = reader.MoveNextAsync();
        while (true)
        {
            // A step that has not completed yet means nothing more is waiting: send what has gathered.
            if (batch.Count > 0 && (!next.IsCompleted || batch.Count >= MaxBatch))
            {
                yield return [.. batch];
                batch.Clear();
            }

            if (!await next)
            {
                break;
            }

            batch.Add(reader.Current);
            next = reader.MoveNextAsync();
        }

        if (batch.Count > 0)
        {
            yield return [.. batch];
        }
    }

    private async IAsyncEnumerable<StreamMessage> Follow(
        string streamId, long fromSequence, string? token, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var grant = tokens.Validate(token);
        if (grant is null || grant.StreamId != streamId)
        {
            throw new HubException("This token does not grant that stream.");
        }

        var channel = channels.GetChannel(streamId);
        if (await channel.OwnerAsync() != grant.TenantId)
        {
            throw new HubException("No such stream.");
        }

        metrics.Subscribers(grant.TenantId, +1);
        try
        {
            await foreach (var entry in channel.FollowAsync(Math.Max(0, fromSequence - 1), cancellationToken))
            {
                metrics.MessageSent(grant.TenantId);
                yield return new StreamMessage(entry.Sequence, StreamEntryKinds.Name(entry.Kind), entry.Data);
            }
        }
        finally
        {
            metrics.Subscribers(grant.TenantId, -1); // also when the subscriber leaves or lags out: the enumerator is disposed
        }
    }

    private string? ConnectionToken() => Context.GetHttpContext() is { } http ? StreamsHubGate.TokenOf(http.Request) : null;
}
