using System.Text;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Api;

namespace RelayCluster.Tests.Wire;

public sealed class SyncBatchParserTests
{
    private static IReadOnlyList<SyncBatchItem> Items(string body)
    {
        var (items, error) = SyncBatchParser.Parse(Encoding.UTF8.GetBytes(body), 100);
        Assert.Null(error);
        return items!;
    }

    [Fact]
    public void The_upstream_body_is_the_item_byte_for_byte_without_custom_id()
    {
        // Odd spacing and number forms survive: values are copied raw, never re-serialized.
        var items = Items("""{"requests": [ {"custom_id": "a", "model": "m", "temperature": 1.50, "messages": [ {"role":"user","content":"h\u00e9"} ]}, {"model":"m",  "input": "x"} ]}""");

        Assert.Equal("""{"model":"m","temperature":1.50,"messages":[ {"role":"user","content":"h\u00e9"} ]}""", Encoding.UTF8.GetString(items[0].Body));
        Assert.Equal("""{"model":"m",  "input": "x"}""", Encoding.UTF8.GetString(items[1].Body));
        Assert.Equal(["a", null], items.Select(i => i.CustomId));
        Assert.Equal([RelayOperation.ChatCompletions, RelayOperation.Embeddings], items.Select(i => i.Operation));
        Assert.All(items, i => Assert.Null(i.Refusal));
    }

    [Fact]
    public void An_item_with_both_messages_and_input_is_refused_on_its_own()
    {
        var item = Assert.Single(Items("""{"requests": [{"model": "m", "messages": [], "input": "x"}]}"""));

        Assert.Equal("requests[0]", item.Refusal!.Error.Param);
        Assert.Equal(400, item.Refusal.Status);
    }

    [Fact]
    public void An_item_may_nest_as_deep_as_a_single_call()
    {
        var deep = new string('[', 60) + new string(']', 60);
        var item = Assert.Single(Items($$"""{"requests": [{"model": "m", "input": {{deep}}}]}"""));

        Assert.Null(item.Refusal);
    }
}
