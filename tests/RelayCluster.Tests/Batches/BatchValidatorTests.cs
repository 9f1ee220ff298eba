using System.Text;
using RelayCluster.Core.Batches;

namespace RelayCluster.Tests.Batches;

public sealed class BatchValidatorTests
{
    private static string Line(string id, string content = "hi", string url = "/v1/chat/completions") =>
        $$$"""{"custom_id":"{{{id}}}","method":"POST","url":"{{{url}}}","body":{"model":"m","messages":[{"role":"user","content":"{{{content}}}"}]}}""";

    private static Task<(ValidatedInput? Input, IReadOnlyList<BatchLineError> Errors)> ValidateAsync(string text, int chunkSize = 2, int max = 100) =>
        BatchValidator.ValidateAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), "/v1/chat/completions", chunkSize, max, 1 << 20, CancellationToken.None);

    [Fact]
    public async Task A_valid_file_is_split_into_chunks_at_the_byte_offsets_of_their_first_lines()
    {
        var lines = new[] { Line("a"), Line("b"), Line("c"), Line("d"), Line("e") };
        var text = string.Join("\r\n", lines) + "\n\n";
        var (input, errors) = await ValidateAsync(text);

        Assert.Empty(errors);
        Assert.Equal(5, input!.Total);
        Assert.Equal("m", input.Model);
        Assert.Equal([2, 2, 1], input.Chunks.Select(c => c.Count));
        Assert.Equal([0, 2, 4], input.Chunks.Select(c => c.FirstLine));
        var third = input.Chunks[2];
        Assert.Equal(lines[4], text.Substring((int)third.Offset, lines[4].Length)); // ASCII: bytes are chars
    }

    [Fact]
    public async Task Every_bad_line_is_reported_with_its_number()
    {
        var text = string.Join("\n", Line("a"), "{oops", Line("a"), Line("b", url: "/v1/embeddings"), """{"custom_id":"c","method":"GET","url":"/v1/chat/completions","body":{}}""", Line(""));
        var (input, errors) = await ValidateAsync(text);

        Assert.Null(input);
        Assert.Equal(
            [("invalid_json_line", 2), ("duplicate_custom_id", 3), ("mismatched_url", 4), ("invalid_method", 5), ("missing_custom_id", 6)],
            errors.Select(e => (e.Code, e.Line ?? 0)));
    }

    [Fact]
    public async Task Empty_files_and_files_over_the_request_limit_are_refused()
    {
        Assert.Equal("empty_file", Assert.Single((await ValidateAsync("\n\n")).Errors).Code);
        Assert.Equal("too_many_requests", Assert.Single((await ValidateAsync(string.Join("\n", Line("a"), Line("b"), Line("c")), max: 2)).Errors).Code);
    }
}
