using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Wire;
using RelayCluster.Core.Wire.Prompts;
using RelayCluster.Upstreams.Simulator;
using Xunit.Abstractions;

namespace RelayCluster.Tests.Wire;

/// <summary>
/// The reservation's prompt bound against what OpenAI bills (computed as OpenAI documents it, with the real
/// tokenizer: <see cref="OpenAiPromptBilling"/>): never below it, and for text within a few percent of it.
/// </summary>
public sealed class PromptBoundTests(ITestOutputHelper output)
{
    private static readonly string[] Samples =
    [
        "Hello!",
        "Summarise the following paragraph in two sentences: The quick brown fox jumps over the lazy dog. " +
            "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
        "public static int Fib(int n) => n < 2 ? n : Fib(n - 1) + Fib(n - 2); // explain this C# line and its complexity",
        "请用中文解释量子纠缠，并举一个日常生活中的比喻。东京は日本の首都です。",
        "🙂🚀✨ emoji-heavy text 🎉🎉🎉 with ümlauts, naïve café résumé, and numbers 3.14159 2718281828 1e-9",
        "{\"a\":[1,2,3],\"b\":{\"c\":\"d\"},\"e\":null,\"f\":true} -- JSON inside a prompt, with <html><body>tags</body></html>",
        string.Join(' ', Enumerable.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.", 200)),
        "!!!!!!!!!!.....,,,,,;;;;;;;;:::::::::???????''''''\"\"\"\"\"\" 0 0 0 0 1 1 1 a a a b b b \t\t\t\n\n\n",
    ];

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("gpt-4")]
    public void The_text_bound_is_above_the_billed_count_and_close_to_it(string model)
    {
        var profile = PromptProfile.For(model);
        var worst = 0.0;
        foreach (var sample in Samples)
        {
            var body = new JsonObject
            {
                ["model"] = model,
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "system", ["content"] = "You are a helpful assistant." },
                    new JsonObject { ["role"] = "user", ["name"] = "ada", ["content"] = sample }),
            };
            var billed = OpenAiPromptBilling.PromptTokens(body)!.Value;
            var bound = Parse(body).Prompt.WorstCaseTokensOn(profile);
            var ratio = (double)bound / billed;
            worst = Math.Max(worst, ratio);
            output.WriteLine($"{model}: billed {billed,6}  bound {bound,6}  ratio {ratio:F3}  (size estimate {Parse(body).Prompt.WorstCaseTokens})");
            Assert.InRange(bound, billed, (long)(billed * 1.03) + 16);
        }

        output.WriteLine($"{model}: worst ratio {worst:F3}");
    }

    [Fact]
    public void Tools_tool_calls_and_the_response_schema_are_counted()
    {
        var body = (JsonObject)JsonNode.Parse("""
            {"model":"gpt-4o","messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"}],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
             "response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object","properties":{"answer":{"type":"string"}}}}}}
            """)!;
        var bound = Parse(body).Prompt.WorstCaseTokensOn(PromptProfile.For("gpt-4o"));
        Assert.True(bound >= OpenAiPromptBilling.PromptTokens(body)! + 20, $"bound {bound}"); // the schema is counted too
    }

    [Fact]
    public void Images_are_bounded_by_detail_size_and_the_models_worst_case()
    {
        var mini = PromptProfile.For("gpt-4o-mini");
        var gpt4o = PromptProfile.For("gpt-4o");

        // OpenAI's documented examples (gpt-4o): 1024² high is 765, 2048 × 4096 high is 1,105, low is 85.
        Assert.Equal(765, gpt4o.HighDetailImage(1024, 1024));
        Assert.Equal(1105, gpt4o.HighDetailImage(2048, 4096));
        Assert.Equal(85, gpt4o.ImageTokensLow);
        // gpt-4o-mini bills 2,833 + 5,667 a tile: a 768² image is 25,501, the largest (8 tiles) 48,169.
        Assert.InRange(mini.HighDetailImage(768, 768), 25_501, 25_600);
        Assert.InRange(mini.HighDetailImage(1000, 2048), 48_169, 52_000);
        Assert.True(mini.ImageTokensMax >= 48_169 && mini.ImageTokensLow >= 2833);
        // The patch models: at most 1,536 patches times the multiplier; detail changes nothing.
        Assert.True(PromptProfile.For("gpt-4.1-nano").ImageTokensMax >= 1536 * 2.46 && PromptProfile.For("gpt-4.1-nano").ImageTokensLow is null);
        // Another provider's model: every image at its worst case, whatever the detail or size.
        Assert.Equal((PromptTokenizer.Bytes, (int?)null, 1600), (PromptProfile.For("claude-sonnet-4").Tokenizer, PromptProfile.For("claude-sonnet-4").ImageTokensLow, PromptProfile.For("claude-sonnet-4").HighDetailImage(100, 100)));
    }

    [Fact]
    public void Image_sizes_come_from_the_data_url_header()
    {
        static (int, int) Size(byte[] bytes) => MediaHeaders.ImageSize(MediaHeaders.DataUrlPayload(MediaSamples.DataUrl("image/x", bytes)));
        Assert.Equal((768, 512), Size(MediaSamples.Png(768, 512)));
        Assert.Equal((300, 200), Size(MediaSamples.Gif(300, 200)));
        Assert.Equal((800, 600), Size(MediaSamples.Jpeg(800, 600)));
        Assert.Equal((4000, 3000), Size(MediaSamples.Jpeg(4000, 3000, app0Bytes: 60_000))); // the size marker after a large block
        Assert.Equal((1000, 500), Size(MediaSamples.WebPExtended(1000, 500)));
        Assert.Equal((0, 0), Size([1, 2, 3, 4, 5]));
        Assert.Equal((0, 0), MediaHeaders.ImageSize(MediaHeaders.DataUrlPayload("https://example.com/cat.png")));
        Assert.Equal((0, 0), MediaHeaders.ImageSize(MediaHeaders.DataUrlPayload("data:image/png;base64,%%%not base64%%%")));
    }

    [Fact]
    public void Parts_other_than_text_count_by_kind()
    {
        var wav = MediaSamples.DataUrl("audio/wav", MediaSamples.Wav(10, 32_000)).Split(',')[1];
        var mp3 = Convert.ToBase64String(new byte[16_000]);
        var body = new JsonObject
        {
            ["model"] = "gpt-4o-mini",
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "hi" },
                    new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = MediaSamples.DataUrl("image/png", MediaSamples.Png(768, 768)) } },
                    new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "https://example.com/cat.png", ["detail"] = "low" } },
                    new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = "https://example.com/dog.png", ["detail"] = "high" } },
                    new JsonObject { ["type"] = "input_audio", ["input_audio"] = new JsonObject { ["data"] = wav, ["format"] = "wav" } },
                    new JsonObject { ["type"] = "input_audio", ["input_audio"] = new JsonObject { ["data"] = mp3, ["format"] = "mp3" } },
                    new JsonObject { ["type"] = "file", ["file"] = new JsonObject { ["file_id"] = "file-abc" } }),
            }),
        };
        var content = Parse(body).Prompt.Content!;
        Assert.Equal([new PromptImage(false, 768, 768), new PromptImage(true, 0, 0), new PromptImage(false, 0, 0)], content.Images);
        Assert.Equal((2, 11L + 17L, 1), (content.AudioParts, content.AudioSeconds, content.Files)); // 10 s of WAV; 16 kB at 8 kbit/s
        var mini = PromptProfile.For("gpt-4o-mini");
        var media = mini.HighDetailImage(768, 768) + mini.ImageTokensLow!.Value + mini.ImageTokensMax + (28 * 32) + (2 * 16) + mini.FileTokensMax;
        Assert.Equal(media, content.MediaTokens(mini));
        Assert.True(Parse(body).Prompt.WorstCaseTokensOn(mini) > media);
    }

    [Fact]
    public void A_predicted_output_may_come_back_as_output_and_is_bounded()
    {
        var predicted = "public class Dog { public string Name { get; set; } public int Age { get; set; } }";
        var body = (JsonObject)JsonNode.Parse($$$"""{"model":"gpt-4o","messages":[{"role":"user","content":"rename Age to Years"}],"prediction":{"type":"content","content":"{{{predicted}}}"}}""")!;
        var exact = PromptTokenizers.Get(PromptTokenizer.O200kBase)!.CountTokens(predicted);
        Assert.InRange(Parse(body).Prompt.Content!.PredictionTokens(PromptTokenizer.O200kBase), exact, exact + 10);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(predicted) + 8 + 1, Parse(body).Prompt.Content!.PredictionTokens(PromptTokenizer.Bytes));
        body.Remove("prediction");
        Assert.Equal(0, Parse(body).Prompt.Content!.PredictionTokens(PromptTokenizer.O200kBase));
    }

    [Fact]
    public void Embeddings_are_counted_in_the_embedding_models_encoding()
    {
        var text = "The food was delicious and the waiter was very friendly.";
        var (request, _) = RequestParser.Parse(RelayOperation.Embeddings, Encoding.UTF8.GetBytes(new JsonObject { ["model"] = "e", ["input"] = new JsonArray(text, text) }.ToJsonString()));
        var exact = 2 * PromptTokenizers.Get(PromptTokenizer.Cl100kBase)!.CountTokens(text);
        Assert.InRange(request!.Prompt.WorstCaseTokensOn(PromptProfile.For("text-embedding-3-small")), exact, exact + 40);
    }

    [Fact]
    public void A_models_configuration_overrides_the_defaults()
    {
        var route = ModelRoute.From("vision", new Core.Configuration.ModelOptions
        {
            Provider = "p", UpstreamModel = "my-vlm", Tokenizer = "o200k_base", ImageTokenMultiplier = 2, ImageTokensMax = 5000, FileTokensMax = 9, AudioTokensPerSecond = 7,
        });
        Assert.Equal((PromptTokenizer.O200kBase, 5000, 9L, 7), (route.Prompt.Tokenizer, route.Prompt.ImageTokensMax, route.Prompt.FileTokensMax, route.Prompt.AudioTokensPerSecond));
        Assert.Equal(PromptTokenizer.O200kBase, ModelRoute.From("gpt-4o-mini", new Core.Configuration.ModelOptions { Provider = "p" }).Prompt.Tokenizer);
    }

    [Fact]
    public void The_text_is_counted_once_per_encoding_and_the_cost_is_reported()
    {
        var text = string.Join(' ', Enumerable.Repeat(Samples[1], 20));
        var body = new JsonObject { ["model"] = "gpt-4o", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }) };
        var o200k = PromptTokenizers.Get(PromptTokenizer.O200kBase)!;
        o200k.CountTokens("warm up");
        var prompt = Parse(body).Prompt;
        var first = System.Diagnostics.Stopwatch.StartNew();
        var bound = prompt.WorstCaseTokensOn(PromptProfile.For("gpt-4o"));
        first.Stop();
        var again = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal(bound, prompt.WorstCaseTokensOn(PromptProfile.For("gpt-4o-mini")));
        }

        again.Stop();
        var cl100k = PromptTokenizers.Get(PromptTokenizer.Cl100kBase)!;
        Assert.Equal(o200k.CountTokens(text) + o200k.CountTokens("user"), prompt.Content!.TextTokens(PromptTokenizer.O200kBase));
        Assert.Equal(cl100k.CountTokens(text) + cl100k.CountTokens("user"), prompt.Content.TextTokens(PromptTokenizer.Cl100kBase));
        var warm = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
        {
            o200k.CountTokens(text + i);
        }

        warm.Stop();
        output.WriteLine($"{Encoding.UTF8.GetByteCount(text)} bytes, {o200k.CountTokens(text)} tokens: counted in {first.Elapsed.TotalMicroseconds:F0} µs "
            + $"(first request), {warm.Elapsed.TotalMicroseconds / 20:F0} µs warm; "
            + $"1000 more bounds on the same encoding {again.Elapsed.TotalMicroseconds:F0} µs");
    }

    private static RelayRequest Parse(JsonObject body)
    {
        var (request, error) = RequestParser.Parse(RelayOperation.ChatCompletions, Encoding.UTF8.GetBytes(body.ToJsonString()));
        Assert.Null(error);
        return request!;
    }
}
