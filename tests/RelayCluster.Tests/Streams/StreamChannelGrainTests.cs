using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using RelayCluster.Core.Streams;
using RelayCluster.Silo.Streams;

namespace RelayCluster.Tests.Streams;

/// <summary>Two silos in this process (Orleans' in-process test cluster), each with its own followers, as two relays have.</summary>
public sealed class StreamGrainCluster : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; } = Build();

    /// <summary>The grain factory of a silo, as its HTTP handlers and hubs use it (grains placed on that silo by preference).</summary>
    public IGrainFactory Grains(int silo) => Cluster.Silos[silo].ServiceProvider.GetRequiredService<IGrainFactory>();

    private static InProcessTestCluster Build()
    {
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 2);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(TimeProvider.System);
            silo.Configure<global::Orleans.Configuration.ClusterMembershipOptions>(o => { o.ProbeTimeout = TimeSpan.FromSeconds(1); o.NumMissedProbesLimit = 2; });
        });
        return builder.Build();
    }

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>The stream contract on the grain: written through one silo, followed through the other.</summary>
public sealed class StreamChannelGrainTests(StreamGrainCluster cluster) : StreamChannelContract, IClassFixture<StreamGrainCluster>
{
    protected override ChannelPair Channel(StreamSettings? settings = null, string? streamId = null)
    {
        var id = streamId ?? Guid.NewGuid().ToString("N");
        settings ??= new StreamSettings();
        var writer = new GrainStreamChannelFactory(cluster.Grains(0), settings, TimeProvider.System).GetChannel(id);
        var reader = new GrainStreamChannelFactory(cluster.Grains(1), settings, TimeProvider.System);
        // The producer opens its stream before its first entry; the grain refuses entries for a stream it never saw opened.
        writer.OpenAsync("tenant-a").AsTask().GetAwaiter().GetResult();
        return new ChannelPair(writer, reader.GetChannel(id), reader.Followers);
    }

    [Fact]
    public async Task A_stream_its_grain_never_saw_opened_is_lost_for_readers_and_writers_and_has_no_owner()
    {
        var (_, reader) = Channel();
        var lost = new GrainStreamChannelFactory(cluster.Grains(1), new StreamSettings(), TimeProvider.System).GetChannel(Guid.NewGuid().ToString("N"));

        Assert.Null(await lost.OwnerAsync());
        var entries = await ToListAsync(lost.FollowAsync(7, CancellationToken.None)).WaitAsync(TimeSpan.FromSeconds(10));
        var end = Assert.Single(entries);
        Assert.Equal((8L, StreamEntryKind.Failed), (end.Sequence, end.Kind));
        Assert.Equal("stream lost", (string?)JsonNode.Parse(end.Data)!["error"]);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await lost.AppendAsync(StreamEntryKind.Token, "t1"));
        Assert.Equal("tenant-a", await reader.OwnerAsync());
    }

    [Fact]
    public async Task Deleting_a_tenant_forgets_its_streams_and_ends_their_followers()
    {
        var id = Guid.NewGuid().ToString("N");
        var factory = new GrainStreamChannelFactory(cluster.Grains(0), new StreamSettings(), TimeProvider.System);
        var channel = factory.GetChannel(id);
        var tenant = "purged-" + id;
        await channel.OpenAsync(tenant);
        await channel.AppendAsync(StreamEntryKind.Token, "t1");
        var follower = new GrainStreamChannelFactory(cluster.Grains(1), new StreamSettings(), TimeProvider.System).GetChannel(id);
        await using var following = follower.FollowAsync(0, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await following.MoveNextAsync());

        await factory.PurgeAsync(tenant);

        Assert.Null(await follower.OwnerAsync());
        Assert.True(await following.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((2L, StreamEntryKind.Failed), (following.Current.Sequence, following.Current.Kind));
        Assert.False(await following.MoveNextAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await channel.AppendAsync(StreamEntryKind.Token, "late"));
    }

    [Fact]
    public void An_entry_keeps_every_field_through_the_orleans_serializer()
    {
        var serializer = cluster.Cluster.Silos[0].ServiceProvider.GetRequiredService<global::Orleans.Serialization.Serializer>();
        var entry = StreamGrainEntry.From(new StreamEntry(41, StreamEntryKind.Progress, "{\"completed\":3}"));

        var copy = serializer.Deserialize<StreamGrainEntry>(serializer.SerializeToArray(entry));

        Assert.Equal(entry, copy);
        Assert.Equal(new StreamEntry(41, StreamEntryKind.Progress, "{\"completed\":3}"), copy.ToEntry());
    }

    private static async Task<List<StreamEntry>> ToListAsync(IAsyncEnumerable<StreamEntry> entries)
    {
        var list = new List<StreamEntry>();
        await foreach (var entry in entries)
        {
            list.Add(entry);
        }

        return list;
    }
}

/// <summary>The silo holding a stream's grain dies mid-stream (a cluster of its own: this test kills a silo).</summary>
public sealed class StreamChannelGrainLossTests : IAsyncLifetime
{
    private readonly StreamGrainCluster _cluster = new();

    public Task InitializeAsync() => _cluster.InitializeAsync();

    public Task DisposeAsync() => _cluster.DisposeAsync();

    [Fact]
    public async Task Followers_on_another_silo_end_with_a_terminal_failed_when_the_streams_silo_dies()
    {
        var id = Guid.NewGuid().ToString("N");
        // Opened through silo 1, so its grain lives there (preferring the producer's silo); followed through silo 0.
        var writer = new GrainStreamChannelFactory(_cluster.Grains(1), new StreamSettings(), TimeProvider.System).GetChannel(id);
        await writer.OpenAsync("tenant-a");
        await writer.AppendAsync(StreamEntryKind.Token, "t1");
        await writer.AppendAsync(StreamEntryKind.Token, "t2");
        var reader = new GrainStreamChannelFactory(_cluster.Grains(0), new StreamSettings(), TimeProvider.System).GetChannel(id);
        await using var following = reader.FollowAsync(0, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await following.MoveNextAsync());
        Assert.True(await following.MoveNextAsync());
        Assert.Equal(2, following.Current.Sequence);

        var killed = System.Diagnostics.Stopwatch.StartNew();
        await _cluster.Cluster.KillSiloAsync(_cluster.Cluster.Silos[1]);

        // Never a silent hang, and never entries numbered again from 1: the next thing the follower sees ends it.
        Assert.True(await following.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal((3L, StreamEntryKind.Failed), (following.Current.Sequence, following.Current.Kind));
        Assert.Equal("stream lost", (string?)JsonNode.Parse(following.Current.Data)!["error"]);
        Assert.False(await following.MoveNextAsync());
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(30), $"the follower ended {killed.Elapsed} after the kill");
        Assert.Null(await reader.OwnerAsync());
    }
}
