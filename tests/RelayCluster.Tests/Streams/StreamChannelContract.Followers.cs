using System.Text.Json.Nodes;
using System.Threading.Channels;
using RelayCluster.Core.Streams;

namespace RelayCluster.Tests.Streams;

/// <summary>The contract's shared-reader side: progress entries, trimmed history, followers that fall behind.</summary>
public abstract partial class StreamChannelContract
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Progress_entries_on_a_batch_stream_are_not_terminal_and_keep_their_kind()
    {
        var (writer, reader) = Channel(streamId: "batch:" + Guid.NewGuid().ToString("N"));
        var following = CollectAsync(reader.FollowAsync(0, CancellationToken.None));
        await writer.AppendAsync(StreamEntryKind.Progress, """{"completed":1,"total":3}""");
        await writer.AppendAsync(StreamEntryKind.Progress, """{"completed":3,"total":3}""");
        await writer.AppendAsync(StreamEntryKind.Completed, """{"status":"completed"}""");

        var entries = await following.WaitAsync(Timeout);
        Assert.Equal([StreamEntryKind.Progress, StreamEntryKind.Progress, StreamEntryKind.Completed], entries.Select(e => e.Kind));
        Assert.False(entries[0].IsTerminal);
        Assert.Equal(3, (int)JsonNode.Parse(entries[1].Data)!["completed"]!);
        Assert.Equal(StreamEntryKind.Progress, (await reader.ReadAsync(0, 1))[0].Kind);
        Assert.Equal("progress", StreamEntryKinds.Name(StreamEntryKind.Progress));
    }

    [Fact]
    public async Task Notices_cannot_be_appended()
    {
        var (writer, _) = Channel();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await writer.AppendAsync(StreamEntryKind.Gap, "{}"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await writer.AppendAsync(StreamEntryKind.Lagged, "{}"));
    }

    [Fact]
    public async Task A_follower_from_before_the_oldest_retained_entry_is_told_of_the_gap_then_continues()
    {
        var (writer, reader) = Channel(new StreamSettings { MaxEntries = 5 });
        // Redis trims whole stream nodes (MAXLEN ~, 100 entries a node), so write enough for it to drop some.
        for (var i = 1; i <= 350; i++)
        {
            await writer.AppendAsync(StreamEntryKind.Token, $"t{i}");
        }

        await writer.AppendAsync(StreamEntryKind.Completed, "done");
        var entries = await CollectAsync(reader.FollowAsync(0, CancellationToken.None)).WaitAsync(Timeout);

        var gap = entries[0];
        Assert.Equal(StreamEntryKind.Gap, gap.Kind);
        Assert.True(gap.Sequence > 1);
        Assert.Equal(1, (long)JsonNode.Parse(gap.Data)!["requested_sequence"]!);
        Assert.Equal(gap.Sequence, (long)JsonNode.Parse(gap.Data)!["first_sequence"]!);
        Assert.Equal(Enumerable.Range((int)gap.Sequence, 351 - (int)gap.Sequence + 1).Select(i => (long)i), entries.Skip(1).Select(e => e.Sequence));
        Assert.Equal(StreamEntryKind.Completed, entries[^1].Kind);

        // Asking from a retained entry needs no notice.
        var tail = await CollectAsync(reader.FollowAsync(349, CancellationToken.None)).WaitAsync(Timeout);
        Assert.Equal([350L, 351L], tail.Select(e => e.Sequence));
    }

    [Fact]
    public async Task A_follower_that_stops_reading_is_dropped_with_lagged_while_others_keep_up_and_it_can_resume()
    {
        var (writer, reader) = Channel(new StreamSettings { SubscriberBuffer = 4 });
        await writer.AppendAsync(StreamEntryKind.Token, "t1");

        var fast = Seen();
        var fastDone = PumpAsync(reader.FollowAsync(0, CancellationToken.None), fast.Writer);
        await using var slow = reader.FollowAsync(0, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await slow.MoveNextAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(1, slow.Current.Sequence);
        Assert.Equal(1, (await fast.Reader.ReadAsync().AsTask().WaitAsync(Timeout)).Sequence);

        // One entry at a time, each seen by the fast follower before the next: only the slow one falls behind.
        for (var i = 2; i <= 12; i++)
        {
            await writer.AppendAsync(StreamEntryKind.Token, $"t{i}");
            Assert.Equal(i, (await fast.Reader.ReadAsync().AsTask().WaitAsync(Timeout)).Sequence);
        }

        await writer.AppendAsync(StreamEntryKind.Completed, "done");
        Assert.Equal(StreamEntryKind.Completed, (await fast.Reader.ReadAsync().AsTask().WaitAsync(Timeout)).Kind);
        await fastDone.WaitAsync(Timeout);

        // The slow one still gets what it had buffered (2..5), then the notice naming the last of them.
        var rest = new List<StreamEntry>();
        while (await slow.MoveNextAsync().AsTask().WaitAsync(Timeout))
        {
            rest.Add(slow.Current);
        }

        Assert.Equal([2L, 3L, 4L, 5L, 5L], rest.Select(e => e.Sequence));
        Assert.Equal(StreamEntryKind.Lagged, rest[^1].Kind);
        Assert.Equal(5, (long)JsonNode.Parse(rest[^1].Data)!["last_sequence"]!);

        var resumed = await CollectAsync(reader.FollowAsync(rest[^1].Sequence, CancellationToken.None)).WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(6, 8).Select(i => (long)i), resumed.Select(e => e.Sequence));
    }

    [Fact]
    public async Task Followers_of_one_stream_share_one_reader_that_stops_with_the_last_of_them()
    {
        var (writer, reader, followers) = Channel();
        await writer.AppendAsync(StreamEntryKind.Token, "t1");
        using var cancel = new CancellationTokenSource();
        var seen = Enumerable.Range(0, 5).Select(_ => Seen()).ToList();
        var pumps = seen.Select(s => PumpAsync(reader.FollowAsync(0, cancel.Token), s.Writer)).ToList();
        foreach (var s in seen)
        {
            await s.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        }

        Assert.Equal(1, followers.ActiveReaders);

        // A late joiner replays from the store, then shares the live feed with no gap or duplicate.
        await writer.AppendAsync(StreamEntryKind.Token, "t2");
        var late = CollectAsync(reader.FollowAsync(0, CancellationToken.None));
        await writer.AppendAsync(StreamEntryKind.Completed, "done");
        Assert.Equal([1L, 2L, 3L], (await late.WaitAsync(Timeout)).Select(e => e.Sequence));
        await Task.WhenAll(pumps).WaitAsync(Timeout);
        Assert.Equal(0, followers.ActiveReaders);

        // An open stream's reader stops when its last follower is cancelled.
        var (openWriter, openReader, openFollowers) = Channel();
        await openWriter.AppendAsync(StreamEntryKind.Token, "t1");
        var one = Seen();
        var following = PumpAsync(openReader.FollowAsync(0, cancel.Token), one.Writer);
        await one.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(1, openFollowers.ActiveReaders);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => following.WaitAsync(Timeout));
        Assert.Equal(0, openFollowers.ActiveReaders);
    }

    private static Channel<StreamEntry> Seen() => System.Threading.Channels.Channel.CreateUnbounded<StreamEntry>();

    private static async Task PumpAsync(IAsyncEnumerable<StreamEntry> entries, ChannelWriter<StreamEntry> seen)
    {
        await foreach (var entry in entries)
        {
            await seen.WriteAsync(entry);
        }
    }
}
