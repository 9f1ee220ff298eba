using System.Text.Json.Nodes;
using RelayCluster.Core.Configuration;
using RelayCluster.Upstreams.Anthropic;

namespace RelayCluster.Tests.Anthropic;

public sealed class AnthropicRequestTests
{
    private static readonly AnthropicOptions Options = new() { DefaultMaxTokens = 1234 };

    private static JsonObject Translate(string openAi) => AnthropicRequest.From(JsonNode.Parse(openAi)!.AsObject(), Options);

    [Fact]
    public void System_and_developer_messages_become_the_system_prompt_and_text_becomes_blocks()
    {
        var body = Translate("""
            {"model":"claude-x","messages":[
              {"role":"system","content":"Be terse."},
              {"role":"developer","content":[{"type":"text","text":"Use French."}]},
              {"role":"user","content":"Hello"},
              {"role":"assistant","content":"Bonjour"},
              {"role":"user","content":[{"type":"text","text":"Describe"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0K"}}]}],
             "temperature":0.5,"top_p":0.9,"stop":"END","user":"user-7","stream":true,"stream_options":{"include_usage":true},
             "frequency_penalty":1}
            """);

        Assert.Equal("claude-x", (string?)body["model"]);
        Assert.Equal("Be terse.\n\nUse French.", (string?)body["system"]);
        Assert.Equal(
            """[{"role":"user","content":[{"type":"text","text":"Hello"}]},{"role":"assistant","content":[{"type":"text","text":"Bonjour"}]},"""
            + """{"role":"user","content":[{"type":"text","text":"Describe"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0K"}}]}]""",
            body["messages"]!.ToJsonString());
        Assert.Equal(1234L, (long)body["max_tokens"]!); // absent in the request: the configured default
        Assert.Equal(0.5, (double)body["temperature"]!);
        Assert.Equal(0.9, (double)body["top_p"]!);
        Assert.Equal("""["END"]""", body["stop_sequences"]!.ToJsonString());
        Assert.Equal("user-7", (string?)body["metadata"]!["user_id"]);
        Assert.True((bool)body["stream"]!);
        Assert.Null(body["stream_options"]);
        Assert.Null(body["frequency_penalty"]);
    }

    [Theory]
    [InlineData("""{"max_completion_tokens":10,"max_tokens":20}""", 10)]
    [InlineData("""{"max_tokens":20}""", 20)]
    [InlineData("""{}""", 1234)]
    public void The_output_cap_prefers_max_completion_tokens(string caps, long expected)
    {
        var request = JsonNode.Parse(caps)!.AsObject();
        request["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "x" });
        Assert.Equal(expected, (long)AnthropicRequest.From(request, Options)["max_tokens"]!);
    }

    [Fact]
    public void Tool_calls_become_tool_use_and_consecutive_tool_results_one_user_turn()
    {
        var body = Translate("""
            {"model":"m","messages":[
              {"role":"user","content":"Weather in Paris and Rome?"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"18C"},
              {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"24C"}]},
              {"role":"user","content":"Thanks"}],
             "stop":["a","b"]}
            """);

        var messages = body["messages"]!.AsArray();
        Assert.Equal(3, messages.Count);
        Assert.Equal(
            """{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},{"type":"tool_use","id":"call_2","name":"get_weather","input":{"city":"Rome"}}]}""",
            messages[1]!.ToJsonString());
        // Both results and the next user text in one user turn, results first, as Anthropic requires.
        Assert.Equal(
            """{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"18C"},{"type":"tool_result","tool_use_id":"call_2","content":"24C"},{"type":"text","text":"Thanks"}]}""",
            messages[2]!.ToJsonString());
        Assert.Equal("""["a","b"]""", body["stop_sequences"]!.ToJsonString());
    }

    [Fact]
    public void Function_tools_get_an_input_schema()
    {
        var body = Translate("""
            {"model":"m","messages":[{"role":"user","content":"x"}],"tools":[
              {"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
              {"type":"function","function":{"name":"ping"}}]}
            """);

        Assert.Equal(
            """[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},"""
            + """{"name":"ping","input_schema":{"type":"object","properties":{}}}]""",
            body["tools"]!.ToJsonString());
        Assert.Null(body["tool_choice"]);
    }

    [Theory]
    [InlineData("\"auto\"", null, """{"type":"auto"}""")]
    [InlineData("\"none\"", null, """{"type":"none"}""")]
    [InlineData("\"required\"", null, """{"type":"any"}""")]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", null, """{"type":"tool","name":"get_weather"}""")]
    [InlineData("\"required\"", false, """{"type":"any","disable_parallel_tool_use":true}""")]
    [InlineData(null, false, """{"type":"auto","disable_parallel_tool_use":true}""")]
    public void Tool_choice_maps_to_anthropics(string? toolChoice, bool? parallel, string expected)
    {
        var request = JsonNode.Parse("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"get_weather"}}]}""")!.AsObject();
        if (toolChoice is not null)
        {
            request["tool_choice"] = JsonNode.Parse(toolChoice);
        }

        if (parallel is { } p)
        {
            request["parallel_tool_calls"] = p;
        }

