namespace RelayCluster.Tests.Cli;

/// <summary>
/// What relayctl sends for the <c>--url</c> and keys it is given, and how it ends when the URL is not a relay: a base path
/// is kept (a relay behind a proxy under a prefix), a URL or key it cannot use is a usage error (exit 2), and an answer
/// that is not the relay's JSON is one error line (exit 1), never a stack trace.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class RelayCtlUrlAndKeyTests(CliRelay relay)
{
    [Theory]
    [InlineData("/relay")]
    [InlineData("/relay/")]
    [InlineData("/")]
    public async Task A_base_path_in_the_url_is_kept(string basePath)
    {
        await using var fake = await FakeRelay.StartAsync();
        var run = await relay.RunAsync("batch", "list", "--limit", "5", "--url", fake.Url + basePath);
        Assert.Equal((0, ""), (run.Exit, run.Err));
        Assert.Equal(basePath.TrimEnd('/') + "/admin/batches?limit=5", Assert.Single(fake.Requested));
    }

    [Theory]
    [InlineData("?tenant=x")]
    [InlineData("/relay#top")]
    public async Task A_url_with_a_query_or_fragment_is_a_usage_error(string tail)
    {
        await using var fake = await FakeRelay.StartAsync();
        var run = await relay.RunAsync("tenants", "list", "--url", fake.Url + tail);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("error: --url:", run.Err, StringComparison.Ordinal);
        Assert.Empty(fake.Requested);
    }

    [Theory]
    [InlineData("tenants", "list")]
    [InlineData("tenants", "show", "t1")]
    [InlineData("usage", "report")]
    [InlineData("routes", "show")]
    public async Task A_url_that_answers_html_is_one_error_line_and_exit_1(params string[] command)
    {
        await using var fake = await FakeRelay.StartAsync();
        var run = await relay.RunAsync([.. command, "--url", fake.Url + "/html"]);
        Assert.Equal(1, run.Exit);
        var line = Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains("not JSON", line, StringComparison.Ordinal);
        Assert.Contains(fake.Url + "/html", line, StringComparison.Ordinal);
        Assert.NotEmpty(fake.Requested);
    }

    [Theory]
    [InlineData("")]
    [InlineData("admin-key-with-a-line-break\n")]
    [InlineData("admin\u0000key")]
    public async Task An_empty_or_unsendable_admin_key_is_a_usage_error_and_nothing_is_sent(string key)
    {
        await using var fake = await FakeRelay.StartAsync();
        var run = await relay.RunAsync("tenants", "list", "--url", fake.Url, "--admin-key", key);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("error: ", Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.Contains("admin key", run.Err, StringComparison.Ordinal);
        Assert.Empty(fake.Requested);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk-with-a-line-break\r\n")]
    public async Task An_empty_or_unsendable_api_key_is_a_usage_error(string key)
    {
        var run = await relay.RunAsync("batch", "show", "batch_0123456789abcdef0123456789abcdef", "--api-key", key);
        Assert.Equal(2, run.Exit);
        Assert.Contains("API key", run.Err, StringComparison.Ordinal);
    }
}
