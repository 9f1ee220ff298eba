using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Silo.Http;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Host;

/// <summary>Invented keys cannot grow the silo's key cache: misses are bounded, known keys keep working.</summary>
public sealed class KeyCacheTests
{
    [Fact]
    public async Task Ten_thousand_random_keys_leave_the_key_cache_bounded()
    {
        const string Key = "sk-cache-known-key";
        using var host = new RelayHost(RelayHost.SimulatorSettings(("Relay:Tenants:t1:Keys:0", Key)));
        var cache = host.Services.GetRequiredService<TenantCache>();
        const int Keys = 10_000;
        const int Senders = 8;

        var statuses = await Task.WhenAll(Enumerable.Range(0, Senders).Select(async _ =>
        {
            using var client = host.CreateClient();
            var seen = new HashSet<HttpStatusCode>();
            for (var i = 0; i < Keys / Senders; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
                request.Headers.Authorization = new("Bearer", "sk-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
                using var response = await client.SendAsync(request);
                seen.Add(response.StatusCode);
            }

            return seen;
        }));

        Assert.Equal([HttpStatusCode.Unauthorized], statuses.SelectMany(s => s).Distinct());
        Assert.InRange(cache.Count, 1, TenantCache.MaxMisses + Senders);

        // The known key is unaffected, and answered from the cache from then on.
        using var known = host.ClientFor(Key);
        Assert.Equal(HttpStatusCode.OK, (await known.GetAsync("/v1/models")).StatusCode);
        Assert.InRange(cache.Count, 1, TenantCache.MaxMisses + Senders + 1);
    }
}
