using System.Text;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Wire;
using RelayCluster.Tests.Hostile;

namespace RelayCluster.Tests.Wire;

/// <summary>
/// The request parser answers every input with a request or an error, never an exception: a batch line it threw on
/// once stalled every tenant's batches. Each corpus body, and every prefix of a valid body, is tried on both
/// operations, and the batch validator reports hostile lines as line errors.
/// </summary>
public sealed class ParserNeverThrowsTests
{
    private const string Valid =
        """{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"h\u00e9 \ud83d\ude00"}]}],"max_tokens":5,"n":2,"tools":[{"type":"function"}],"input":["a",[1,2]]}""";

    public static TheoryData<HostileBody> Corpus => [.. HostileBodies.All];

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Hostile_bodies_are_errors_not_exceptions(HostileBody body)
    {
        foreach (var operation in new[] { RelayOperation.ChatCompletions, RelayOperation.Embeddings })
        {
            var (request, error) = RequestParser.Parse(operation, body.Bytes);
            Assert.True(request is null ^ error is null);
            Assert.True(error is null || error.Status == 400 || error.Status == 404, error?.Error.Message);
        }
    }

    [Fact]
    public void Every_prefix_of_a_valid_body_is_an_answer_not_an_exception()
    {
        var bytes = Encoding.UTF8.GetBytes(Valid);
        for (var length = 0; length <= bytes.Length; length++)
        {
            foreach (var operation in new[] { RelayOperation.ChatCompletions, RelayOperation.Embeddings })
            {
                var (request, error) = RequestParser.Parse(operation, bytes.AsSpan(0, length));
                Assert.True(request is null ^ error is null, $"prefix {length}");
            }
        }
    }

    [Theory]
    [InlineData("""{"custom_id":"a","custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x"}]}}""", "invalid_json_line")]
    [InlineData("""{"custom_id":"\ud800","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x"}]}}""", "invalid_json_line")]
    [InlineData("""{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","model":"n","messages":[{"role":"user","content":"x"}]}}""", "invalid_json_line")]
    [InlineData("""{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":99999999999999999999999}}""", "invalid_body")]
    public async Task Hostile_batch_lines_are_line_errors(string line, string code)
    {
        var (input, errors) = await BatchValidator.ValidateAsync(
            new MemoryStream(Encoding.UTF8.GetBytes(line + "\n")), "/v1/chat/completions", 10, 100, 1 << 20, CancellationToken.None);

        Assert.Null(input);
        Assert.Equal([(code, 1)], errors.Select(e => (e.Code, e.Line ?? 0)));
    }

    [Fact]
    public async Task A_raw_0xFF_byte_in_a_batch_line_is_a_line_error()
    {
        var line = Encoding.UTF8.GetBytes("""{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"?"}]}}""" + "\n");
        line[Array.IndexOf(line, (byte)'?')] = 0xFF;

        var (input, errors) = await BatchValidator.ValidateAsync(new MemoryStream(line), "/v1/chat/completions", 10, 100, 1 << 20, CancellationToken.None);

        Assert.Null(input);
        Assert.Equal("invalid_json_line", Assert.Single(errors).Code);
    }
}
