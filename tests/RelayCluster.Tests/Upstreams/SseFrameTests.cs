using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using RelayCluster.Upstreams.Sse;

namespace RelayCluster.Tests.Upstreams;

/// <summary>What the relay writes as SSE reads back as the same data, for any payload; the reader drops a BOM.</summary>
public sealed class SseFrameTests
{
    private static async Task<List<string>> ReadAllAsync(byte[] bytes)
    {
        await using var reader = new SseReader(new MemoryStream(bytes));
        var events = new List<string>();
        while (await reader.ReadEventAsync(CancellationToken.None) is { } data)
        {
            events.Add(Encoding.UTF8.GetString(data.Span));
        }

        return events;
    }

    [Theory]
    [InlineData("{\"a\":1}", "data: {\"a\":1}\n\n")]
    [InlineData("{\n\"a\": 1\n}", "data: {\ndata: \"a\": 1\ndata: }\n\n")]
    [InlineData("a\r\nb\rc\n", "data: a\ndata: b\ndata: c\ndata: \n\n")]
    [InlineData("", "data: \n\n")]
    public async Task A_payload_with_line_breaks_goes_out_as_one_data_line_per_line_and_reads_back_the_same(string payload, string expected)
    {
        var frame = SseFrame.Data(Encoding.UTF8.GetBytes(payload));
        Assert.Equal(expected, Encoding.UTF8.GetString(frame));
        var normalized = payload.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        Assert.Equal([normalized], await ReadAllAsync(frame));
    }

    [Fact]
    public void Json_spread_over_lines_is_put_on_one_line_with_the_same_value()
    {
        var json = "{\n  \"choices\": [\r\n    {\"delta\": {\"content\": \"a\\nb\"}}\n  ]\n}";
        var oneLine = Encoding.UTF8.GetString(SseFrame.OneLine(Encoding.UTF8.GetBytes(json)).Span);
        Assert.DoesNotContain('\n', oneLine);
        Assert.DoesNotContain('\r', oneLine);
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(json), System.Text.Json.Nodes.JsonNode.Parse(oneLine)));

        var already = Encoding.UTF8.GetBytes("{\"a\":1}").AsMemory();
        Assert.True(SseFrame.OneLine(already).Equals(already)); // no copy when there is nothing to do
    }

    [Fact]
    public async Task A_leading_byte_order_mark_is_dropped_even_when_it_arrives_byte_by_byte()
    {
        Assert.Equal(["{\"a\":1}"], await ReadAllAsync([0xEF, 0xBB, 0xBF, .. "data: {\"a\":1}\n\n"u8]));

        var pipe = new Pipe();
        var reading = Task.Run(async () =>
        {
            await using var reader = new SseReader(pipe.Reader.AsStream());
            return await reader.ReadEventAsync(CancellationToken.None) is { } data ? Encoding.UTF8.GetString(data.Span) : null;
        });
        foreach (var b in (byte[])[0xEF, 0xBB, 0xBF, .. "data: x\n\n"u8])
        {
            await pipe.Writer.WriteAsync(new[] { b });
        }

        await pipe.Writer.CompleteAsync();
        Assert.Equal("x", await reading);
    }

    [Fact]
    public async Task A_field_name_alone_is_an_empty_field_and_an_empty_data_event_is_dispatched()
    {
        // WHATWG: "data" with no colon is the field data with the empty string as value; "data:" likewise.
        Assert.Equal(["", "\nx", "y"], await ReadAllAsync("data\n\ndata:\ndata:x\n\nretry: 10\nid: 1\nevent: e\ndata: y"u8.ToArray()));
    }

    [Fact]
    public async Task A_peeked_first_event_is_replayed_whole_to_the_next_reader()
    {
        var bytes = "\uFEFF: hi\n\ndata:\n\ndata: {\"a\":\ndata: 1}\n\ndata: [DONE]\n\n"u8.ToArray();
        var (first, overflowed, body) = await SsePeek.FirstEventAsync(new MemoryStream(bytes), 1024, CancellationToken.None);
        Assert.Equal("{\"a\":\n1}", Encoding.UTF8.GetString(first!));
        Assert.False(overflowed);
        await using var reader = new SseReader(body);
        var events = new List<string>();
        while (await reader.ReadEventAsync(CancellationToken.None) is { } data)
        {
            events.Add(Encoding.UTF8.GetString(data.Span));
        }

        Assert.Equal(["", "{\"a\":\n1}", "[DONE]"], events);

        var (none, tooMuch, _) = await SsePeek.FirstEventAsync(new MemoryStream(new byte[4096]), 1024, CancellationToken.None);
        Assert.Null(none);
        Assert.True(tooMuch);
    }

    [Fact]
    public void The_writer_also_takes_a_buffer_writer()
    {
        var output = new ArrayBufferWriter<byte>();
        SseFrame.WriteData(output, "x\ny"u8);
        Assert.Equal("data: x\ndata: y\n\n", Encoding.UTF8.GetString(output.WrittenSpan));
    }
}