        Assert.Equal(expected, AnthropicRequest.From(request, Options)["tool_choice"]!.ToJsonString());
    }

    [Theory]
    [InlineData("""{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}""", "n")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]}""", "messages[0].content[0].image_url.url")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"not json"}}]}]}""", "messages[0].tool_calls[0].function.arguments")]
    [InlineData("""{"model":"m","messages":[{"role":"tool","content":"x"}]}""", "messages[0].tool_call_id")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{"name":"c"}}]}""", "tools[0]")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":2}""", "logprobs")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}""", "response_format")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{}}}}""", "response_format")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"modalities":["text","audio"]}""", "modalities")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"audio":{"voice":"alloy","format":"mp3"}}""", "audio")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"web_search_options":{}}""", "web_search_options")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]}""", "functions")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", "max_tokens")]
    [InlineData("""{"model":"m","messages":[{"role":"system","content":"only a system prompt"},{"role":"user","content":""}]}""", "messages")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", "temperature")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"stop":["ok",3]}""", "stop[1]")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}""", "messages[0].content[0].file.file_id")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:image/png;base64,AAAA"}}]}]}""", "messages[0].content[0].file.file_data")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}""", "tool_choice")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[],"tool_choice":"none"}""", "tool_choice")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"get_weather"}}],"tool_choice":{"type":"function","function":{"name":"get_stock"}}}""", "tool_choice")]
    public void What_the_messages_api_cannot_express_is_refused_with_its_parameter(string openAi, string param)
    {
        var error = Assert.Throws<AnthropicTranslationException>(() => Translate(openAi));
        Assert.Equal(param, error.Param);
    }

    [Fact]
    public void Http_images_are_sent_by_url()
    {
        var body = Translate("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}""");
        Assert.Equal("""{"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}}""", body["messages"]![0]!["content"]![0]!.ToJsonString());
    }

    [Theory]
    [InlineData(1.5, 1.0)] // OpenAI's 0–2 clamped into Anthropic's 0–1, as Anthropic's own OpenAI endpoint does
    [InlineData(2.0, 1.0)]
    [InlineData(0.7, 0.7)] // in both ranges: unchanged, not scaled
    [InlineData(0.0, 0.0)]
    public void Temperature_above_anthropics_range_is_capped_at_1(double openAi, double anthropic)
    {
        var body = Translate($$"""{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":{{openAi.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");
        Assert.Equal(anthropic, (double)body["temperature"]!);
    }

    [Fact]
    public void A_temperature_set_in_code_as_an_integer_or_decimal_is_read_too()
    {
        static double Sent(JsonNode temperature) => (double)AnthropicRequest.From(new JsonObject
        {
            ["model"] = "m", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "x" }), ["temperature"] = temperature,
        }, Options)["temperature"]!;

        Assert.Equal(1.0, Sent(JsonValue.Create(2L)));
        Assert.Equal(0.25, Sent(JsonValue.Create(0.25m)));
    }

    [Theory]
    [InlineData("[\"\\n\"]", null)]
    [InlineData("[\"\\n\",\" \",\"\\t\\r\\n\",\"\"]", null)]
    [InlineData("\" \"", null)]
    [InlineData("[\"\\n\",\"END\",\" x \"]", """["END"," x "]""")]
    [InlineData("null", null)]
    public void Whitespace_only_stop_sequences_are_dropped(string stop, string? expected)
    {
        var body = Translate($$"""{"model":"m","messages":[{"role":"user","content":"x"}],"stop":{{stop}}}""");
        Assert.Equal(expected, body["stop_sequences"]?.ToJsonString());
    }

    [Fact]
    public void Sampling_and_bookkeeping_fields_anthropic_lacks_are_dropped_and_only_its_fields_are_sent()
    {
        var body = Translate("""
            {"model":"m","messages":[{"role":"user","content":"x"}],"presence_penalty":1,"frequency_penalty":-1,
             "logit_bias":{"50256":-100},"seed":7,"store":true,"metadata":{"k":"v"},"service_tier":"flex","prediction":{"type":"content","content":"x"},
             "reasoning_effort":"high","verbosity":"low","prompt_cache_key":"k","logprobs":false,"top_logprobs":0,"n":1,
             "stream_options":{"include_usage":true},"safety_identifier":"u-9","parallel_tool_calls":true,"response_format":{"type":"text"},
             "modalities":["text"],"max_completion_tokens":50}
            """);

        Assert.Equal(["max_tokens", "messages", "metadata", "model"], body.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("""{"user_id":"u-9"}""", body["metadata"]!.ToJsonString());
        Assert.Equal(50L, (long)body["max_tokens"]!);
    }

    [Fact]
    public void Without_a_cap_in_the_body_the_relays_reserved_cap_is_sent()
    {
        var request = JsonNode.Parse("""{"model":"m","messages":[{"role":"user","content":"x"}]}""")!.AsObject();
        Assert.Equal(300L, (long)AnthropicRequest.From(request, Options, outputCap: 300)["max_tokens"]!);
    }

    [Fact]
    public void An_inline_pdf_file_part_becomes_a_document_block()
    {
        var body = Translate("""{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}]}]}""");
        Assert.Equal(
            """{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}""",
            body["messages"]![0]!["content"]![0]!.ToJsonString());
    }
}
