using System.IO.Pipelines;
using System.Text;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Tests.Upstreams;

public sealed class SseReaderTests
{
    private static async Task<List<string>> ReadAllAsync(Stream stream)
    {
        await using var reader = new SseReader(stream);
        var events = new List<string>();
        while (await reader.ReadEventAsync(CancellationToken.None) is { } data)
        {
            events.Add(Encoding.UTF8.GetString(data.Span));
        }

        return events;
    }

    [Fact]
    public async Task Reads_data_events_with_any_line_ending_and_skips_comments()
    {
        var text = ": keep-alive\n\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\r\rdata: [DONE]\n\n";
        var events = await ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(["{\"a\":1}", "{\"b\":2}", "[DONE]"], events);
    }

    [Fact]
    public async Task Joins_multi_line_data_and_ignores_other_fields()
    {
        var text = "event: message\nid: 7\ndata: line one\ndata: line two\n\n";
        Assert.Equal(["line one\nline two"], await ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes(text))));
    }

    [Fact]
    public async Task Delivers_an_event_split_across_reads_and_a_last_event_without_a_blank_line()
    {
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader.AsStream());
        foreach (var piece in new[] { "da", "ta: {\"x\"", ":1}\r", "\n\r\n", "data: tail" })
        {
            await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(piece));
        }

        await pipe.Writer.CompleteAsync();
        Assert.Equal(["{\"x\":1}", "tail"], await reading);
    }

    [Fact]
    public async Task An_event_ended_by_CRs_is_delivered_before_the_upstream_sends_more()
    {
        // A CR may be the first half of a CRLF, but the line ends at the CR either way: the event must not wait for
        // the upstream's next byte (which may come much later, or only with the next token).
        var pipe = new Pipe();
        await using var reader = new SseReader(pipe.Reader.AsStream());
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("data: one\r\r"));
        var first = await reader.ReadEventAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("one", Encoding.UTF8.GetString(first!.Value.Span));

        // An LF after that CR (a CRLF split across reads) is not a blank line of its own.
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("\ndata: two\r"));
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("\n\r"));
        var second = await reader.ReadEventAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("two", Encoding.UTF8.GetString(second!.Value.Span));
        await pipe.Writer.CompleteAsync();
        Assert.Null(await reader.ReadEventAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Every_split_of_a_stream_into_two_reads_gives_the_same_events()
    {
        var text = "\uFEFF: c\r\nevent: x\rdata: {\"a\":\r\ndata: 1}\r\n\r\ndata:b\n\ndata\r\rdata: [DONE]\r";
        var bytes = Encoding.UTF8.GetBytes(text);
        for (var split = 0; split <= bytes.Length; split++)
        {
            var pipe = new Pipe();
            var reading = ReadAllAsync(pipe.Reader.AsStream());
            await pipe.Writer.WriteAsync(bytes.AsMemory(0, split));
            await pipe.Writer.FlushAsync();
            await pipe.Writer.WriteAsync(bytes.AsMemory(split));
            await pipe.Writer.CompleteAsync();
            Assert.Equal(["{\"a\":\n1}", "b", "", "[DONE]"], await reading);
        }
    }

    [Fact]
    public async Task A_line_past_the_bound_is_an_error_not_held()
    {
        var pipe = new Pipe();
        await using var reader = new SseReader(pipe.Reader.AsStream(), maxEventBytes: 1024);
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("data: " + new string('a', 4096)));
        await Assert.ThrowsAsync<SseEventTooLargeException>(() => reader.ReadEventAsync(CancellationToken.None).AsTask());
    }
}
