using System.Net;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;
using RelayCluster.Tests.Wire;

namespace RelayCluster.Tests.Routing;

/// <summary>
/// The case: a model priced $0.15/$0.60 per million tokens whose upstream bills images as OpenAI bills
/// gpt-4o-mini (2,833 + 5,667 tokens a tile: 25,501 for a 768² image at high detail). The simulator answers as
/// <c>gpt-4o-mini</c> and bills exactly that; the reservation must cover it, so no budget is ever overrun, one
/// request at a time or eight at once.
/// </summary>
public sealed class ImageBudgetTests
{
    private const string Key = "sk-vision";

    private static RelayHost Host(string budgetUsd, string? upstreamBaseUrl = null) => new(RelayHost.SimulatorSettings(
        ("Relay:Providers:remote:Type", "openai"),
        ("Relay:Providers:remote:BaseUrl", upstreamBaseUrl ?? "http://127.0.0.1:9/v1"),
        ("Relay:Providers:remote:ApiKey", "k"),
        ("Relay:Models:vision-mini:Provider", upstreamBaseUrl is null ? "sim" : "remote"),
        ("Relay:Models:vision-mini:UpstreamModel", "gpt-4o-mini"),
        ("Relay:Models:vision-mini:InputPerMTok", "0.15"),
        ("Relay:Models:vision-mini:OutputPerMTok", "0.60"),
        ("Relay:Tenants:t1:Keys:0", Key),
        ("Relay:Tenants:t1:MonthlyBudgetUsd", budgetUsd),
        ("Relay:Tenants:t1:PauseThreshold", "0"))); // the budget's own refusal is the subject, not the auto-pause before it

    private static string Body(string imageUrl, string detail = "high") => new JsonObject
    {
        ["model"] = "vision-mini",
        ["max_tokens"] = 100,
        ["messages"] = new JsonArray(new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(
                new JsonObject { ["type"] = "text", ["text"] = "What is in this image?" },
                new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = imageUrl, ["detail"] = detail } }),
        }),
    }.ToJsonString();

    private static readonly string Png768 = MediaSamples.DataUrl("image/png", MediaSamples.Png(768, 768));

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public async Task A_budget_below_one_images_cost_admits_nothing(int parallel)
    {
        using var host = Host("0.002");
        using var client = host.ClientFor(Key);
        var statuses = await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
        {
            using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(Body(Png768)));
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
        Assert.Equal(0, (long)(await host.WaitForIdleAsync("t1"))["spent_nanos"]!);
    }

    [Theory]
    [InlineData(1, "data")]
    [InlineData(8, "data")]
    [InlineData(8, "url")]
    [InlineData(8, "low")]
    [InlineData(8, "data-via-mock-upstream")]
    public async Task Spend_stays_within_the_budget_whatever_the_image(int parallel, string image)
    {
        const long budgetNanos = 10_000_000;
        await using var mockUpstream = image.EndsWith("-via-mock-upstream", StringComparison.Ordinal) ? await MockUpstreamHost.StartAsync("--api-key", "k") : null;
        using var host = Host("0.01", mockUpstream?.BaseUrl);
        using var client = host.ClientFor(Key);
        var body = image switch
        {
            "data" or "data-via-mock-upstream" => Body(Png768),
            "low" => Body("https://example.invalid/cat.png", "low"),
            _ => Body("https://example.invalid/cat.png"), // size unknown: the simulator bills the largest (8 tiles, 48,169)
        };

        // Rounds of parallel requests until the budget refuses them all: every one either fits or is refused.
        var served = 0;
        for (var round = 0; round < 20; round++)
        {
            var statuses = await Task.WhenAll(Enumerable.Range(0, parallel).Select(async _ =>
            {
                using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body));
                await response.Content.ReadAsStringAsync();
                return response.StatusCode;
            }));
            Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"status {s}"));
            served += statuses.Count(s => s == HttpStatusCode.OK);
            if (statuses.All(s => s != HttpStatusCode.OK))
            {
                break;
            }
        }

        var quota = await host.WaitForIdleAsync("t1");
        var spent = (long)quota["spent_nanos"]!;
        var usage = await host.UsageAsync("t1");
        var billedPrompt = (long)usage["prompt_tokens"]!;
        Assert.True(served >= 1, "at least one request fits the budget");
        Assert.True(spent <= budgetNanos, $"spent {spent} nano-USD of a {budgetNanos} budget ({served} served)");
        // The upstream really billed the image as gpt-4o-mini does (so the bound above is tested, not vacuous).
        var perImage = image switch { "data" or "data-via-mock-upstream" => 25_501, "low" => 2833, _ => 48_169 };
        Assert.True(billedPrompt >= served * perImage, $"billed {billedPrompt} prompt tokens for {served} requests");
        // And the reservation is tight enough to serve what the budget allows: no more than one request's worth is left.
        var perRequest = (billedPrompt / served * 150) + (100 * 600);
        Assert.True(budgetNanos - spent < 2 * perRequest, $"spent {spent} of {budgetNanos}: the reservation is far too high");
    }
}
