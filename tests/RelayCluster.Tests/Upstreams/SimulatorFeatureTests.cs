using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.Tests.Upstreams;

/// <summary>
/// The simulator engine's answers for n, tools, response_format and logprobs: the shapes OpenAI sends, whatever
/// the body holds (a hostile body never throws). The SDK round trips through the relay are
/// tests/conformance/simulator-features.test.mjs.
/// </summary>
public sealed class SimulatorFeatureTests
{
    private static readonly string[] Words = ["relay", "token", "stream"];
    private readonly SimulatorEngine _engine = new(new SimulatorOptions(), TimeProvider.System);

    private JsonObject Complete(string json)
    {
        var body = JsonNode.Parse(json)!.AsObject();
        return JsonNode.Parse(_engine.ChatCompletion(body, _engine.ScriptFor(body)))!.AsObject();
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"]}""", """{"b":42}""")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":["null","number"],"maximum":1}}}""", """{"a":true,"b":1}""")]
    [InlineData("""{"type":"object","properties":{"e":{"enum":["x","y"]},"c":{"const":7},"o":{"oneOf":[{"type":"null"},{"type":"integer","minimum":100}]}},"required":["e","c","o"]}""", """{"e":"x","c":7,"o":100}""")]
    [InlineData("""{"type":"object","properties":{"p":{"$ref":"#/$defs/p"}},"required":["p"],"$defs":{"p":{"type":"object","properties":{"when":{"type":"string","format":"date"}},"required":["when"]}}}""", """{"p":{"when":"2025-01-01"}}""")]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":2}""", "[42,42]")]
    [InlineData("""{"type":"array","items":{"type":"null"},"minItems":1000000000}""", "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]")]
    public void A_schema_instance_has_the_required_properties_of_their_types(string schema, string expected)
    {
        Assert.Equal(expected, SimulatorSchema.Instance(JsonNode.Parse(schema), Words)?.ToJsonString());
    }

    [Fact]
    public void A_recursive_schema_ends()
    {
        var schema = JsonNode.Parse("""{"$ref":"#/$defs/n","$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}}}}}""");
        Assert.NotNull(SimulatorSchema.Instance(schema, Words));
    }

    [Theory]
    [InlineData(9, false)] // arrays of 16 arrays, nine deep: 16^9 values
    [InlineData(9, true)] // objects of 16 properties, nine deep
    public async Task A_schema_that_multiplies_at_every_level_gives_a_bounded_instance_at_once(int levels, bool objects)
    {
        // Objects refer to the level below through $defs, or their text would itself grow 16-fold a level.
        var schema = """{"type":"string"}""";
        var definitions = new List<string> { "\"l0\":{\"type\":\"string\"}" };
        for (var i = 1; i <= levels; i++)
        {
            var below = i - 1;
            schema = """{"type":"array","minItems":16,"items":""" + schema + "}";
            definitions.Add($"\"l{i}\":" + """{"type":"object","properties":{""" + string.Join(',', Enumerable.Range(0, 16).Select(p => $"\"p{p}\":{{\"$ref\":\"#/$defs/l{below}\"}}")) + "}}");
        }

        if (objects)
        {
            schema = $"{{\"$ref\":\"#/$defs/l{levels}\",\"$defs\":{{{string.Join(',', definitions)}}}}}";
        }

        // Before the bound the arrays were 16^9 values: this never ended (a TimeoutException here).
        var instance = await Task.Run(() => SimulatorSchema.Instance(JsonNode.Parse(schema), Words)?.ToJsonString()).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.InRange(instance!.Length, 2, 64 * 1024);
    }

    [Fact]
    public void Choices_that_call_many_tools_with_large_arguments_share_them_instead_of_making_them_again()
    {
        // 128 choices, each calling the 128 tools the user names, each tool's arguments an instance of 4,096 values:
        // made per choice, that was 67 million values (GBs and minutes) before a single token of a 16-token answer.
        var schema = """{"type":"string"}""";
        for (var i = 0; i < 9; i++)
        {
            schema = """{"type":"array","minItems":16,"items":""" + schema + "}";
        }

        var names = Enumerable.Range(0, 128).Select(i => $"tool_{i:000}").ToList();
        var tools = string.Join(',', names.Select(n =>
            """{"type":"function","function":{"name":""" + $"\"{n}\"" + ""","parameters":{"type":"object","properties":{"a":""" + schema + """},"required":["a"]}}}"""));
        var body = JsonNode.Parse($$"""{"model":"m","n":128,"max_tokens":16,"tools":[{{tools}}],"messages":[{"role":"user","content":"call {{string.Join(' ', names)}}"}]}""")!.AsObject();

        var before = GC.GetAllocatedBytesForCurrentThread();
        var completion = JsonNode.Parse(_engine.ChatCompletion(body, _engine.ScriptFor(body)))!;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(128, completion["choices"]!.AsArray().Count);
        Assert.Equal("tool_000", (string?)completion["choices"]![127]!["message"]!["tool_calls"]![0]!["function"]!["name"]);
        Assert.True(allocated < 512L * 1024 * 1024, $"{allocated / (1024 * 1024)} MiB allocated for 128 choices of 16 tokens");
    }

    [Theory]
    [InlineData("\"required\"", "user", "get_time")]
    [InlineData("\"auto\"", "user", "get_time")] // the user names get_time
    [InlineData("null", "user", "get_time")]
    [InlineData("\"auto\"", "tool", null)] // after a result: words
    [InlineData("\"required\"", "tool", "get_weather")]
    [InlineData("\"none\"", "user", null)]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", "tool", "get_weather")]
    [InlineData("""{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"get_weather"}}]}}""", "tool", "get_weather")]
    public void The_tool_choice_rule(string toolChoice, string lastRole, string? called)
    {
        var last = lastRole == "user" ? """{"role":"user","content":"what is get_time in Paris"}""" : """{"role":"tool","tool_call_id":"c","content":"14:00"}""";
        var completion = Complete("""{"model":"m","tool_choice":""" + toolChoice + ""","messages":[{"role":"user","content":"hi"},""" + last + "],"
            + """
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
                      {"type":"function","function":{"name":"get_time"}}]}
            """);

        var choice = completion["choices"]![0]!;
        Assert.Equal(called, (string?)choice["message"]!["tool_calls"]?[0]?["function"]?["name"]);
        Assert.Equal(called is null ? "stop" : "tool_calls", (string?)choice["finish_reason"]);
        if (called is not null)
        {
            Assert.Null(choice["message"]!["content"]);
            Assert.IsType<JsonObject>(JsonNode.Parse((string)choice["message"]!["tool_calls"]![0]!["function"]!["arguments"]!));
        }
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"missing"}}}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[],"tool_choice":{"type":"function","function":{"name":"f"}}}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required"}""")]
    public async Task A_tool_choice_it_cannot_follow_is_a_400_naming_it_as_OpenAI_answers(string json)
    {
        // OpenAI: 400 "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        // param tool_choice; forcing a function that is not in tools cannot be followed either. (Before: an answer in words.)
        var provider = new SimulatorProvider("sim", _engine);
        var request = new RelayCluster.Upstreams.UpstreamRequest(RelayCluster.Core.Wire.RelayOperation.ChatCompletions, JsonNode.Parse(json)!.AsObject(), Stream: false);
        await using var response = await provider.SendAsync(request, CancellationToken.None);

        Assert.Equal(400, response.StatusCode);
        var error = (await JsonNode.ParseAsync(response.Body))!["error"]!;
        Assert.Equal(("invalid_request_error", "tool_choice"), ((string?)error["type"], (string?)error["param"]));
    }

    [Theory]
    [InlineData("required")]
    [InlineData("auto")]
    [InlineData("none")]
    public async Task A_tool_choice_it_can_follow_is_answered(string mode)
    {
        var provider = new SimulatorProvider("sim", _engine);
        var body = JsonNode.Parse($$$"""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"{{{mode}}}"}""")!.AsObject();
        await using var response = await provider.SendAsync(new RelayCluster.Upstreams.UpstreamRequest(RelayCluster.Core.Wire.RelayOperation.ChatCompletions, body, Stream: false), CancellationToken.None);
        Assert.Equal(200, response.StatusCode);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":"x","tools":"x","tool_choice":5,"response_format":"json","n":"two","logprobs":"yes","seed":"s"}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[5,{"type":"function"},{"type":"function","function":"f"}],"tool_choice":{"type":"function","function":3}}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":"s"},"n":1000000,"top_logprobs":99,"logprobs":true}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"anyOf":[true,false]}}}],"tool_choice":"required","stream_options":"x"}""")]
    public void A_hostile_body_gets_an_answer_not_an_exception(string json)
    {
        var completion = Complete(json);
        Assert.True(completion["choices"]!.AsArray().Count is >= 1 and <= SimulatedChoice.MaxChoices);
    }

    [Fact]
    public async Task A_stream_of_n_choices_tool_calls_and_logprobs_counts_what_it_sent()
    {
        var body = JsonNode.Parse("""
            {"model":"m","n":3,"logprobs":true,"top_logprobs":2,"stream":true,"stream_options":{"include_usage":true},
             "messages":[{"role":"user","content":"hello [[sim tokens=4]]"}]}
            """)!.AsObject();
        using var output = new MemoryStream();
        await _engine.WriteChatStreamAsync(output, body, _engine.ScriptFor(body), CancellationToken.None);

        var chunks = Encoding.UTF8.GetString(output.ToArray()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).Where(d => d != "[DONE]").Select(d => JsonNode.Parse(d)!).ToList();
        var choices = chunks.SelectMany(c => c["choices"]!.AsArray()).ToList();
        Assert.Equal([0, 1, 2], choices.Select(c => (int)c!["index"]!).Distinct().Order());
        var entries = choices.SelectMany(c => c!["logprobs"]?["content"]?.AsArray() ?? []).ToList();
        Assert.Equal(12, entries.Count);
        Assert.All(entries, e => Assert.Equal(2, e!["top_logprobs"]!.AsArray().Count));
        Assert.Equal(12, (int)chunks[^1]["usage"]!["completion_tokens"]!);
        Assert.Equal(3, choices.Count(c => (string?)c!["finish_reason"] == "stop"));
    }
}
