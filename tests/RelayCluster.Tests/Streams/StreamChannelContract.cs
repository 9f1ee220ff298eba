using RelayCluster.Core.Streams;
using RelayCluster.Redis;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Streams;

/// <summary>Two handles on one new channel, as the writing silo and a subscriber's silo have, and the reader's followers.</summary>
public sealed record ChannelPair(IStreamChannel Writer, IStreamChannel Reader, StreamFollowers Followers)
{
    public void Deconstruct(out IStreamChannel writer, out IStreamChannel reader) => (writer, reader) = (Writer, Reader);
}

/// <summary>What every stream channel must do, on the memory store and on Redis.</summary>
public abstract partial class StreamChannelContract
{
    /// <summary>A new channel (a random id unless given), on a store with these settings (defaults unless given).</summary>
    protected abstract ChannelPair Channel(StreamSettings? settings = null, string? streamId = null);

    private static async Task<List<StreamEntry>> CollectAsync(IAsyncEnumerable<StreamEntry> entries)
    {
        var collected = new List<StreamEntry>();
        await foreach (var entry in entries)
        {
            collected.Add(entry);
        }

        return collected;
    }

    [Fact]
    public async Task Entries_are_numbered_from_one_and_read_back_in_order_from_any_point()
    {
        var (writer, reader) = Channel();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i + 1, await writer.AppendAsync(StreamEntryKind.Token, $"t{i}"));
        }

        Assert.Equal(["t0", "t1", "t2", "t3", "t4"], (await reader.ReadAsync(0, 100)).Select(e => e.Data));
        Assert.Equal([4L, 5L], (await reader.ReadAsync(3, 100)).Select(e => e.Sequence));
        Assert.Equal([1L, 2L], (await reader.ReadAsync(0, 2)).Select(e => e.Sequence));
        Assert.Empty(await reader.ReadAsync(5, 100));
    }

    [Fact]
    public async Task A_late_follower_replays_then_continues_live_and_stops_at_the_end()
    {
        var (writer, reader) = Channel();
        await writer.AppendAsync(StreamEntryKind.Token, "before");
        var following = CollectAsync(reader.FollowAsync(0, CancellationToken.None));

        await writer.AppendAsync(StreamEntryKind.Token, "live");
        await writer.AppendAsync(StreamEntryKind.Completed, """{"finish_reason":"stop"}""");

        var entries = await following.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["before", "live", """{"finish_reason":"stop"}"""], entries.Select(e => e.Data));
        Assert.Equal([1L, 2L, 3L], entries.Select(e => e.Sequence));
        Assert.True(entries[^1].IsTerminal);
    }

    [Fact]
    public async Task A_resuming_follower_gets_everything_after_its_sequence_with_no_gap_or_duplicate()
    {
        var (writer, reader) = Channel();
        for (var i = 1; i <= 3; i++)
        {
            await writer.AppendAsync(StreamEntryKind.Token, $"t{i}");
        }

        var resumed = CollectAsync(reader.FollowAsync(2, CancellationToken.None));
        await writer.AppendAsync(StreamEntryKind.Token, "t4");
        await writer.AppendAsync(StreamEntryKind.Failed, "upstream failed");

        Assert.Equal([3L, 4L, 5L], (await resumed.WaitAsync(TimeSpan.FromSeconds(10))).Select(e => e.Sequence));
    }

    [Fact]
    public async Task Concurrent_writers_and_many_followers_see_one_gap_free_order()
    {
        var (writer, reader) = Channel();
        var followers = Enumerable.Range(0, 5).Select(_ => CollectAsync(reader.FollowAsync(0, CancellationToken.None))).ToList();
        var sequences = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(async () => await writer.AppendAsync(StreamEntryKind.Token, $"t{i}"))));
        await writer.AppendAsync(StreamEntryKind.Completed, "done");

        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), sequences.Order());
        var seen = await Task.WhenAll(followers).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(seen, entries => Assert.Equal(Enumerable.Range(1, 101).Select(i => (long)i), entries.Select(e => e.Sequence)));
        Assert.All(seen, entries => Assert.Equal(seen[0].Select(e => e.Data), entries.Select(e => e.Data)));
    }

    [Fact]
    public async Task Nothing_follows_a_terminal_entry()
    {
        var (writer, _) = Channel();
        await writer.AppendAsync(StreamEntryKind.Completed, "done");
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await writer.AppendAsync(StreamEntryKind.Token, "late"));
    }

    [Fact]
    public async Task Following_an_open_stream_stops_when_cancelled()
    {
        var (writer, reader) = Channel();
        await writer.AppendAsync(StreamEntryKind.Token, "only");
        using var cancel = new CancellationTokenSource();
        var following = CollectAsync(reader.FollowAsync(0, cancel.Token));
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => following.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
