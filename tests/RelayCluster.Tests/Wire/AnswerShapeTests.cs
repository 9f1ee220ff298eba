using System.Text;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Relay;

namespace RelayCluster.Tests.Wire;

/// <summary>
/// <see cref="UpstreamAnswers.ProblemWithBody"/> judges the common answer with a reader alone and everything else with
/// a document: both must agree. These are the bodies at the border between the two.
/// </summary>
public sealed class AnswerShapeTests
{
    private static OpenAiError? Problem(string body, RelayOperation operation = RelayOperation.ChatCompletions) =>
        UpstreamAnswers.ProblemWithBody(operation, Encoding.UTF8.GetBytes(body));

    [Theory]
    [InlineData("""{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":1}}""")]
    [InlineData(""" {"choices":[{}]} """)]
    [InlineData("""{"error":null,"choices":[{"index":0}]}""")] // error:null is no error (document path)
    [InlineData("""{"choices":"none","choices":[{"index":0}]}""")] // a repeated member: the document's rule decides
    [InlineData("""{"ch\u006fices":[{"index":0}]}""")]
    public void Chat_answers_pass(string body) => Assert.Null(Problem(body));

    [Theory]
    [InlineData("""{"choices":[{}]}{"choices":[{}]}""", "not JSON")]
    [InlineData("""{"choices":[{}]} x""", "not JSON")]
    [InlineData("""{"choices":[{}],"error":{"message":"boom"}}""", "boom")]
    [InlineData("""{"choices":[{},1]}""", "not a choice")]
    [InlineData("""{"choices":[]}""", "no 'choices'")]
    [InlineData("""{"data":[{"embedding":[1]}]}""", "no 'choices'")]
    public void Chat_non_answers_are_named(string body, string says) => Assert.Contains(says, Problem(body)!.Message);

    [Fact]
    public void Embeddings_need_an_embedding_in_every_item()
    {
        Assert.Null(Problem("""{"object":"list","data":[{"object":"embedding","embedding":[0.1,0.2],"index":0}],"model":"m"}""", RelayOperation.Embeddings));
        Assert.Contains("not an embedding", Problem("""{"data":[{"embedding":[1]},{"index":1}]}""", RelayOperation.Embeddings)!.Message);
        Assert.Contains("no 'data'", Problem("""{"choices":[{}]}""", RelayOperation.Embeddings)!.Message);
    }
}
