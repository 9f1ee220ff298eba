using System.Net;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>
/// A completion whose upstream reports no usage is billed by the relay's estimate of what it relayed. That estimate
/// (four bytes a token) can be larger than the output cap the reservation held, which once let one request of a
/// tenant with a tiny budget book 813 completion tokens for <c>max_tokens</c> 500 and pass the budget.
/// </summary>
public sealed class EstimatedUsageTests
{
    private const string Key = "sk-estimated-usage-key";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_estimate_never_books_more_output_than_the_cap_nor_passes_the_budget(bool stream)
    {
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ("Relay:Tenants:t1:Keys:0", Key), ("Relay:Tenants:t1:MonthlyBudgetUsd", "0.0006")));
        using var client = host.ClientFor(Key);

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(RelayHost.Chat(
            "[[sim usage=none tokens=500 interval=0]]", stream, new { max_tokens = 500 })));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(text.Length > 4 * 500, "the answer is longer than four bytes a token, so the estimate had to be capped");

        var quota = await host.WaitForIdleAsync("t1");
        var usage = await host.UsageAsync("t1");
        Assert.Equal(500, (long)usage["completion_tokens"]!);
        Assert.InRange((long)quota["spent_nanos"]!, 1, 600_000);
    }
}
