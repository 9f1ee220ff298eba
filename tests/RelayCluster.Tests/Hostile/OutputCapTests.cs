using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Hostile;

/// <summary>
/// Output caps and choice counts that once overflowed the worst-case arithmetic (max_tokens 2^57 × n 128 wrapped to
/// −134,217,728 tokens and a −$147.64 reservation that let a $0.0001 budget be overrun): each is a 400 naming the
/// parameter, and the tenant's quota is untouched afterwards. Run on both stores.
/// </summary>
public abstract class OutputCapContract
{
    protected const string Key = "sk-output-cap-key-7f3a9c2e5b1d";

    protected static (string Key, string? Value)[] TenantSettings =>
    [
        ("Relay:Tenants:tiny:Keys:0", Key),
        ("Relay:Tenants:tiny:MonthlyBudgetUsd", "0.01"),
        ("Relay:Tenants:tiny:TokensPerMinute", "1000000"),
        ("Relay:Models:mock-fast:MaxOutputTokens", "1000"),
        ("Relay:Models:mock-fast:DefaultMaxOutputTokens", "500"),
    ];

    protected abstract RelayHost Relay { get; }

    public static TheoryData<string, string, string> Refused => new()
    {
        { "\"max_tokens\":144115188074823680,\"n\":128", "max_tokens", "max_tokens is too large: 144115188074823680. This model supports at most 1000 completion tokens" },
        { "\"max_tokens\":9223372036854775807", "max_tokens", "max_tokens is too large: 9223372036854775807." },
        { "\"max_completion_tokens\":9223372036854775808", "max_completion_tokens", "Invalid 'max_completion_tokens': integer above maximum value. Expected a value <= 9223372036854775807, but got 9223372036854775808 instead." },
        { "\"max_completion_tokens\":1001", "max_completion_tokens", "max_completion_tokens is too large: 1001. This model supports at most 1000" },
        { "\"max_completion_tokens\":10,\"max_tokens\":1001", "max_tokens", "max_tokens is too large: 1001." },
        { "\"max_tokens\":1e30", "max_tokens", "Invalid type for 'max_tokens'" },
        { "\"max_tokens\":-9223372036854775808", "max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -9223372036854775808 instead." },
        { "\"max_tokens\":10,\"n\":129", "n", "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead." },
        { "\"max_tokens\":10,\"n\":0", "n", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead." },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task An_out_of_range_cap_is_a_400_naming_it_and_reserves_nothing(string fields, string param, string message)
    {
        using var client = Relay.ClientFor(Key);
        var body = """{"model":"mock-fast","messages":[{"role":"user","content":"overflow me"}],""" + fields + "}";

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        Assert.Contains(message, (string)error["message"]!, StringComparison.Ordinal);
        var quota = await Relay.QuotaAsync("tiny");
        Assert.Equal(0, (long)quota["requests_in_window"]!);
        Assert.Equal(0, (long)quota["tokens_in_window"]!);
        Assert.Equal(0, (long)quota["reserved_nanos"]!);
        Assert.Equal(0, (int)quota["in_flight"]!);
    }

    [Fact]
    public async Task The_limit_itself_is_served_and_stops_at_the_cap()
    {
        using var client = Relay.ClientFor(Key);
        var body = """{"model":"mock-fast","max_tokens":1000,"messages":[{"role":"user","content":"at the limit [[sim tokens=5000]]"}]}""";

        using var response = await client.PostAsync("/v1/chat/completions", RelayHost.Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var completion = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("length", (string?)completion["choices"]![0]!["finish_reason"]);
        Assert.Equal(1000, (long)completion["usage"]!["completion_tokens"]!);
        var quota = await Relay.WaitForIdleAsync("tiny");
        Assert.InRange((long)quota["spent_nanos"]!, 1_100_000, 10_000_000); // 1000 tokens at 1.10 $/MTok, within the $0.01 budget
    }

    [Fact]
    public async Task Embeddings_dimensions_are_bounded()
    {
        using var client = Relay.ClientFor(Key);
        using var response = await client.PostAsync("/v1/embeddings", RelayHost.Json("""{"model":"mock-embed","input":"x","dimensions":1000000}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("dimensions", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["param"]);
    }
}

public sealed class OutputCapTests : OutputCapContract, IDisposable
{
    private readonly RelayHost _host = new(RelayHost.SimulatorSettings(TenantSettings));

    protected override RelayHost Relay => _host;

    public void Dispose() => _host.Dispose();
}

public sealed class RedisOutputCapTests : OutputCapContract, IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private RelayHost? _host;

    protected override RelayHost Relay => _host!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        try
        {
            _host = new RelayHost(RelayHost.SimulatorSettings([("Relay:Store", "redis"), ("Relay:Redis", _redis.ConnectionString), .. TenantSettings]));
        }
        catch
        {
            // xunit does not dispose a fixture whose start failed: the server must not outlive the test.
            await _redis.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        _host?.Dispose();
        await _redis.DisposeAsync();
    }
}
