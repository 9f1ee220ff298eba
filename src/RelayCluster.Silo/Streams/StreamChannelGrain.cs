using Orleans.Concurrency;
using Orleans.Placement;
using RelayCluster.Core.Streams;

namespace RelayCluster.Silo.Streams;

/// <summary>One stored entry on the wire between a stream's grain and a silo's shared reader.</summary>
[GenerateSerializer]
[Alias("relay.stream-entry")]
public readonly record struct StreamGrainEntry([property: Id(0)] long Sequence, [property: Id(1)] int Kind, [property: Id(2)] string Data)
{
    public static StreamGrainEntry From(StreamEntry entry) => new(entry.Sequence, (int)entry.Kind, entry.Data);

    public StreamEntry ToEntry() => new(Sequence, (StreamEntryKind)Kind, Data);
}

/// <summary>
/// The entries of one live completion (or one batch's progress), keyed by stream id. The grain numbers every append,
/// so sequences are gap-free and unique wherever the writers are. Kinds cross the boundary as the numbers of
/// <see cref="StreamEntryKind"/>, which only ever gains values at the end.
/// </summary>
[Alias("relay.stream-channel")]
public interface IStreamChannelGrain : IGrainWithStringKey
{
    /// <summary>Starts the stream for its owner, keeping at most <paramref name="maxEntries"/> entries (the writer's setting).</summary>
    [Alias("open")]
    Task OpenAsync(string tenantId, int maxEntries);

    /// <summary>The owning tenant, or null: never opened here, expired, deleted, or lost with the silo that held it.</summary>
    [Alias("owner")]
    Task<string?> OwnerAsync();

    /// <summary>Appends and returns the entry's sequence; throws <see cref="InvalidOperationException"/> once the stream ended or was lost.</summary>
    [Alias("append")]
    Task<long> AppendAsync(int kind, string data);

    /// <summary>Up to <paramref name="max"/> entries after <paramref name="afterSequence"/>; a lost stream answers one terminal Failed entry.</summary>
    [Alias("read")]
    Task<StreamGrainEntry[]> ReadAsync(long afterSequence, int max);

    /// <summary>The last sequence appended (0 if none).</summary>
    [Alias("last")]
    Task<long> LastSequenceAsync();

    /// <summary>Returns the last sequence as soon as it passes <paramref name="afterSequence"/>, or the stream ends, or after a while anyway.</summary>
    [Alias("wait")]
    Task<long> WaitForAppendAsync(long afterSequence);

    /// <summary>Forgets the stream (its tenant was deleted): no owner, and followers end with a Failed entry.</summary>
    [Alias("forget")]
    Task ForgetAsync();
}

/// <summary>
/// A stream channel as an Orleans grain, placed on the silo of its first caller (the producer's, which opens it), its
/// entries in memory: the oldest trimmed beyond the cap, kept ten minutes after the terminal entry for late and
/// reconnecting subscribers, and an hour after the last append when the producer never ends it. Nothing is persisted:
/// an activation that was never opened (the silo holding the stream died, or it expired) cannot know what was there,
/// so it answers every reader with a terminal Failed "stream lost" after the reader's own position and refuses
/// appends, rather than start numbering again from 1. Reentrant: every turn updates the state without awaiting, and a
/// waiting follower (<see cref="WaitForAppendAsync"/>) must not hold up the producer.
/// </summary>
[PreferLocalPlacement]
[Reentrant]
internal sealed class StreamChannelGrain(TimeProvider time) : Grain, IStreamChannelGrain
{
    /// <summary>How long an ended stream stays readable.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(10);

    /// <summary>How long a stream nobody appends to (its producer vanished) stays readable.</summary>
    public static readonly TimeSpan Abandoned = TimeSpan.FromHours(1);

    /// <summary>Where a lost stream says it stands: past any real sequence, so a new shared reader reads the loss at once.</summary>
    public const long LostHead = long.MaxValue / 4;

    /// <summary>A waiting follower is answered at the latest after this, well inside Orleans' response timeout.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(15);

    private readonly List<StreamGrainEntry> _entries = [];
    private TaskCompletionSource _appended = NewSignal();
    private long _trimmed; // entries dropped from the front: _entries[i] has sequence _trimmed + i + 1
    private int _maxEntries;
    private string? _owner;
    private string? _lost; // why this activation cannot serve the stream, once it knows
    private DateTimeOffset _expires;
    private IGrainTimer? _expiry;

    private bool Opened => _owner is not null;

    private bool Ended => _entries.Count > 0 && _entries[^1].Kind is (int)StreamEntryKind.Completed or (int)StreamEntryKind.Failed;

    private long Last => _trimmed + _entries.Count;

    public async Task OpenAsync(string tenantId, int maxEntries)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        if (_lost is not null)
        {
            throw new InvalidOperationException($"Stream {this.GetPrimaryKeyString()} cannot be opened: {_lost}.");
        }

        if (Opened)
        {
            return;
        }

