using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using RelayCluster.Core.Wire;
using RelayCluster.Core.Wire.Prompts;
using RelayCluster.Upstreams.Simulator;
using Xunit.Abstractions;

namespace RelayCluster.Tests.Wire;

/// <summary>
/// Inputs a reviewer found that made the reservation's prompt bound fall below what the provider bills, and the
/// cost of counting the largest prompt a body may hold.
/// </summary>
public sealed class PromptBoundReviewTests(ITestOutputHelper output)
{
    /// <summary>
    /// A part is what its <c>type</c> says: an <c>image_url</c> part that also carries a stray <c>text</c> field is an
    /// image to the provider (which dispatches on <c>type</c>), so it must be reserved as one, and a <c>text</c> part
    /// with a stray <c>image_url</c> is text.
    /// </summary>
    [Fact]
    public void A_parts_type_decides_what_it_costs_not_its_stray_fields()
    {
        var body = (JsonObject)JsonNode.Parse("""
            {"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":[
              {"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"high"},"text":"hi"},
              {"type":"input_audio","input_audio":{"data":"AAAA","format":"mp3"},"refusal":"no"},
              {"type":"file","file":{"file_id":"file-1"},"text":"x"},
              {"type":"text","text":"hello","image_url":{"url":"https://example.com/dog.png"}}]}]}
            """)!;
        var content = Parse(body).Prompt.Content!;
        Assert.Equal([new PromptImage(false, 0, 0)], content.Images);
        Assert.Equal((1, 1), (content.AudioParts, content.Files));

        var mini = PromptProfile.For("gpt-4o-mini");
        var bound = Parse(body).Prompt.WorstCaseTokensOn(mini);
        var billed = OpenAiPromptBilling.PromptTokens(body)!.Value;
        Assert.True(bound >= billed, $"bound {bound} < billed {billed}");
    }

