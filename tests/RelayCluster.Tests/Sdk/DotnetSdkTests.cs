using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Sdk;

/// <summary>
/// The official OpenAI .NET SDK (the <c>OpenAI</c> package) against the relay and its simulator, as a .NET app would
/// use it after changing only its endpoint and key: chat plain and streamed, tool calls, JSON mode, log
/// probabilities, embeddings, models, and the SDK's typed errors.
/// </summary>
public sealed class DotnetSdkTests : IDisposable
{
    private const string Key = "sk-dotnet-sdk-tests-key";

    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t1:RequestsPerMinute", "10000")));

    private static readonly ChatTool Weather = ChatTool.CreateFunctionTool(
        "get_weather",
        "The weather in a city.",
        BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}"""));

    public void Dispose() => _host.Dispose();

    private OpenAIClientOptions Options() => new()
    {
        Endpoint = new Uri(_host.Address, "/v1"),
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // an error test sees the relay's answer, not a retry of it
    };

    private ChatClient Chat(string model = "mock-fast") => new(model, new ApiKeyCredential(Key), Options());

    [Fact]
    public async Task A_plain_completion_reads_as_a_chat_completion_with_usage()
    {
        ChatCompletion completion = await Chat().CompleteChatAsync(
            [new UserChatMessage("Hello there")], new ChatCompletionOptions { MaxOutputTokenCount = 5 });

        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(5, completion.Usage.OutputTokenCount);
        Assert.Equal(completion.Usage.InputTokenCount + 5, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task A_streamed_completion_joins_to_the_text_and_ends_with_usage()
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync(
            [new UserChatMessage("Hello there")], new ChatCompletionOptions { MaxOutputTokenCount = 7 }))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }

        Assert.False(string.IsNullOrWhiteSpace(text.ToString()));
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.NotNull(usage); // the SDK asks for the usage chunk; the relay passes it on
        Assert.Equal(7, usage.OutputTokenCount);
    }

    [Fact]
    public async Task A_forced_tool_call_round_trips_to_a_final_answer()
    {
        var chat = Chat();
        List<ChatMessage> messages = [new UserChatMessage("What is the weather in Paris?")];
        var options = new ChatCompletionOptions { Tools = { Weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice() };

        ChatCompletion first = await chat.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.Id));
        using (var arguments = JsonDocument.Parse(call.FunctionArguments))
        {
            Assert.Equal(JsonValueKind.String, arguments.RootElement.GetProperty("city").ValueKind);
            Assert.Equal(JsonValueKind.Number, arguments.RootElement.GetProperty("days").ValueKind);
        }

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, """{"temperature_c":21}"""));
        ChatCompletion second = await chat.CompleteChatAsync(messages, new ChatCompletionOptions { Tools = { Weather } });

        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Empty(second.ToolCalls);
        Assert.False(string.IsNullOrWhiteSpace(second.Content[0].Text));
    }

    [Fact]
    public async Task A_streamed_tool_call_arrives_as_deltas_that_join_to_valid_arguments()
    {
        var options = new ChatCompletionOptions { Tools = { Weather }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather") };
        string? id = null, name = null;
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("Weather in Oslo?")], options))
        {
            foreach (var delta in update.ToolCallUpdates)
            {
                Assert.Equal(0, delta.Index);
                id ??= delta.ToolCallId;
                name ??= delta.FunctionName;
                arguments.Append(delta.FunctionArgumentsUpdate?.ToString());
            }

            finish = update.FinishReason ?? finish;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal("get_weather", name);
        Assert.False(string.IsNullOrEmpty(id));
        using var parsed = JsonDocument.Parse(arguments.ToString());
        Assert.True(parsed.RootElement.TryGetProperty("city", out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Json_mode_answers_a_json_object(bool stream)
    {
        var options = new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };
        List<ChatMessage> messages = [new UserChatMessage("Give me a JSON object describing a cat.")];

        var content = stream ? await StreamedTextAsync(messages, options) : (await Chat().CompleteChatAsync(messages, options)).Value.Content[0].Text;

        using var parsed = JsonDocument.Parse(content);
        Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
    }

    [Fact]
    public async Task A_json_schema_answer_is_an_instance_of_the_schema()
    {
        var schema = BinaryData.FromString(
            """{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":["name","age","tags"],"additionalProperties":false}""");
        var options = new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", schema, jsonSchemaIsStrict: true) };

        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage("Invent a person.")], options);

        using var parsed = JsonDocument.Parse(completion.Content[0].Text);
        Assert.Equal(JsonValueKind.String, parsed.RootElement.GetProperty("name").ValueKind);
        Assert.True(parsed.RootElement.GetProperty("age").TryGetInt64(out _));
        Assert.Equal(JsonValueKind.Array, parsed.RootElement.GetProperty("tags").ValueKind);
    }

    [Fact]
    public async Task Log_probabilities_come_per_output_token_with_the_top_alternatives_asked_for()
    {
        var options = new ChatCompletionOptions { IncludeLogProbabilities = true, TopLogProbabilityCount = 3, MaxOutputTokenCount = 6 };

        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage("Hello")], options);

        Assert.Equal(completion.Usage.OutputTokenCount, completion.ContentTokenLogProbabilities.Count);
        Assert.Equal(completion.Content[0].Text, string.Concat(completion.ContentTokenLogProbabilities.Select(p => p.Token)));
        Assert.All(completion.ContentTokenLogProbabilities, p =>
        {
            Assert.True(p.LogProbability <= 0);
            Assert.Equal(3, p.TopLogProbabilities.Count);
        });
    }

    [Fact]
    public async Task Embeddings_come_back_in_the_sdks_default_encoding_with_the_dimensions_asked_for()
    {
        var client = new EmbeddingClient("mock-embed", new ApiKeyCredential(Key), Options());

        OpenAIEmbeddingCollection embeddings = await client.GenerateEmbeddingsAsync(["one", "two"], new EmbeddingGenerationOptions { Dimensions = 16 });

        Assert.Equal([0, 1], embeddings.Select(e => e.Index));
        Assert.All(embeddings, e => Assert.Equal(16, e.ToFloats().Length));
        Assert.True(embeddings.Usage.InputTokenCount > 0);
    }

    [Fact]
    public async Task Models_list_and_retrieve_what_the_tenant_may_call_and_an_unknown_model_is_the_sdks_404()
    {
        var client = new OpenAIModelClient(new ApiKeyCredential(Key), Options());

        OpenAIModelCollection models = await client.GetModelsAsync();
        OpenAIModel fast = await client.GetModelAsync("mock-fast");
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => client.GetModelAsync("no-such-model"));

        Assert.Contains("mock-fast", models.Select(m => m.Id));
        Assert.Equal("mock-fast", fast.Id);
        Assert.Equal(404, missing.Status);
    }

    [Fact]
    public async Task Bad_parameters_are_the_sdks_400_naming_the_parameter()
    {
        var tooHot = await Assert.ThrowsAsync<ClientResultException>(() => Chat().CompleteChatAsync(
            [new UserChatMessage("hi")], new ChatCompletionOptions { Temperature = 3.5f }));
        var wrongKind = await Assert.ThrowsAsync<ClientResultException>(() => Chat("mock-embed").CompleteChatAsync([new UserChatMessage("hi")]));
        var badKey = await Assert.ThrowsAsync<ClientResultException>(() =>
            new ChatClient("mock-fast", new ApiKeyCredential("sk-wrong"), Options()).CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(400, tooHot.Status);
        Assert.Contains("temperature", ErrorOf(tooHot), StringComparison.Ordinal);
        Assert.Equal(400, wrongKind.Status);
        Assert.Equal(401, badKey.Status);
    }

    private async Task<string> StreamedTextAsync(List<ChatMessage> messages, ChatCompletionOptions options)
    {
        var text = new StringBuilder();
        await foreach (var update in Chat().CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        return text.ToString();
    }

    /// <summary>The error envelope's <c>param</c> and message, as the SDK's exception carries the raw response.</summary>
    private static string ErrorOf(ClientResultException exception) =>
        exception.GetRawResponse()?.Content.ToString() ?? exception.Message;
}
