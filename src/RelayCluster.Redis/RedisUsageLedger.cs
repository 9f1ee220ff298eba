using RelayCluster.Core.Metering;

namespace RelayCluster.Redis;

/// <summary>
/// The cluster's usage totals, as the settle turns keep them (a hash a tenant a month). Records are appended
/// by those turns themselves, in the same atomic step that books the cost, so there is nothing to append here.
/// </summary>
public sealed class RedisUsageLedger(RedisConnection redis) : IUsageReader
{
    public async Task<UsageSummary> GetSummaryAsync(string tenantId, string month)
    {
        var fields = (await redis.HashGetAllAsync(RedisTenantKeys.Usage(tenantId, month)))
            .ToDictionary(e => (string)e.Name!, e => (long)e.Value, StringComparer.Ordinal);
        var byModel = fields.Keys.Where(k => k.StartsWith("m:", StringComparison.Ordinal))
            .Select(k => k[2..k.LastIndexOf(':')]).Distinct()
            .ToDictionary(m => m, m => new ModelUsage(
                fields.GetValueOrDefault($"m:{m}:requests"), fields.GetValueOrDefault($"m:{m}:prompt"),
                fields.GetValueOrDefault($"m:{m}:completion"), fields.GetValueOrDefault($"m:{m}:cost")), StringComparer.Ordinal);
        var byEnding = fields.Where(f => f.Key.StartsWith("e:", StringComparison.Ordinal))
            .ToDictionary(f => f.Key[2..], f => f.Value, StringComparer.Ordinal);
        return new UsageSummary(tenantId, month, fields.GetValueOrDefault("requests"), fields.GetValueOrDefault("prompt"),
            fields.GetValueOrDefault("completion"), fields.GetValueOrDefault("cost"), fields.GetValueOrDefault("estimated"), byModel, byEnding)
        {
            CachedTokens = fields.GetValueOrDefault("cached"),
            ReasoningTokens = fields.GetValueOrDefault("reasoning"),
        };
    }
}