    /// <summary>
    /// A decoder takes a PCM WAV's duration from its sample rate, channels and sample size, not from the redundant
    /// byte-rate field: a header whose byte rate overstates them must not shorten the audio's bound.
    /// </summary>
    [Fact]
    public void A_wav_whose_byte_rate_field_overstates_its_format_is_bounded_by_its_format()
    {
        var wav = MediaSamples.Wav(10, 16_000); // 8 kHz, mono, 16-bit: 16,000 bytes a second
        BinaryPrimitives.WriteUInt32LittleEndian(wav.AsSpan(28), 384_000); // the byte-rate field lies
        var body = new JsonObject
        {
            ["model"] = "gpt-4o-audio-preview",
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(new JsonObject
                {
                    ["type"] = "input_audio", ["input_audio"] = new JsonObject { ["data"] = Convert.ToBase64String(wav), ["format"] = "wav" },
                }),
            }),
        };
        Assert.True(Parse(body).Prompt.Content!.AudioSeconds >= 10, $"{Parse(body).Prompt.Content!.AudioSeconds} s");
        Assert.Equal(16_000, MediaHeaders.WavByteRate(Convert.ToBase64String(wav)));
        Assert.Equal(16_000, MediaHeaders.WavByteRate(Convert.ToBase64String(MediaSamples.Wav(1, 16_000))));

        // A header cut short inside its fmt chunk (28 to 31 bytes) is unknown, not an exception (a 500).
        for (var length = 20; length <= 44; length++)
        {
            Assert.InRange(MediaHeaders.WavByteRate(Convert.ToBase64String(MediaSamples.Wav(1, 16_000)[..length])), 0, 16_000);
        }
    }

    /// <summary>
    /// The CPU to count a prompt grows with the square of its longest pre-token (BPE merges one long run of letters
    /// without spaces pair by pair): measured here at sizes that finish, for the figures.
    /// </summary>
    [Fact]
    public void The_cost_of_counting_grows_with_the_longest_word()
    {
        var o200k = PromptTokenizers.Get(PromptTokenizer.O200kBase)!;
        o200k.CountTokens("warm up");
        foreach (var chars in new[] { 8_000, 16_000, 32_000 })
        {
            var random = new Random(13);
            foreach (var (name, text) in new[]
            {
                ("one letter repeated", new string('a', chars)),
                ("random letters, no spaces", new string(Enumerable.Range(0, chars).Select(_ => (char)('a' + random.Next(26))).ToArray())),
                ("English prose", string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", chars / 45))),
            })
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var tokens = o200k.CountTokens(text);
                output.WriteLine($"{chars} chars, {name}: {tokens} tokens in {watch.Elapsed.TotalMilliseconds:F1} ms");
            }
        }
    }

    /// <summary>
    /// A 4 MB body of one word (or of one whitespace run) must not take the relay's CPU for minutes before admission
    /// (o200k's own count of 4 MB of letters without a space ran over 12 CPU-minutes without finishing); the bound
    /// stays at least the exact count.
    /// </summary>
    [Fact]
    public void Counting_a_4_MB_single_word_prompt_takes_bounded_time()
    {
        var o200k = PromptTokenizers.Get(PromptTokenizer.O200kBase)!;
        var random = new Random(13);
        foreach (var (name, text) in new[]
        {
            ("4 MB of one letter", new string('a', 4_000_000)),
            ("4 MB of random letters", new string(Enumerable.Range(0, 4_000_000).Select(_ => (char)('a' + random.Next(26))).ToArray())),
            ("4 MB of newlines", new string('\n', 4_000_000)),
            ("4 MB of 1,000-letter words", string.Concat(Enumerable.Repeat(new string('b', 1000) + " ", 4000))),
        })
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var bound = PromptTokenizers.CountAtLeast(o200k, text);
            output.WriteLine($"{name}: bound {bound} tokens in {watch.Elapsed.TotalMilliseconds:F0} ms");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"{name}: {watch.Elapsed}");
        }

        // Around and between long runs the bound is at least the exact count.
        foreach (var chars in new[] { 999, 1001, 3000 })
        {
            var text = "Say hello to " + new string('x', chars) + " and then " + new string('\n', chars) + "goodbye, " + new string('é', chars) + "!";
            Assert.InRange(PromptTokenizers.CountAtLeast(o200k, text), o200k.CountTokens(text), long.MaxValue);
        }
    }

    /// <summary>
    /// Without a known tokenizer (another provider's model) the text was bounded at two bytes a token; a byte-level BPE
    /// (Llama 3, o200k as a stand-in here) splits digits and punctuation apart, one token a byte (4,000 tokens against a bound of 2,009).
    /// </summary>
    [Fact]
    public void The_size_only_bound_holds_for_text_of_one_token_a_byte()
    {
        var text = string.Concat(Enumerable.Range(0, 2000).Select(i => $"{i % 10}{"!@#$%^&*()"[i % 10]}"));
        var body = new JsonObject { ["model"] = "claude-x", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }) };
        var bound = Parse(body).Prompt.WorstCaseTokensOn(PromptProfile.For("claude-x"));
        var o200k = PromptTokenizers.Get(PromptTokenizer.O200kBase)!.CountTokens(text);
        output.WriteLine($"{text.Length} bytes: o200k {o200k} tokens, size-only bound {bound}");
        Assert.True(bound >= o200k, $"bound {bound} < {o200k}");
    }

    /// <summary>
    /// Both output caps go upstream as sent; a server that knows only <c>max_tokens</c> (llama.cpp, older vLLM) honours
    /// the larger one the caller sent there, so the reservation holds the larger of the two.
    /// </summary>
    [Fact]
    public void With_both_output_caps_the_reservation_holds_the_larger()
    {
        var body = (JsonObject)JsonNode.Parse("""{"model":"m","n":2,"max_completion_tokens":10,"max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}""")!;
        var request = Parse(body);
        Assert.Equal(2000, request.OutputBound(50));
        Assert.Equal(10, request.MaxOutputTokens); // the cap a provider that translates (Anthropic) is given stays max_completion_tokens
        body.Remove("max_tokens");
        Assert.Equal(20, Parse(body).OutputBound(50));
        body.Remove("max_completion_tokens");
        Assert.Equal(100, Parse(body).OutputBound(50));
    }

    private static RelayRequest Parse(JsonObject body)
    {
        var (request, error) = RequestParser.Parse(RelayOperation.ChatCompletions, Encoding.UTF8.GetBytes(body.ToJsonString()));
        Assert.Null(error);
        return request!;
    }
}
