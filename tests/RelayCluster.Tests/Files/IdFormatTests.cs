using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Streams;

namespace RelayCluster.Tests.Files;

/// <summary>Each id format accepts exactly what it mints, and configuration is held to the formats the API checks.</summary>
public sealed class IdFormatTests
{
    [Fact]
    public void Minted_ids_pass_their_own_check_and_nothing_near_them_does()
    {
        var batch = BatchIds.New();
        var stream = StreamIds.New();
        var file = FileIds.New(1_700_000_000_000);
        var key = ApiKeys.Generate(0).Stored.Entry.Id;

        Assert.True(BatchIds.IsValid(batch));
        Assert.True(StreamIds.IsValid(stream));
        Assert.True(StreamIds.IsValid(StreamIds.ForBatch(batch)));
        Assert.True(FileIds.IsValid(file));
        Assert.True(ApiKeyIds.IsValid(key));

        string[] near(string id) => [id + ":chunks", id.ToUpperInvariant(), id[..^1], id + "0", id[..^1] + "*", id[..^1] + "}", " " + id, id + "\0", ""];
        Assert.All(near(batch), id => Assert.False(BatchIds.IsValid(id), id));
        Assert.All(near(stream), id => Assert.False(StreamIds.IsValid(id), id));
        Assert.All(near(key), id => Assert.False(ApiKeyIds.IsValid(id), id));
        Assert.All(near(file), id => Assert.False(FileIds.IsValid(id), id));
        Assert.False(StreamIds.IsValid("batch:" + stream));
        Assert.False(StreamIds.IsValid("batch:" + batch + ":meta"));
    }

    [Theory]
    [InlineData("acme", true)]
    [InlineData("Acme_2-b", true)]
    [InlineData("", false)]
    [InlineData("a}b", false)]
    [InlineData("a:b", false)]
    [InlineData("a b", false)]
    [InlineData("t\u00e9", false)]
    public void Tenant_ids_are_letters_digits_dash_and_underscore(string id, bool valid)
    {
        Assert.Equal(valid, TenantIds.IsValid(id));
        Assert.False(TenantIds.IsValid(new string('a', 65)));
    }

    [Theory]
    [InlineData("gpt-4o-2024-08-06", true)]
    [InlineData("meta-llama/Llama-3.1-8B", true)]
    [InlineData("llama3:8b", true)]
    [InlineData("gpt-4o*", false)]
    [InlineData("{route}", false)]
    [InlineData("a b", false)]
    [InlineData("", false)]
    public void Model_names_refuse_wildcards_braces_and_spaces(string name, bool valid) => Assert.Equal(valid, ModelNames.IsValid(name));

    [Fact]
    public void Configuration_with_a_tenant_id_or_model_name_the_api_could_not_address_does_not_start()
    {
        var options = new RelayOptions
        {
            Providers = { ["sim"] = new ProviderOptions { Type = ProviderTypes.Simulator } },
            Models = { ["bad{model}"] = new ModelOptions { Provider = "sim" }, ["good"] = new ModelOptions { Provider = "sim" } },
            Tenants =
            {
                ["bad tenant"] = new TenantOptions { Keys = ["k1"] },
                ["good"] = new TenantOptions { Keys = ["k2"], MaxFileBytes = 0 },
            },
            Files = { MaxBytesPerTenant = 0 },
        };

        var failures = new RelayOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.Contains("Relay:Tenants:bad tenant", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'bad{model}'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Relay:Tenants:good:MaxFileBytes", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Relay:Files:MaxBytesPerTenant", StringComparison.Ordinal));
        Assert.DoesNotContain(failures, f => f.Contains("'good'", StringComparison.Ordinal));
    }
}
