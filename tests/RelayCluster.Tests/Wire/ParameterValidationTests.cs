using System.Text;
using RelayCluster.Core.Wire;

namespace RelayCluster.Tests.Wire;

/// <summary>
/// The documented types and ranges of chat and embeddings parameters (issue 13, part 7): each wrong value is a
/// 400 naming the field with OpenAI's code, and the legal neighbours of each are accepted.
/// </summary>
public sealed class ParameterValidationTests
{
    private const string Hi = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    private static RelayError? ChatError(string json) =>
        RequestParser.Parse(RelayOperation.ChatCompletions, Encoding.UTF8.GetBytes(json)).Error;

    private static RelayError? ChatWith(string fields) => ChatError($$"""{"model":"m",{{Hi}},{{fields}}}""");

    public static TheoryData<string, string, string> BadParameters => new()
    {
        { "\"temperature\":\"hot\"", "temperature", "invalid_type" },
        { "\"temperature\":3.5", "temperature", "decimal_above_max_value" },
        { "\"temperature\":-0.1", "temperature", "decimal_below_min_value" },
        { "\"temperature\":true", "temperature", "invalid_type" },
        { "\"top_p\":1.01", "top_p", "decimal_above_max_value" },
        { "\"temperature\":1e400", "temperature", "decimal_above_max_value" },
        { "\"temperature\":-1e400", "temperature", "decimal_below_min_value" },
        { "\"top_p\":[1]", "top_p", "invalid_type" },
        { "\"presence_penalty\":-2.5", "presence_penalty", "decimal_below_min_value" },
        { "\"frequency_penalty\":2.01", "frequency_penalty", "decimal_above_max_value" },
        { "\"frequency_penalty\":\"1\"", "frequency_penalty", "invalid_type" },
        { "\"n\":1.5", "n", "invalid_type" },
        { "\"n\":\"2\"", "n", "invalid_type" },
        { "\"seed\":1.5", "seed", "invalid_type" },
        { "\"seed\":\"42\"", "seed", "invalid_type" },
        { "\"logprobs\":\"yes\"", "logprobs", "invalid_type" },
        { "\"logprobs\":true,\"top_logprobs\":21", "top_logprobs", "integer_above_max_value" },
        { "\"logprobs\":true,\"top_logprobs\":-1", "top_logprobs", "integer_below_min_value" },
        { "\"top_logprobs\":3", "top_logprobs", "invalid_value" },
        { "\"logprobs\":false,\"top_logprobs\":3", "top_logprobs", "invalid_value" },
        { "\"max_tokens\":0", "max_tokens", "integer_below_min_value" },
        { "\"max_completion_tokens\":\"100\"", "max_completion_tokens", "invalid_type" },
        { "\"stop\":7", "stop", "invalid_type" },
        { "\"stop\":[\"a\",1]", "stop[1]", "invalid_type" },
        { "\"parallel_tool_calls\":1", "parallel_tool_calls", "invalid_type" },
        { "\"user\":42", "user", "invalid_type" },
        { "\"response_format\":\"json\"", "response_format", "invalid_type" },
        { "\"response_format\":{}", "response_format.type", "missing_required_parameter" },
        { "\"response_format\":{\"type\":\"xml\"}", "response_format.type", "invalid_value" },
        { "\"response_format\":{\"type\":\"json_schema\"}", "response_format.json_schema", "missing_required_parameter" },
        { "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{}}}", "response_format.json_schema.name", "missing_required_parameter" },
        { "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"has space\"}}", "response_format.json_schema.name", "invalid_value" },
        { "\"tools\":{}", "tools", "invalid_type" },
        { "\"tools\":[]", "tools", "empty_array" },
        { "\"tools\":[{\"type\":\"retrieval\"}]", "tools[0].type", "invalid_value" },
        { "\"tools\":[{\"type\":\"function\"}]", "tools[0].function", "missing_required_parameter" },
        { "\"tools\":[{\"type\":\"function\",\"function\":{}}]", "tools[0].function.name", "missing_required_parameter" },
        { "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}]", "tools[0].function.name", "invalid_value" },
        { "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"" + new string('a', 65) + "\"}}]", "tools[0].function.name", "invalid_value" },
        { "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":\"{}\"}}]", "tools[0].function.parameters", "invalid_type" },
        { "\"tool_choice\":\"always\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "tool_choice", "invalid_value" },
        { "\"tool_choice\":\"required\"", "tool_choice", "invalid_value" },
        { "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}},\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "tool_choice", "invalid_value" },
        { "\"tool_choice\":{\"type\":\"function\"},\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "tool_choice.function", "missing_required_parameter" },
        { "\"tool_choice\":7", "tool_choice", "invalid_type" },
    };

    [Theory]
    [MemberData(nameof(BadParameters))]
    public void A_parameter_of_the_wrong_type_or_range_is_a_400_naming_it(string fields, string param, string code)
    {
        var error = ChatWith(fields);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal("invalid_request_error", error.Error.Type);
        Assert.Equal(param, error.Error.Param);
        Assert.Equal(code, error.Error.Code);
    }

    [Fact]
    public void The_messages_are_worded_as_OpenAI_words_them()
    {
        Assert.Equal("Invalid type for 'temperature': expected a decimal, but got a string instead.", ChatWith("\"temperature\":\"hot\"")!.Error.Message);
        Assert.Equal("Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3.5 instead.", ChatWith("\"temperature\":3.5")!.Error.Message);
        Assert.Equal("Invalid 'n': integer above maximum value. Expected a value <= 128, but got 130 instead.", ChatWith("\"n\":130")!.Error.Message);
        Assert.Equal("Invalid type for 'n': expected an integer, but got a decimal instead.", ChatWith("\"n\":1.5")!.Error.Message);
        Assert.Equal("Missing required parameter: 'messages[0].content'.", ChatError("""{"model":"m","messages":[{"role":"user"}]}""")!.Error.Message);
        Assert.Equal("Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
            ChatError("""{"model":"m","messages":[{"role":"robot","content":"x"}]}""")!.Error.Message);
        Assert.Equal("Invalid value: 'xml'. Supported values are: 'text', 'json_object', and 'json_schema'.",
            ChatWith("\"response_format\":{\"type\":\"xml\"}")!.Error.Message);
    }

    [Theory]
    [InlineData("\"temperature\":0")]
    [InlineData("\"temperature\":2")]
    [InlineData("\"temperature\":null")]
    [InlineData("\"temperature\":1,\"top_p\":0.5,\"presence_penalty\":-2,\"frequency_penalty\":2")]
    [InlineData("\"seed\":-9007199254740993")]
    [InlineData("\"logprobs\":true,\"top_logprobs\":20")]
    [InlineData("\"logprobs\":true,\"top_logprobs\":0")]
    [InlineData("\"n\":128")]
    [InlineData("\"user\":\"u-1\",\"parallel_tool_calls\":false,\"store\":false")]
    [InlineData("\"response_format\":{\"type\":\"json_object\"}")]
    [InlineData("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"answer_1\",\"schema\":{\"type\":\"object\"},\"strict\":true}}")]
    [InlineData("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather-2\",\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":\"required\"")]
    [InlineData("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}")]
    [InlineData("\"tool_choice\":\"none\"")]
    [InlineData("\"stop\":[\"\\n\",\"END\"]")]
    public void Legal_values_are_accepted(string fields) => Assert.Null(ChatWith(fields));

    public static TheoryData<string, string, string> BadMessages => new()
    {
        { """{"content":"x"}""", "messages[0].role", "missing_required_parameter" },
        { """{"role":5,"content":"x"}""", "messages[0].role", "invalid_type" },
        { """{"role":"robot","content":"x"}""", "messages[0].role", "invalid_value" },
        { """{"role":"user"}""", "messages[0].content", "missing_required_parameter" },
        { """{"role":"user","content":null}""", "messages[0].content", "missing_required_parameter" },
        { """{"role":"system"}""", "messages[0].content", "missing_required_parameter" },
        { """{"role":"user","content":[]}""", "messages[0].content", "empty_array" },
        { """{"role":"developer","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}""", "messages[0].content[0].type", "invalid_value" },
        { """{"role":"assistant"}""", "messages[0].content", "missing_required_parameter" },
        { """{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}""", "messages[0].tool_calls[0].id", "missing_required_parameter" },
        { """{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f"}}]}""", "messages[0].tool_calls[0].function.arguments", "missing_required_parameter" },
        { """{"role":"tool","content":"sunny"}""", "messages[0].tool_call_id", "missing_required_parameter" },
        { """{"role":"tool","tool_call_id":"c1"}""", "messages[0].content", "missing_required_parameter" },
        { """{"role":"tool","tool_call_id":7,"content":"x"}""", "messages[0].tool_call_id", "invalid_type" },
        { """{"role":"function","content":"x"}""", "messages[0].name", "missing_required_parameter" },
        { """{"role":"user","content":"x","name":5}""", "messages[0].name", "invalid_type" },
        { """{"role":"user","content":[{"text":"hi"}]}""", "messages[0].content[0].type", "missing_required_parameter" },
        { """{"role":"user","content":[{"type":"video","video":{}}]}""", "messages[0].content[0].type", "invalid_value" },
        { """{"role":"user","content":[{"type":"text"}]}""", "messages[0].content[0].text", "missing_required_parameter" },
        { """{"role":"user","content":[{"type":"text","text":5}]}""", "messages[0].content[0].text", "invalid_type" },
        { """{"role":"user","content":[{"type":"image_url"}]}""", "messages[0].content[0].image_url", "missing_required_parameter" },
        { """{"role":"user","content":[{"type":"image_url","image_url":{}}]}""", "messages[0].content[0].image_url.url", "missing_required_parameter" },
        { """{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x","detail":"ultra"}}]}""", "messages[0].content[0].image_url.detail", "invalid_value" },
        { """{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA"}}]}""", "messages[0].content[0].input_audio.format", "missing_required_parameter" },
        { """{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"ogg"}}]}""", "messages[0].content[0].input_audio.format", "invalid_value" },
        { """{"role":"user","content":[{"type":"file","file":{}}]}""", "messages[0].content[0].file.file_id", "missing_required_parameter" },
        { """{"role":"user","content":[{"type":"file","file":{"file_id":3}}]}""", "messages[0].content[0].file.file_id", "invalid_type" },
        { """{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}""", "messages[0].content[0].type", "invalid_value" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public void A_message_breaking_its_roles_rules_is_a_400_naming_the_field(string message, string param, string code)
    {
        var error = ChatError($$"""{"model":"m","messages":[{{message}}]}""");
        Assert.NotNull(error);
        Assert.Equal(param, error.Error.Param);
        Assert.Equal(code, error.Error.Code);
    }

    [Theory]
    [InlineData("""{"role":"user","content":""}""")]
    [InlineData("""{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}""")]
    [InlineData("""{"role":"assistant","refusal":"I cannot"}""")]
    [InlineData("""{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"refusal","refusal":"b"}]}""")]
    [InlineData("""{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"sunny"}]}""")]
    [InlineData("""{"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"high"}},{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}},{"type":"file","file":{"file_id":"file-1"}},{"type":"file","file":{"file_data":"data:application/pdf;base64,AAAA","filename":"a.pdf"}}]}""")]
    [InlineData("""{"role":"function","name":"f","content":null}""")]
    public void Legal_messages_of_every_role_are_accepted(string message) =>
        Assert.Null(ChatError($$"""{"model":"m","messages":[{{message}}]}"""));

    [Theory]
    [InlineData("""{"model":"e","input":"x","user":7}""", "user", "invalid_type")]
    [InlineData("""{"model":"e","input":"x","dimensions":1.5}""", "dimensions", "invalid_type")]
    [InlineData("""{"model":"e","input":"x","dimensions":0}""", "dimensions", "integer_below_min_value")]
    [InlineData("""{"model":"e","input":"x","encoding_format":1}""", "encoding_format", "invalid_value")]
    public void Embedding_parameters_are_checked_too(string json, string param, string code)
    {
        var (_, error) = RequestParser.Parse(RelayOperation.Embeddings, Encoding.UTF8.GetBytes(json));
        Assert.Equal(param, error!.Error.Param);
        Assert.Equal(code, error.Error.Code);
    }
}
