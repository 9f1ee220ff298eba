using RelayCluster.Core.Metering;
using RelayCluster.Core.Metering.Reports;

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

    /// <summary>
    /// One HGETALL of the month's hash, read into slices (the <c>s:lane:counter:model</c> fields). The purge renames a
    /// deleted tenant's hash away, so the id's hash is the current tenant's and the incarnation is not needed.
    /// </summary>
    public async Task<IReadOnlyList<UsageSlice>> GetSlicesAsync(string tenantId, string incarnation, string month)
    {
        var slices = new Dictionary<(string Model, string Lane), UsageCounts>();
        var entries = await redis.HashGetAllAsync(RedisTenantKeys.Usage(tenantId, month));
        foreach (var entry in entries)
        {
            if (!RedisUsageFields.TryParse(entry.Name!, out var lane, out var counter, out var model) || !entry.Value.TryParse(out long amount))
            {
                continue;
            }

            if (!slices.TryGetValue((model, lane), out var counts))
            {
                slices[(model, lane)] = counts = new UsageCounts();
            }

            switch (counter)
            {
                case RedisUsageFields.Requests: counts.Requests = amount; break;
                case RedisUsageFields.Streamed: counts.StreamedRequests = amount; break;
                case RedisUsageFields.Prompt: counts.PromptTokens = amount; break;
                case RedisUsageFields.Completion: counts.CompletionTokens = amount; break;
                case RedisUsageFields.Cached: counts.CachedTokens = amount; break;
                case RedisUsageFields.Cost: counts.CostNanos = amount; break;
                default:
                    if (counter.StartsWith(RedisUsageFields.EndingPrefix, StringComparison.Ordinal))
                    {
                        counts.AddEnding(counter[RedisUsageFields.EndingPrefix.Length..], amount);
                    }

                    break;
            }
        }

        AddUnsliced(slices, entries);
        return [.. slices.Select(s => new UsageSlice(s.Key.Model, s.Key.Lane, s.Value))];
    }

    /// <summary>
    /// One HGETALL of the month's hash, its <c>d:DD:counter</c> fields (<see cref="RedisDayFields"/>) read into days. Days
    /// of a month begun before the hash kept days read as zeros (the month's totals stay whole in <c>/usage</c>).
    /// </summary>
    public async Task<IReadOnlyList<UsageDay>> GetDaysAsync(string tenantId, string incarnation, string month)
    {
        var counters = new long[UsageDays.MaxDays * UsageDays.Counters];
        foreach (var entry in await redis.HashGetAllAsync(RedisTenantKeys.Usage(tenantId, month)))
        {
            if (RedisDayFields.TryParse(entry.Name!, out var day, out var counter) && entry.Value.TryParse(out long amount))
            {
                counters[(day - 1) * UsageDays.Counters + counter] = amount;
            }
        }

        return UsageDays.Read(month, counters);
    }

    /// <summary>
    /// One XREVRANGE of the tenant's ledger stream (<c>{t:id}:ledger</c>, written by the same commit that books the usage,
    /// capped at about <see cref="RedisTenantJournal.LedgerLength"/> entries): <paramref name="limit"/> + 1 entries, so the
    /// work is bounded by the page, and the key is the tenant's own (the purge renames a deleted tenant's stream away).
    /// </summary>
    public async Task<RecentUsage> GetRecentAsync(string tenantId, string incarnation, int limit)
    {
        var entries = await redis.StreamNewestAsync(RedisTenantKeys.Of(tenantId).Ledger, limit + 1);
        var records = new List<string>(Math.Min(limit, entries.Length));
        foreach (var entry in entries.Take(limit))
        {
            if (entry["r"] is { IsNull: false } json)
            {
                records.Add(json!);
            }
        }

        return new RecentUsage(records, entries.Length > limit);
    }

    /// <summary>
    /// Usage booked before the hash kept slices (a month that began before the upgrade) is only in the summary's
    /// per-model fields (<c>m:model:requests|prompt|completion|cost</c>): what those hold beyond the slices is counted as
    /// interactive, so requests, tokens and cost stay whole; its streaming, cached tokens and endings were never kept.
    /// </summary>
    private static void AddUnsliced(Dictionary<(string Model, string Lane), UsageCounts> slices, StackExchange.Redis.HashEntry[] entries)
    {
        var byModel = new Dictionary<string, UsageCounts>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var name = (string)entry.Name!;
            if (!name.StartsWith("m:", StringComparison.Ordinal) || name.LastIndexOf(':') is var colon && colon <= 2 || !entry.Value.TryParse(out long amount))
            {
                continue;
            }

            var model = name[2..colon];
            if (!byModel.TryGetValue(model, out var counts))
            {
                byModel[model] = counts = new UsageCounts();
            }

            switch (name[(colon + 1)..])
            {
                case "requests": counts.Requests = amount; break;
                case "prompt": counts.PromptTokens = amount; break;
                case "completion": counts.CompletionTokens = amount; break;
                case "cost": counts.CostNanos = amount; break;
            }
        }

        foreach (var (model, whole) in byModel)
        {
            var sliced = slices.Where(s => s.Key.Model == model).Select(s => s.Value).ToList();
            var rest = new UsageCounts
            {
                Requests = whole.Requests - sliced.Sum(c => c.Requests),
                PromptTokens = whole.PromptTokens - sliced.Sum(c => c.PromptTokens),
                CompletionTokens = whole.CompletionTokens - sliced.Sum(c => c.CompletionTokens),
                CostNanos = whole.CostNanos - sliced.Sum(c => c.CostNanos),
            };
            if (rest.Requests <= 0)
            {
                continue;
            }

            if (!slices.TryGetValue((model, UsageLanes.Interactive), out var interactive))
            {
                slices[(model, UsageLanes.Interactive)] = interactive = new UsageCounts();
            }

            interactive.Add(rest);
        }
    }
}
