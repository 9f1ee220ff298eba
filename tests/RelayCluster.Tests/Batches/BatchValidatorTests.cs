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

    /// <summary>Lines that are JSON a reader accepts but whose values cannot be read: each is its line's error, never a throw.</summary>
    [Fact]
    public async Task Lines_whose_values_cannot_be_read_are_errors_on_their_lines()
    {
        var good = Encoding.UTF8.GetBytes(Line("ok") + "\n");
        var poison = new[]
        {
            """{"custom_id":"dup","custom_id":"again","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x"}]}}""",
            """{"custom_id":"dup-body","method":"POST","url":"/v1/chat/completions","body":{"model":"m","model":"n","messages":[{"role":"user","content":"x"}]}}""",
            """{"custom_id":"surrogate","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"\ud800"}]}}""",
            """{"custom_id":"\udfff","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x"}]}}""",
            """{"custom_id":"overflow","method":"POST","url":"/v1/chat/completions","body":{"model":"m","max_tokens":1e400,"messages":[{"role":"user","content":"x"}]}}""",
            """{"custom_id":"big","method":"POST","url":"/v1/chat/completions","body":{"model":"m","max_tokens":18446744073709551616,"messages":[{"role":"user","content":"x"}]}}""",
        };
        using var file = new MemoryStream();
        file.Write(good);
        foreach (var line in poison)
        {
            file.Write(Encoding.UTF8.GetBytes(line + "\n"));
        }

        // A raw 0xFF byte inside a string: not UTF-8.
        file.Write([.. Encoding.UTF8.GetBytes("""{"custom_id":"ff","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"a"""), 0xFF, .. Encoding.UTF8.GetBytes("\"}]}}\n")]);
        file.Position = 0;

        var (input, errors) = await BatchValidator.ValidateAsync(file, "/v1/chat/completions", 10, 100, 1 << 20, CancellationToken.None);

        Assert.Null(input);
        Assert.Equal([2, 3, 4, 5, 6, 7, 8], errors.Select(e => e.Line ?? 0));
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
        Assert.Contains("duplicate", errors[0].Message, StringComparison.OrdinalIgnoreCase);
    }
}
