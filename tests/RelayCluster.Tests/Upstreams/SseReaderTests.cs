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
}
