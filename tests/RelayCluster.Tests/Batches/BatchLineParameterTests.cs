using System.Text;
using RelayCluster.Core.Batches;

namespace RelayCluster.Tests.Batches;

/// <summary>A batch input line's body is held to the same parameter rules as a single call, reported by line and param.</summary>
public sealed class BatchLineParameterTests
{
    private static string Line(string id, string messages, string extra = "") =>
        $$$"""{"custom_id":"{{{id}}}","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":{{{messages}}}{{{extra}}}}}""";

    [Fact]
    public async Task Lines_with_bad_parameters_fail_the_file_naming_line_and_param()
    {
        var text = string.Join("\n",
            Line("a", """[{"role":"user","content":"ok"}]"""),
            Line("b", """[{"role":"user","content":"x"}]""", ""","temperature":"hot" """),
            Line("c", """[{"role":"user"}]"""),
            Line("d", """[{"role":"user","content":"x"}]""", ""","top_p":1.5"""),
            Line("e", """[{"role":"assistant","content":"x"},{"role":"tool","content":"y"}]"""));
        var (input, errors) = await BatchValidator.ValidateAsync(
            new MemoryStream(Encoding.UTF8.GetBytes(text)), "/v1/chat/completions", 10, 100, 1 << 20, CancellationToken.None);

        Assert.Null(input);
        Assert.Equal(
            [(2, "body.temperature"), (3, "body.messages[0].content"), (4, "body.top_p"), (5, "body.messages[1].tool_call_id")],
            errors.Select(e => (e.Line ?? 0, e.Param)));
        Assert.All(errors, e => Assert.Equal("invalid_body", e.Code));
        Assert.Equal("Invalid type for 'temperature': expected a decimal, but got a string instead.", errors[0].Message);
    }

    [Fact]
    public async Task An_embeddings_line_with_a_bad_parameter_fails_too()
    {
        var text = """{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"e","input":"x","dimensions":"8"}}""";
        var (input, errors) = await BatchValidator.ValidateAsync(
            new MemoryStream(Encoding.UTF8.GetBytes(text)), "/v1/embeddings", 10, 100, 1 << 20, CancellationToken.None);

        Assert.Null(input);
        Assert.Equal((1, "body.dimensions"), (errors.Single().Line ?? 0, errors.Single().Param));
    }
}