        (_owner, _maxEntries) = (tenantId, maxEntries);
        KeepFor(Abandoned);
        _expiry = this.RegisterGrainTimer(ExpireAsync, new GrainTimerCreationOptions(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)) { KeepAlive = true });
        // Indexed under its tenant so a tenant's deletion finds it (best effort: the index is in memory too).
        await GrainFactory.GetGrain<ITenantStreamsGrain>(tenantId).AddAsync(this.GetPrimaryKeyString());
    }

    /// <summary>
    /// Asking does not change anything: an unknown id's activation is left to idle collection rather than deactivated
    /// here, where an Open interleaving with this call would go down with it.
    /// </summary>
    public Task<string?> OwnerAsync() => Task.FromResult(_lost is null ? _owner : null);

    public Task<long> AppendAsync(int kind, string data)
    {
        StreamEntryKinds.EnsureAppendable((StreamEntryKind)kind);
        if (!Opened)
        {
            Lose("stream lost");
        }

        if (_lost is not null)
        {
            throw new InvalidOperationException($"Stream {this.GetPrimaryKeyString()} has ended: {_lost}.");
        }

        if (Ended)
        {
            throw new InvalidOperationException("The stream has ended; nothing can follow its terminal entry.");
        }

        var sequence = Last + 1;
        _entries.Add(new StreamGrainEntry(sequence, kind, data));
        // Trimmed in runs of an eighth of the cap, so a long stream does not shift its list on every append.
        if (_entries.Count >= _maxEntries + Math.Max(1, _maxEntries / 8))
        {
            var excess = _entries.Count - _maxEntries;
            _entries.RemoveRange(0, excess);
            _trimmed += excess;
        }

        KeepFor(Ended ? Retention : Abandoned);
        Wake();
        return Task.FromResult(sequence);
    }

    public Task<StreamGrainEntry[]> ReadAsync(long afterSequence, int max)
    {
        if (!Opened && _lost is null)
        {
            Lose("stream lost");
        }

        if (_lost is not null)
        {
            return Task.FromResult<StreamGrainEntry[]>([new StreamGrainEntry(afterSequence + 1, (int)StreamEntryKind.Failed, LostData(_lost))]);
        }

        var start = (int)Math.Clamp(afterSequence - _trimmed, 0, _entries.Count);
        return Task.FromResult(_entries.GetRange(start, Math.Min(Math.Max(max, 0), _entries.Count - start)).ToArray());
    }

    public Task<long> LastSequenceAsync()
    {
        if (!Opened && _lost is null)
        {
            Lose("stream lost");
        }

        return Task.FromResult(_lost is null ? Last : LostHead);
    }

    public async Task<long> WaitForAppendAsync(long afterSequence)
    {
        if (Opened && _lost is null && !Ended && Last <= afterSequence)
        {
            try
            {
                await _appended.Task.WaitAsync(LongestWait, time);
            }
            catch (TimeoutException)
            {
                // Nothing new: the caller reads anyway and asks again.
            }
        }

        return _lost is null ? Last : LostHead;
    }

    public Task ForgetAsync()
    {
        Lose("stream deleted");
        return Task.CompletedTask;
    }

    private void Lose(string reason)
    {
        _lost ??= reason;
        _owner = null;
        _entries.Clear();
        _expiry?.Dispose();
        _expiry = null;
        Wake();
        DeactivateOnIdle(); // a later activation knows no more, and says the same
    }

    private void KeepFor(TimeSpan span) => _expires = time.GetUtcNow() + span;

    private async Task ExpireAsync(CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() < _expires)
        {
            return;
        }

        var owner = _owner;
        Lose("stream expired");
        if (owner is not null)
        {
            await GrainFactory.GetGrain<ITenantStreamsGrain>(owner).RemoveAsync(this.GetPrimaryKeyString());
        }
    }

    private void Wake()
    {
        var wake = _appended;
        _appended = NewSignal();
        wake.TrySetResult();
    }

    private static string LostData(string reason) =>
        System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["error"] = reason });

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>The open streams of one tenant, so deleting the tenant can forget them.</summary>
[Alias("relay.tenant-streams")]
public interface ITenantStreamsGrain : IGrainWithStringKey
{
    [Alias("add")]
    Task AddAsync(string streamId);

    [Alias("remove")]
    Task RemoveAsync(string streamId);

    /// <summary>Forgets every indexed stream of the tenant, and the index itself.</summary>
    [Alias("purge")]
    Task PurgeAsync();
}

/// <summary>
/// A tenant's stream ids, in memory: a stream adds itself when opened and removes itself when it expires. If the silo
/// holding the index dies, a later deletion misses the streams opened before; they still end with their retention
/// (an hour at most), and their subscribers need a token the deleted tenant's keys can no longer get.
/// </summary>
[Reentrant]
internal sealed class TenantStreamsGrain : Grain, ITenantStreamsGrain
{
    private readonly HashSet<string> _streams = new(StringComparer.Ordinal);

    public Task AddAsync(string streamId)
    {
        _streams.Add(streamId);
        DelayDeactivation(StreamChannelGrain.Abandoned + StreamChannelGrain.Retention); // as long as a stream added now can live
        return Task.CompletedTask;
    }

    public Task RemoveAsync(string streamId)
    {
        _streams.Remove(streamId);
        if (_streams.Count == 0)
        {
            DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    public async Task PurgeAsync()
    {
        var streams = _streams.ToList();
        _streams.Clear();
        await Task.WhenAll(streams.Select(id => GrainFactory.GetGrain<IStreamChannelGrain>(id).ForgetAsync()));
        DeactivateOnIdle();
    }
}
